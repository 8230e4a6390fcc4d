/**
 * What `--help` says beyond the options: Examples for every command, and a usage error that
 * points at the help of the command it happened in. Kept beside the commands as a table keyed
 * by the command's path, so a test can check that no command lacks examples.
 */
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  drillbook: [
    'drillbook init --driver postgres --type failover   # a plan and a first drill',
    'drillbook validate drills/',
    'drillbook run drills/orders-db-failover.yaml --json --junit junit.xml',
    'drillbook coverage --plan drills/plan.yaml',
  ],
  validate: ['drillbook validate drills/', 'drillbook validate drills/plan.yaml drills/orders-db-restore.yaml'],
  schema: ['drillbook schema > drillbook.schema.json', 'drillbook schema --kind Scenario'],
  plan: ['drillbook plan drills/orders-db-failover.yaml', 'drillbook plan drills/orders-rds-failover.yaml --offline'],
  run: [
    'drillbook run drills/orders-db-failover.yaml',
    'drillbook run drills/orders-db-restore.yaml --evidence s3://acme-evidence/drills --sign-key env:DRILLBOOK_SIGNING_KEY',
    'drillbook run drills/orders-db-failover.yaml --json --junit junit.xml > result.json   # CI',
    'drillbook run drills/orders-prod-failover.yaml --confirm orders-prod-failover --approver "Ana Ruiz"',
    'drillbook run drills/ransomware-tabletop.yaml --answers drills/ransomware-tabletop.answers.yaml',
    'drillbook run drills/orders-db-failover.yaml --metrics-file /var/lib/node_exporter/textfile/drillbook.prom',
  ],
  recover: ['drillbook recover', 'drillbook recover --evidence /srv/drillbook/evidence'],
  demo: ['drillbook demo', 'drillbook demo --evidence /tmp/demo-evidence'],
  init: [
    'drillbook init',
    'drillbook init --driver patroni --type failover --dir drills',
    'drillbook init --driver rds --type parallel-restore --dir drills',
    'drillbook init --type tabletop --dir drills',
  ],
  completion: ['drillbook completion bash > /etc/bash_completion.d/drillbook', 'drillbook completion zsh > "${fpath[1]}/_drillbook"', 'source <(drillbook completion bash)'],
  verify: ['drillbook verify evidence/', 'drillbook verify evidence/2026-11-26T…-orders-db-failover-437f950e --trust keys/drillbook-signing.pub.pem'],
  keys: ['drillbook keys generate --out keys/', 'drillbook keys export-public --key file:keys/drillbook-signing.pem'],
  'keys generate': ['drillbook keys generate --out keys/', 'drillbook keys generate --out keys/ --name team-a'],
  'keys export-public': ['drillbook keys export-public --key env:DRILLBOOK_SIGNING_KEY --out signing.pub.pem'],
  'keys rotate': ['drillbook keys rotate --from file:keys/old.key.pem --to file:keys/new.pub.pem --evidence evidence/', 'drillbook keys rotate --from env:DRILLBOOK_SIGNING_KEY --to unsigned --evidence evidence/'],
  signoff: ['drillbook signoff evidence/<run dir> --reviewer "Kim Lee" --decision accepted --note "reviewed with the DBA team"'],
  schedule: ['drillbook schedule drills/ --evidence /srv/evidence', 'drillbook schedule drills/ --until 2026-12-01T06:00:00Z   # exits with the worst drill outcome'],
  'schedule status': ['drillbook schedule status --evidence /srv/evidence'],
  report: ['drillbook report evidence/<run dir> --format md,junit', 'drillbook report evidence/<run dir> --format pdf --out /tmp/report'],
  coverage: [
    'drillbook coverage --plan drills/plan.yaml',
    'drillbook coverage --plan drills/plan.yaml --from 2026-01-01 --to 2026-12-31 --format html --out coverage.html',
    'drillbook coverage --plan drills/plan.yaml --format json',
    'drillbook coverage --plan drills/plan.yaml --metrics-file /var/lib/node_exporter/textfile/drillbook-coverage.prom',
  ],
  site: ['drillbook site evidence/ public/ --plan drills/plan.yaml'],
  remediation: ['drillbook remediation list --overdue', 'drillbook remediation export > register.csv'],
  'remediation list': ['drillbook remediation list', 'drillbook remediation list --system orders-db --status open --json'],
  'remediation show': ['drillbook remediation show RI-437f950e-1'],
  'remediation update': ['drillbook remediation update RI-437f950e-1 --owner "Sam Okafor" --due 2026-12-15 --note "reassigned"'],
  'remediation close': ['drillbook remediation close RI-437f950e-1 --verified-by 9b1c… --note "fixed: failover within RTO"'],
  'remediation reopen': ['drillbook remediation reopen RI-437f950e-1 --note "regressed"'],
  'remediation export': ['drillbook remediation export > register.csv', 'drillbook remediation export --format json --out register.json'],
};

/** "run", "remediation close": the command's path below the program. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.length === 0 ? command.name() : names.join(' ');
}

export function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => allCommands(c as Command))];
}

/** Adds the Examples section and a pointer to the right help after usage errors, to every command. */
export function decorateHelp(program: Command): void {
  for (const command of allCommands(program)) {
    const key = commandPath(command);
    const examples = EXAMPLES[key];
    if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    const full = command === program ? 'drillbook' : `drillbook ${key}`;
    command.showHelpAfterError(`(run ${full} --help for usage and examples)`);
  }
}
