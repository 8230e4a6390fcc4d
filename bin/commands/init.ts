/**
 * `drillbook init [--driver D] [--type T] [--dir DIR]`: a continuity plan and one drill that
 * validate as written, plus the JSON Schema their `# yaml-language-server: $schema=` line
 * points at (editor completion and inline errors, offline). The drills are the shipped samples
 * (so they stay valid as the samples are), except Patroni, which has its own template.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';

export const INIT_DRIVERS = ['postgres', 'patroni', 'rds', 'kubernetes'] as const;
export const INIT_TYPES = ['failover', 'parallel-restore', 'tabletop', 'simulation'] as const;
type InitDriver = (typeof INIT_DRIVERS)[number];
type InitType = (typeof INIT_TYPES)[number];

const SCHEMA_FILE = 'drillbook.schema.json';
const SCHEMA_LINE = `# yaml-language-server: $schema=./${SCHEMA_FILE}`;

/** Sample file per driver and type; exercises involve no driver. */
const SAMPLE: Record<Exclude<InitDriver, 'patroni'>, Record<'failover' | 'parallel-restore', string>> & { exercise: Record<'tabletop' | 'simulation', string> } = {
  postgres: { failover: 'orders-db-failover.yaml', 'parallel-restore': 'orders-db-restore.yaml' },
  rds: { failover: 'orders-rds-failover.yaml', 'parallel-restore': 'orders-rds-restore.yaml' },
  kubernetes: { failover: 'checkout-k8s-failover.yaml', 'parallel-restore': 'checkout-k8s-restore.yaml' },
  exercise: { tabletop: 'ransomware-tabletop.yaml', simulation: 'lose-primary-region-walkthrough.yaml' },
};

const PATRONI_FAILOVER = `# A failover drill of a Patroni cluster: stop the leader's PostgreSQL the way a crash would,
# let Patroni elect a new leader, and measure from the client's side (through HAProxy) when
# writes succeed again and how many acknowledged writes were lost.
apiVersion: drillbook.dev/v1
kind: Scenario
metadata:
  name: orders-db-patroni-failover
  system: orders-db
  environment: staging
  description: The Patroni leader of orders-db is stopped; a replica takes over.
spec:
  type: failover
  plan: plan.yaml
  objective: >-
    Show that orders-db takes writes again through HAProxy within the plan's RTO after losing
    its Patroni leader, and that acknowledged writes lost stay within the RPO.
  scope: the orders-db Patroni cluster behind HAProxy (staging)
  participants:
    - { name: Ana Ruiz, role: incident commander }
    - { name: Sam Okafor, role: database on-call }
  target:
    driver: postgres
    # What clients use: the HAProxy (or PgBouncer) endpoint that follows the leader.
    primary: { host: haproxy.staging.internal, port: 5000, database: orders, user: drillbook, password: { env: ORDERS_DB_PASSWORD } }
  faults:
    # patronictl's own failover command, as the disruption; Patroni itself does the recovery.
    - type: command
      command: patronictl -c /etc/patroni/patroni.yml failover orders-db --force
      timeout: 60s
  recovery:
    action: none
  probes:
    interval: 250ms
    timeout: 2s
    stableFor: 4
    maxWait: 5m
    heartbeat: { interval: 100ms, warmup: 5s }
  checks:
    - { type: sql, name: the endpoint takes writes on the new leader, query: "SELECT NOT pg_is_in_recovery()", expect: true }
  guardrails:
    maxDuration: 15m
`;

const PATRONI_RESTORE = `# Restore drill for a Patroni cluster's backups: the base backup and WAL archive are restored
# into an isolated copy on this host (never into the cluster), checked against the source,
# then destroyed, and the destruction is verified.
apiVersion: drillbook.dev/v1
kind: Scenario
metadata:
  name: orders-db-patroni-restore
  system: orders-db
  environment: staging
  description: Restore the latest base backup + WAL of the orders-db cluster beside it.
spec:
  type: parallel-restore
  plan: plan.yaml
  objective: >-
    Show that the orders-db backups restore into a working database within the RTO, with data
    identical to the source up to the restore point and a data-loss window inside the RPO.
  scope: orders-db base backup + WAL archive, restored on the drill host
  participants:
    - { name: Sam Okafor, role: database on-call }
  target:
    driver: postgres
    # The source the restored copy is compared with (through HAProxy: the current leader).
    primary: { host: haproxy.staging.internal, port: 5000, database: orders, user: drillbook, password: { env: ORDERS_DB_PASSWORD } }
    backup:
      baseBackupDir: /var/backups/orders-db/base/latest
      walArchiveDir: /var/backups/orders-db/wal
    # binDir: /usr/lib/postgresql/16/bin   # binaries of your cluster's major version
  restore:
    restoreTo: latest
    access: the drill host only, drill operator's account; destroyed at the end of the drill
    masking: none (staging data)
  probes:
    interval: 250ms
    stableFor: 2
    maxWait: 30m
  checks:
    - { type: row-count, name: orders match the source up to the restore point, table: orders, key: id, compareWithSource: true }
  guardrails:
    maxDuration: 2h
`;

interface InitOptions {
  driver: InitDriver;
  type: InitType;
  dir: string;
  force?: boolean;
}

/** Replaces a file's own schema line (the samples point into the package) with the local one. */
function withSchemaLine(text: string): string {
  const body = text.replace(/^# yaml-language-server: \$schema=.*\n/, '');
  return `${SCHEMA_LINE}\n${body}`;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a continuity plan and a first drill that validate (plus the JSON Schema editors use)')
    .addOption(new Option('--driver <driver>', 'what the drill targets').choices(INIT_DRIVERS).default('postgres'))
    .addOption(new Option('--type <type>', 'the kind of test').choices(INIT_TYPES).default('failover'))
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--force', 'overwrite files that exist')
    .action(async (options: InitOptions) => {
      const { packageRoot } = await import('../../reports/paths.js');
      const samples = path.join(packageRoot(), 'scenarios', 'samples');
      const exercise = options.type === 'tabletop' || options.type === 'simulation';
      let drillName: string;
      let drillText: string;
      if (exercise) {
        drillName = SAMPLE.exercise[options.type as 'tabletop' | 'simulation'];
        drillText = fs.readFileSync(path.join(samples, drillName), 'utf8');
      } else if (options.driver === 'patroni') {
        drillName = options.type === 'failover' ? 'orders-db-patroni-failover.yaml' : 'orders-db-patroni-restore.yaml';
        drillText = options.type === 'failover' ? PATRONI_FAILOVER : PATRONI_RESTORE;
      } else {
        drillName = SAMPLE[options.driver][options.type as 'failover' | 'parallel-restore'];
        drillText = fs.readFileSync(path.join(samples, drillName), 'utf8');
      }
      const { jsonSchema } = await import('../../scenarios/json-schema.js');
      const files: [string, string][] = [
        ['plan.yaml', withSchemaLine(fs.readFileSync(path.join(samples, 'plan.yaml'), 'utf8'))],
        [drillName, withSchemaLine(drillText)],
        [SCHEMA_FILE, `${JSON.stringify(jsonSchema(), null, 2)}\n`],
      ];
      const dir = path.resolve(options.dir);
      const existing = files.map(([name]) => path.join(dir, name)).filter((f) => fs.existsSync(f));
      if (existing.length > 0 && !options.force) {
        err(`init: ${existing.map((f) => path.relative(process.cwd(), f) || f).join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing was written (--force overwrites)`);
        throw new Exit(EXIT.invalid);
      }
      fs.mkdirSync(dir, { recursive: true });
      const { writeFileAtomic } = await import('../../reports/evidence-files.js');
      for (const [name, text] of files) await writeFileAtomic(path.join(dir, name), text);
      const rel = (name: string) => path.relative(process.cwd(), path.join(dir, name)) || name;
      out(`wrote ${rel('plan.yaml')}, ${rel(drillName)} and ${rel(SCHEMA_FILE)}`);
      out('next:');
      out(`  drillbook validate ${path.relative(process.cwd(), dir) || '.'}   # check them (edit the system, targets and endpoints first)`);
      out(`  drillbook plan ${rel(drillName)}   # what the drill would touch; touches nothing`);
      if (exercise) out(`  drillbook run ${rel(drillName)}    # facilitate it at a terminal`);
      else out(`  drillbook run ${rel(drillName)}    # run it${options.driver === 'postgres' ? ' (this one builds its own sandbox: try it now)' : ''}`);
    });
}
