/**
 * `drillbook remediation list|show|update|close|reopen|export`: the remediation register in
 * `<evidence dir>/remediation.jsonl`. Bad ids and arguments: one clear message, exit 2, and
 * the register is not touched (the library validates everything before it writes).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { RegisterItem, RegisterEvent, RegisterStore } from '../../reports/remediation.js';
import { EXIT, Exit, err, out } from '../cli-common.js';
import type { CliDefaults } from '../config.js';
import { evidenceSourceOrExit, withEvidenceSource } from './evidence-source.js';

interface EvidenceOption {
  evidence: string;
}

interface ListOptions extends EvidenceOption {
  system?: string;
  status?: 'open' | 'closed';
  overdue?: boolean;
  json?: boolean;
}

const defaultBy = (): string => {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
};

function evidenceOption(defaultEvidence: string): Option {
  return new Option('--evidence <dir>', 'evidence directory holding remediation.jsonl, or s3://bucket/prefix ($DRILLBOOK_EVIDENCE or drillbook.config.yaml set the default)').default(defaultEvidence);
}

function requireEvidenceDir(dir: string): void {
  if (!fs.existsSync(dir)) {
    err(`--evidence: ${dir}: no such directory`);
    throw new Exit(EXIT.invalid);
  }
  if (!fs.statSync(dir).isDirectory()) {
    err(`--evidence: ${dir} is not a directory`);
    throw new Exit(EXIT.invalid);
  }
}

/** Run a library call; its RegisterError/EvidenceError becomes one line on stderr and exit 2. */
async function orExit<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'RegisterError' || name === 'EvidenceError') {
      err(`${what}: ${(error as Error).message}`);
      throw new Exit(EXIT.invalid);
    }
    throw error;
  }
}

/** The register of a directory or of an S3 store (`s3://bucket/prefix`, read in place). */
async function loadItems(evidence: string): Promise<RegisterItem[]> {
  const { readRegisterFrom } = await import('../../reports/remediation.js');
  const { items, warnings } = await withEvidenceSource(evidence, (source) => orExit('remediation', () => readRegisterFrom(source)));
  for (const warning of warnings) err(`warning: ${warning}`);
  return items;
}

/** `--evidence` of a reading command: an existing directory, or an s3:// store checked when opened. */
function requireReadableEvidence(evidence: string): void {
  if (!/^s3:\/\//i.test(evidence.trim())) requireEvidenceDir(evidence);
}

/**
 * Run a change of the register on `--evidence`: a directory, or an S3 store (checked first,
 * like the reading commands), whose register then takes the event by conditional append.
 */
async function withRegister<T>(evidence: string, change: (store: string | RegisterStore) => Promise<T>): Promise<T> {
  if (!/^s3:\/\//i.test(evidence.trim())) {
    requireEvidenceDir(evidence);
    return change(evidence);
  }
  (await evidenceSourceOrExit(evidence)).close();
  const { parseEvidenceTarget } = await import('../../reports/upload-s3.js');
  const { defaultS3Client } = await import('../../reports/evidence/s3-client.js');
  const { s3RegisterStore } = await import('../../reports/evidence/s3-append.js');
  const target = parseEvidenceTarget(evidence);
  if (target.kind !== 's3') throw new Error('unreachable: an s3:// location');
  const client = defaultS3Client();
  try {
    return await change(s3RegisterStore(client, { bucket: target.bucket, prefix: target.prefix }));
  } finally {
    client.destroy();
  }
}

/** Where the register is, as messages name it. */
const registerWhere = (evidence: string) => (/^s3:\/\//i.test(evidence.trim()) ? `${evidence.replace(/\/+$/, '')}/remediation.jsonl` : path.join(evidence, 'remediation.jsonl'));

/** Terminal-safe text: no control characters from a record reach the terminal. */
const plain = (text: string) => text.replace(/[\u0000-\u001f\u007f]/g, ' ');

function statusText(item: RegisterItem): string {
  if (item.status === 'closed') return item.resolution === 'accepted-risk' ? 'risk accepted' : item.verifiedBy ? 'closed ✓' : 'closed';
  return item.overdue ? 'OVERDUE' : 'open';
}

function printTable(items: RegisterItem[]): void {
  const header = ['ID', 'SEV', 'STATUS', 'DUE', 'OWNER', 'SYSTEM', 'TITLE'];
  const rows = items.map((i) => [i.id, i.severity, statusText(i), i.due, i.owner, i.system, i.title].map(plain));
  const widths = header.map((h, c) => Math.min(c === 6 ? 80 : 40, Math.max(h.length, ...rows.map((r) => r[c]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (cell.length > widths[c]! ? `${cell.slice(0, widths[c]! - 1)}…` : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  out(line(header));
  for (const row of rows) out(line(row));
}

function describeEvent(event: RegisterEvent): string {
  switch (event.type) {
    case 'opened':
      return `opened by ${event.by} from run ${event.runId} (${event.scenario}, ${event.testType}${event.environment ? `, ${event.environment}` : ''})`;
    case 'updated': {
      const changes = Object.entries(event.changes).map(([field, value]) => `${field} ${JSON.stringify(event.previous[field as keyof typeof event.previous] ?? '')} → ${JSON.stringify(value)}`);
      return `updated by ${event.by}: ${changes.join(', ')}; note: ${event.note}`;
    }
    case 'closed':
      return `closed by ${event.by}${event.verification ? `, verified by run ${event.verification.runId} (${event.verification.shows})` : event.verifiedBy ? `, verified by run ${event.verifiedBy}` : event.resolution === 'accepted-risk' ? `, not verified: risk accepted by ${event.riskOwner ?? '?'}` : ''}${event.planVersion ? `, plan version ${event.planVersion}` : ''}; note: ${event.note}`;
    case 'reopened':
      return `reopened by ${event.by}; note: ${event.note}`;
  }
}

async function printItem(item: RegisterItem): Promise<void> {
  const { verifiableText } = await import('../../reports/remediation.js');
  const field = (label: string, value: string) => out(`  ${`${label}:`.padEnd(19)}${plain(value)}`);
  out(`${item.id}  ${statusText(item).toUpperCase()}`);
  field('title', item.title);
  field('system', item.system);
  field('severity', item.severity);
  field('owner', item.owner);
  field('due', `${item.due}${item.overdue ? ' (overdue)' : ''}`);
  field('corrective action', item.correctiveAction);
  field('opened', `${item.openedAt} by run ${item.runId} (${item.scenario}, ${item.type})`);
  field('finding', item.findingId);
  field('closes with', item.verifiable ? `--verified-by RUN_ID: a later re-test of ${item.scenario} with ${verifiableText(item.verifiable)}; or --accept-risk --owner NAME` : 'a note (--verified-by optional); or --accept-risk --owner NAME');
  if (item.status === 'closed') {
    field('closed', `${item.closedAt ?? ''}${item.verifiedBy ? `, verified by run ${item.verifiedBy}` : item.resolution === 'accepted-risk' ? `, NOT VERIFIED: risk accepted by ${item.riskOwner ?? '?'}` : ', with a note (not re-tested)'}`);
    if (item.planVersion) field('plan revised', `${item.openedPlanVersion ? `v${item.openedPlanVersion.replace(/^v/i, '')} → ` : ''}v${item.planVersion.replace(/^v/i, '')}`);
    field('close note', item.closeNote ?? '');
    if (item.verification) field('verification', `${item.verification.shows} (${item.verification.dir}, manifest sha256 ${item.verification.manifestSha256})`);
  }
  out('History:');
  for (const event of item.history) out(`  ${event.at}  ${plain(describeEvent(event))}`);
}

export function registerRemediation(program: Command, defaults: CliDefaults): void {
  const remediation = program.command('remediation').description('the remediation register: list, show, update, close, reopen, export (0 / 2)');

  remediation
    .command('list')
    .description('list remediation items (a table, or --json)')
    .addOption(evidenceOption(defaults.evidence))
    .option('--system <name>', 'only this system')
    .addOption(new Option('--status <status>', 'only open or closed items').choices(['open', 'closed']))
    .option('--overdue', 'only open items past their due date')
    .option('--json', 'print the items as JSON')
    .action(async (options: ListOptions) => {
      requireReadableEvidence(options.evidence);
      const { filterItems } = await import('../../reports/remediation.js');
      const items = filterItems(await loadItems(options.evidence), {
        ...(options.system !== undefined ? { system: options.system } : {}),
        ...(options.status !== undefined ? { status: options.status } : {}),
        overdue: options.overdue === true,
      });
      if (options.json) {
        out(JSON.stringify(items, null, 2));
        return;
      }
      if (items.length === 0) {
        out(`no remediation items${options.system || options.status || options.overdue ? ' match' : ''} in ${registerWhere(options.evidence)}`);
        return;
      }
      printTable(items);
      const open = items.filter((i) => i.status === 'open').length;
      const overdue = items.filter((i) => i.overdue).length;
      out(`${items.length} item${items.length === 1 ? '' : 's'}: ${open} open (${overdue} overdue), ${items.length - open} closed`);
    });

  remediation
    .command('show')
    .description('one item with its history')
    .argument('<id>')
    .addOption(evidenceOption(defaults.evidence))
    .option('--json', 'print the item as JSON')
    .action(async (id: string, options: EvidenceOption & { json?: boolean }) => {
      requireReadableEvidence(options.evidence);
      const items = await loadItems(options.evidence);
      const item = items.find((i) => i.id === id) ?? items.find((i) => i.id.toLowerCase() === id.toLowerCase());
      if (!item) {
        err(`remediation show: no remediation item ${JSON.stringify(id)} in ${registerWhere(options.evidence)}`);
        throw new Exit(EXIT.invalid);
      }
      if (options.json) out(JSON.stringify(item, null, 2));
      else await printItem(item);
    });

  remediation
    .command('update')
    .description('change the owner, due date, severity or corrective action of an open item, with a note')
    .argument('<id>')
    .addOption(evidenceOption(defaults.evidence))
    .option('--owner <name>', 'new owner')
    .option('--due <YYYY-MM-DD>', 'new due date')
    .option('--severity <P1..P4>', 'new severity')
    .option('--action <text>', 'new corrective action')
    .requiredOption('--note <text>', 'why (recorded in the history)')
    .option('--by <name>', 'who makes the change (default: the OS user)')
    .action(async (id: string, options: EvidenceOption & { owner?: string; due?: string; severity?: string; action?: string; note: string; by?: string }) => {
      const { updateItem } = await import('../../reports/remediation.js');
      const item = await withRegister(options.evidence, (store) => orExit(`remediation update ${id}`, () =>
        updateItem(store, id, {
          ...(options.owner !== undefined ? { owner: options.owner } : {}),
          ...(options.due !== undefined ? { due: options.due } : {}),
          ...(options.severity !== undefined ? { severity: options.severity } : {}),
          ...(options.action !== undefined ? { correctiveAction: options.action } : {}),
          note: options.note,
          by: options.by ?? defaultBy(),
        }),
      ));
      out(`updated ${item.id}: ${item.severity}, owner ${plain(item.owner)}, due ${item.due}${item.overdue ? ' (overdue)' : ''}`);
    });

  remediation
    .command('close')
    .description('close an item: --verified-by a later re-test, or --accept-risk --owner NAME without verification')
    .argument('<id>')
    .addOption(evidenceOption(defaults.evidence))
    .requiredOption('--note <text>', 'what was done (recorded in the history)')
    .option('--verified-by <run id>', 'a later re-test: same scenario (or one that declares it verifies it), equal or higher rigor, same environment class, the failed target or check passed at the same or a stricter threshold (a unique prefix is enough)')
    .option('--accept-risk', 'close without verification: the risk is accepted (needs --owner)')
    .option('--owner <name>', 'with --accept-risk: who owns the accepted risk')
    .option('--plan-version <version>', 'the plan version that carries the fix (later than the one the item was found under)')
    .option('--by <name>', 'who closes it (default: the OS user)')
    .action(async (id: string, options: EvidenceOption & { note: string; verifiedBy?: string; acceptRisk?: boolean; owner?: string; planVersion?: string; by?: string }) => {
      const { closeItem } = await import('../../reports/remediation.js');
      const item = await withRegister(options.evidence, (store) => orExit(`remediation close ${id}`, () =>
        closeItem(store, id, {
          note: options.note,
          by: options.by ?? defaultBy(),
          ...(options.verifiedBy !== undefined ? { verifiedBy: options.verifiedBy } : {}),
          ...(options.acceptRisk ? { acceptRisk: true } : {}),
          ...(options.owner !== undefined ? { riskOwner: options.owner } : {}),
          ...(options.planVersion !== undefined ? { planVersion: options.planVersion } : {}),
        }),
      ));
      const how = item.verification
        ? `, verified by run ${item.verification.runId}: ${plain(item.verification.shows)}`
        : item.resolution === 'accepted-risk'
          ? `, NOT VERIFIED: risk accepted by ${plain(item.riskOwner ?? '')}`
          : ', with a note (not re-tested)';
      out(`closed ${item.id}${how}${item.planVersion ? `; plan version ${plain(item.planVersion)} carries the fix` : ''}`);
    });

  remediation
    .command('reopen')
    .description('reopen a closed item (the fix did not hold), with a note')
    .argument('<id>')
    .addOption(evidenceOption(defaults.evidence))
    .requiredOption('--note <text>', 'why (recorded in the history)')
    .option('--by <name>', 'who reopens it (default: the OS user)')
    .action(async (id: string, options: EvidenceOption & { note: string; by?: string }) => {
      const { reopenItem } = await import('../../reports/remediation.js');
      const item = await withRegister(options.evidence, (store) => orExit(`remediation reopen ${id}`, () => reopenItem(store, id, { note: options.note, by: options.by ?? defaultBy() })));
      out(`reopened ${item.id}`);
    });

  remediation
    .command('export')
    .description('export the register as CSV (one row per item) or JSON (items with history)')
    .addOption(evidenceOption(defaults.evidence))
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--system <name>', 'only this system')
    .addOption(new Option('--status <status>', 'only open or closed items').choices(['open', 'closed']))
    .action(async (options: EvidenceOption & { format: 'csv' | 'json'; out?: string; system?: string; status?: 'open' | 'closed' }) => {
      requireReadableEvidence(options.evidence);
      const { filterItems } = await import('../../reports/remediation.js');
      const { registerToCsv, registerToJson } = await import('../../reports/remediation-export.js');
      const items = filterItems(await loadItems(options.evidence), {
        ...(options.system !== undefined ? { system: options.system } : {}),
        ...(options.status !== undefined ? { status: options.status } : {}),
      });
      const text = options.format === 'csv' ? registerToCsv(items) : registerToJson(items);
      if (options.out === undefined) {
        process.stdout.write(text);
        return;
      }
      const target = path.resolve(options.out);
      if (!fs.existsSync(path.dirname(target))) {
        err(`--out: ${path.dirname(options.out)}: no such directory`);
        throw new Exit(EXIT.invalid);
      }
      const { writeFileAtomic } = await import('../../reports/evidence-files.js');
      await writeFileAtomic(target, text);
      out(`wrote ${items.length} item${items.length === 1 ? '' : 's'} to ${options.out}`);
    });
}
