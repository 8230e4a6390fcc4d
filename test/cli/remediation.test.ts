/**
 * `drillbook remediation` as users and scripts meet it: concurrent writers and a writer
 * killed mid-append leave a register that `list` reads completely; closing a measured-target
 * item needs a later qualifying run (checked, not trusted); bad arguments exit 2 and leave
 * the register byte-identical; the CSV export parses back to one row per item under the
 * header documented in the README.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, runDirName } from '../../reports/evidence.js';
import { parseCsv } from '../../reports/evidence-files.js';
import { REGISTER_CSV_COLUMNS } from '../../reports/remediation-export.js';
import { checkRegisterText, recordRunItems, type RegisterItem } from '../../reports/remediation.js';
import type { RemediationItem, RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';
import { FIRST_FAILING_RUN, makeRunRecord, type DeepPartial } from '../helpers/run-record-fixture.js';

const REMEDIATION_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'reports', 'remediation.js')).href;

let work: string;
let evidence: string;
beforeEach(() => {
  work = sharedTempDir('drillbook-remediation-cli-');
  evidence = path.join(work, 'evidence');
  fs.mkdirSync(evidence);
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const registerFile = () => path.join(evidence, 'remediation.jsonl');
const registerBytes = () => fs.readFileSync(registerFile());
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
const remediation = (...args: string[]) => runCli(['remediation', ...args, '--evidence', evidence]);

async function listJson(...args: string[]): Promise<{ items: RegisterItem[]; stderr: string }> {
  const result = await remediation('list', '--json', ...args);
  expect(result.code, result.stderr).toBe(0);
  return { items: JSON.parse(result.stdout) as RegisterItem[], stderr: result.stderr };
}

function item(id: string, overrides: Partial<RemediationItem> = {}): RemediationItem {
  return { id, findingId: 'F-1', title: `Fix ${id}`, correctiveAction: 'Fix it and re-run', severity: 'P2', owner: 'team-payments', due: '2999-01-31', status: 'open', ...overrides };
}

async function writeBundle(record: RunRecord): Promise<string> {
  const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(record.startedAt), record.scenario.name, record.runId));
  for (const event of record.timeline) await bundle.appendTimeline(event);
  await bundle.finalize(record);
  return bundle.dir;
}

/** Runs of orders-db (failed first, RTO missed) and of billing-db, with their items recorded. */
async function seedRegister(): Promise<RunRecord> {
  const first = makeRunRecord({
    ...FIRST_FAILING_RUN,
    remediation: [
      item('REM-aaaa1111-1', { title: 'RTO target missed', severity: 'P1', verifiable: { target: 'rto' } }),
      item('REM-aaaa1111-2', { title: 'Runbook lacks the DNS step', severity: 'P3', due: '2020-01-15' }),
    ],
  });
  await writeBundle(first);
  await recordRunItems(evidence, first);
  const billing = makeRunRecord({
    runId: 'bbbb2222-0000-4000-8000-000000000002',
    startedAt: '2026-11-02T10:00:00.000Z',
    system: { name: 'billing-db', tier: 2, owner: 'team-billing' },
    remediation: [item('REM-bbbb2222-1', { title: 'Restore took too long', owner: 'team-billing' })],
  });
  await writeBundle(billing);
  await recordRunItems(evidence, billing);
  return first;
}

function spawnNode(script: string, args: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exited };
}

/** A child that records runs (two items each) and updates each item it opened. */
function writeAppenderScript(): string {
  const template = path.join(work, 'record.json');
  fs.writeFileSync(template, JSON.stringify(makeRunRecord({ remediation: [] })));
  const script = path.join(work, 'append.mjs');
  fs.writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
import { recordRunItems, updateItem } from ${JSON.stringify(REMEDIATION_MODULE)};
const [evidenceDir, name, countText] = process.argv.slice(2);
const template = JSON.parse(readFileSync(${JSON.stringify(template)}, 'utf8'));
const count = countText === 'forever' ? Infinity : Number(countText);
const item = (id) => ({ id, findingId: 'F-1', title: 'item ' + id, correctiveAction: 'fix', severity: 'P3', owner: 'team', due: '2999-01-01', status: 'open' });
for (let i = 0; i < count; i++) {
  const runId = name + '-' + i;
  await recordRunItems(evidenceDir, { ...template, runId, remediation: [item('REM-' + runId + '-a'), item('REM-' + runId + '-b')] });
  if (count !== Infinity) await updateItem(evidenceDir, 'REM-' + runId + '-a', { owner: 'owner-' + runId, note: 'handover ' + i, by: name });
}
`,
  );
  return script;
}

describe('drillbook remediation: crash and concurrency safety', () => {
  it('two processes appending at the same time lose and interleave nothing', async () => {
    const script = writeAppenderScript();
    const perChild = 40;
    const children = ['alpha', 'beta'].map((name) => spawnNode(script, [evidence, name, String(perChild)]));
    for (const { exited } of children) {
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
    }
    const lines = fs.readFileSync(registerFile(), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2 * perChild * 3);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    // Both writers' lines form one hash chain.
    expect(checkRegisterText(fs.readFileSync(registerFile(), 'utf8'))).toMatchObject({ chain: [], damaged: [], torn: [] });

    const { items, stderr } = await listJson();
    expect(stderr).toBe('');
    expect(items).toHaveLength(2 * perChild * 2);
    for (const name of ['alpha', 'beta']) {
      for (let i = 0; i < perChild; i++) {
        const a = items.find((it) => it.id === `REM-${name}-${i}-a`);
        expect(a?.owner).toBe(`owner-${name}-${i}`);
        expect(a?.history.map((e) => e.type)).toEqual(['opened', 'updated']);
        expect(items.find((it) => it.id === `REM-${name}-${i}-b`)?.owner).toBe('team');
      }
    }
  });

  it('a process killed mid-append leaves a register that list reads completely, and writers carry on', async () => {
    const script = writeAppenderScript();
    const { child, exited } = spawnNode(script, [evidence, 'doomed', 'forever']);
    const deadline = Date.now() + 30_000;
    while (!(fs.existsSync(registerFile()) && fs.readFileSync(registerFile(), 'utf8').split('\n').length > 60)) {
      if (Date.now() > deadline) throw new Error('the appender wrote nothing');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');

    const text = fs.readFileSync(registerFile(), 'utf8');
    const whole = text.split('\n').filter((line) => {
      try {
        return (JSON.parse(line) as { type?: string }).type === 'opened';
      } catch {
        return false;
      }
    });
    const listed = await listJson();
    expect(listed.items).toHaveLength(whole.length);
    // Only a torn last line may be reported; none of the complete lines is lost.
    expect(listed.stderr.split('\n').filter(Boolean).length).toBeLessThanOrEqual(1);

    // The killed writer may have left its lock behind: the next writer takes it over.
    const first = listed.items[0]!;
    const update = await remediation('update', first.id, '--owner', 'survivor', '--note', 'after the crash');
    expect(update.code, update.stderr).toBe(0);
    const after = await listJson();
    expect(after.items).toHaveLength(whole.length);
    expect(after.items.find((i) => i.id === first.id)?.owner).toBe('survivor');
    // A torn line the kill left is a link of the chain: the survivor's append chains to it.
    const check = checkRegisterText(fs.readFileSync(registerFile(), 'utf8'));
    expect(check).toMatchObject({ chain: [], damaged: [] });
    expect(check.torn.length).toBeLessThanOrEqual(1);
  });

  it('a hand-made torn last line is skipped with a warning; every other item is listed and the next write lands', async () => {
    await seedRegister();
    fs.appendFileSync(registerFile(), '{"v":1,"type":"closed","id":"REM-aaaa1111-2","at":"2026-12-0');
    const list = await remediation('list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/REM-aaaa1111-1[\s\S]*REM-aaaa1111-2[\s\S]*REM-bbbb2222-1/);
    expect(list.stdout).toMatch(/3 items: 3 open \(1 overdue\), 0 closed/);
    expect(list.stderr).toMatch(/warning: .*remediation\.jsonl:4: skipped a damaged line: .*the last line is incomplete/);
    noStackTrace(list.stderr);

    const close = await remediation('close', 'REM-aaaa1111-2', '--note', 'DNS step added to the runbook', '--by', 'chloe');
    expect(close.code, close.stderr).toBe(0);
    const { items, stderr } = await listJson('--status', 'closed');
    expect(items.map((i) => i.id)).toEqual(['REM-aaaa1111-2']);
    expect(stderr).toMatch(/remediation\.jsonl:4: skipped a damaged line/);
  });
});

describe('drillbook remediation close: checked, not trusted', () => {
  it('refuses a measured-target item without a qualifying later run and closes it with one', async () => {
    const first = await seedRegister();
    const otherSystem = makeRunRecord({ runId: 'cccc3333-0000-4000-8000-000000000003', startedAt: '2026-12-01T10:00:00.000Z', system: { name: 'billing-db' } });
    const stillMissed = makeRunRecord({ runId: 'dddd4444-0000-4000-8000-000000000004', startedAt: '2026-12-02T10:00:00.000Z', verdict: { rto: 'missed' } });
    const fixed = makeRunRecord({ runId: 'eeee5555-0000-4000-8000-000000000005', startedAt: '2026-12-03T10:00:00.000Z' });
    for (const record of [otherSystem, stillMissed, fixed]) await writeBundle(record);

    const attempts: [string[], RegExp][] = [
      [[], /closes only with --verified-by RUN_ID \(a later re-test of orders-db-failover showing the RTO target met\) or, without verification, with --accept-risk --owner NAME/],
      [['--verified-by', 'cccc3333'], /run of billing-db, not of orders-db/],
      [['--verified-by', 'dddd4444'], /RTO target missed, not met/],
      [['--verified-by', first.runId], /the run that opened the item/],
      [['--verified-by', 'ffff9999'], /no run with that id/],
    ];
    const before = registerBytes();
    for (const [args, message] of attempts) {
      const result = await remediation('close', 'REM-aaaa1111-1', '--note', 'standby pre-warmed', ...args);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      noStackTrace(result.stderr);
      expect(registerBytes().equals(before)).toBe(true);
    }

    const close = await remediation('close', 'REM-aaaa1111-1', '--note', 'standby pre-warmed', '--verified-by', 'eeee5555', '--by', 'ana');
    expect(close.code, close.stderr).toBe(0);
    expect(close.stdout).toMatch(/closed REM-aaaa1111-1, verified by run eeee5555-0000-4000-8000-000000000005: RTO met: 12\.34 s/);
    const show = await remediation('show', 'REM-aaaa1111-1');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/REM-aaaa1111-1 {2}CLOSED ✓/);
    expect(show.stdout).toMatch(/closed by ana, verified by run eeee5555-0000-4000-8000-000000000005 \(RTO met/);
  });
});

describe('drillbook remediation close: a verifying run must be a real re-test', () => {
  // The finding of issue 13: an item opened by a pause-fault drill with a 2 s target was
  // closed "verified" by a kill-fault run of another scenario against its own 30 s target.
  const PAUSE = { name: 'orders-pause-primary', file: 'scenarios/orders-pause.yaml', sha256: 'a'.repeat(64) };
  async function seedPauseItem(): Promise<RunRecord> {
    const first = makeRunRecord({
      ...FIRST_FAILING_RUN,
      scenario: PAUSE,
      targets: { rtoSeconds: 2 },
      environmentClass: 'non-production',
      remediation: [item('REM-pause-1', { title: 'RTO target missed on pause', severity: 'P1', verifiable: { target: 'rto' } })],
    });
    await writeBundle(first);
    await recordRunItems(evidence, first);
    return first;
  }
  const later = (n: number, overrides: DeepPartial<RunRecord>) =>
    makeRunRecord({ runId: `${String(n).repeat(8)}-0000-4000-8000-00000000000${n}`, startedAt: `2026-12-0${n}T10:00:00.000Z`, scenario: PAUSE, targets: { rtoSeconds: 2 }, ...overrides });

  it('refuses another scenario, a looser target, lower rigor and another environment class, each with the reason (exit 2)', async () => {
    await seedPauseItem();
    const runs = [
      later(1, { scenario: { name: 'orders-db-failover' }, targets: { rtoSeconds: 30 }, faults: [{ type: 'kill-primary', description: 'kill' }] }),
      later(2, { targets: { rtoSeconds: 30 } }),
      later(3, { type: 'tabletop', environment: 'tabletop' }),
      later(4, { environment: 'sandbox', environmentClass: 'sandbox' }),
      later(5, { checks: [] , targets: { rtoSeconds: null } }),
    ];
    for (const record of runs) await writeBundle(record);
    const attempts: [string, RegExp][] = [
      ['11111111', /it is a run of scenario orders-db-failover, not of orders-pause-primary, and orders-db-failover does not declare `spec.verifies: \[orders-pause-primary\]`/],
      ['22222222', /held to an RTO target of 30 s, looser than the 2 s target that was missed/],
      ['33333333', /it is a tabletop test, less rigorous than the failover test that found the problem/],
      ['44444444', /it ran in sandbox \(sandbox\), but the item was found in staging \(non-production\): a re-test must be in the same environment class/],
      ['55555555', /held to an RTO target of none s, looser than the 2 s target/],
    ];
    const before = registerBytes();
    for (const [run, message] of attempts) {
      const result = await remediation('close', 'REM-pause-1', '--note', 'fixed', '--verified-by', run);
      expect(result.code, `${run}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      noStackTrace(result.stderr);
    }
    expect(registerBytes().equals(before)).toBe(true);
  });

  it('accepts a later run of a scenario that declares it verifies the item\'s scenario, at a stricter target', async () => {
    await seedPauseItem();
    await writeBundle(later(6, { scenario: { name: 'orders-pause-retest' }, verifies: ['orders-pause-primary'], targets: { rtoSeconds: 1.5 }, measured: { rto: { seconds: 1.2 } } }));
    const close = await remediation('close', 'REM-pause-1', '--note', 'pause handled by the proxy now', '--verified-by', '66666666');
    expect(close.code, close.stderr).toBe(0);
    expect(close.stdout).toMatch(/verified by run 66666666-.*RTO met: 1\.2 s ± 0\.26 s against a target of 1\.5 s \(missed target: 2 s\), re-test by orders-pause-retest/);
  });

  it('closes without verification only as an accepted risk with an owner, shown as such in list, show, CSV and the report', async () => {
    await seedPauseItem();
    const noOwner = await remediation('close', 'REM-pause-1', '--note', 'we live with it', '--accept-risk');
    expect(noOwner.code).toBe(2);
    expect(noOwner.stderr).toMatch(/--accept-risk needs --owner: who owns the accepted risk/);
    const both = await remediation('close', 'REM-pause-1', '--note', 'x', '--accept-risk', '--owner', 'cto', '--verified-by', '66666666');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--accept-risk and --verified-by exclude each other/);

    const close = await remediation('close', 'REM-pause-1', '--note', 'pauses are rare; budget next year', '--accept-risk', '--owner', 'Chloé (CTO)');
    expect(close.code, close.stderr).toBe(0);
    expect(close.stdout).toMatch(/closed REM-pause-1, NOT VERIFIED: risk accepted by Chloé \(CTO\)/);
    const list = await remediation('list');
    expect(list.stdout).toMatch(/REM-pause-1\s+P1\s+risk accepted/);
    const show = await remediation('show', 'REM-pause-1');
    expect(show.stdout).toMatch(/NOT VERIFIED: risk accepted by Chloé \(CTO\)/);
    const csv = await remediation('export', '--format', 'csv');
    const [header, ...rows] = parseCsv(csv.stdout);
    const row = rows.find((r) => r[0] === 'REM-pause-1')!;
    expect(row[header!.indexOf('resolution')]).toBe('accepted risk (not verified), owner Chloé (CTO)');
    expect(row[header!.indexOf('risk_owner')]).toBe('Chloé (CTO)');
    expect(row[header!.indexOf('verified_by')]).toBe('');

    // A later run's report (re-rendered, reading the register) says it was not verified.
    const dir = await writeBundle(later(7, {}));
    const report = await runCli(['report', dir, '--format', 'html,md']);
    expect(report.code, report.stderr).toBe(0);
    const md = fs.readFileSync(path.join(dir, 'exports', 'report.md'), 'utf8');
    expect(md).toMatch(/\| REM-pause-1 \| .* \| closed 20\d\d-\d\d-\d\d, NOT VERIFIED: risk accepted by Chloé \(CTO\) \|/);
    // The opening run's own report, re-rendered, shows the item closed as an accepted risk.
    const opening = fs.readdirSync(evidence).map((d) => path.join(evidence, d)).find((d) => fs.existsSync(path.join(d, 'run.json')) && fs.readFileSync(path.join(d, 'run.json'), 'utf8').includes('"runId": "aaaa1111'))!;
    expect((await runCli(['report', opening, '--format', 'md'])).code).toBe(0);
    expect(fs.readFileSync(path.join(opening, 'exports', 'report.md'), 'utf8')).toMatch(/\| REM-pause-1 \| RTO target missed on pause \| .* \| closed: accepted risk \(not verified\), owner Chloé \(CTO\) \|/);
  });

  it('--plan-version must name a later plan version; a later report of the system shows the revision', async () => {
    await seedPauseItem(); // found under plan acme-continuity 2026.3
    await writeBundle(later(8, { plan: { version: '2026.4' }, measured: { rto: { seconds: 1.1 } } }));
    for (const version of ['2026.3', '2026.2', 'v2026.3']) {
      const result = await remediation('close', 'REM-pause-1', '--note', 'plan fixed', '--verified-by', '88888888', '--plan-version', version);
      expect(result.code, version).toBe(2);
      expect(result.stderr).toMatch(/the item was found under plan version 2026\.3; name the later version that carries the fix/);
    }
    const close = await remediation('close', 'REM-pause-1', '--note', 'runbook step added', '--verified-by', '88888888', '--plan-version', '2026.4');
    expect(close.code, close.stderr).toBe(0);
    expect(close.stdout).toMatch(/plan version 2026\.4 carries the fix/);
    const csv = parseCsv((await remediation('export', '--format', 'csv')).stdout);
    expect(csv[1]![csv[0]!.indexOf('plan_version')]).toBe('2026.4');

    const dir = await writeBundle(later(9, { plan: { version: '2026.4' } }));
    expect((await runCli(['report', dir, '--format', 'html,md'])).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'exports', 'report.md'), 'utf8')).toContain('plan revised v2026.3 → v2026.4 after REM-pause-1');
    expect(fs.readFileSync(path.join(dir, 'exports', 'report.html'), 'utf8')).toContain('<li>plan revised v2026.3 → v2026.4 after REM-pause-1</li>');
  });
});

describe('drillbook remediation update, show, list', () => {
  it('updates an item and shows the change with its note in the history', async () => {
    await seedRegister();
    const update = await remediation('update', 'REM-aaaa1111-2', '--owner', 'sre-oncall', '--due', '2999-06-30', '--severity', 'P2', '--action', 'Add the DNS cutover step', '--note', 'agreed in review', '--by', 'chloe');
    expect(update.code, update.stderr).toBe(0);
    const show = await remediation('show', 'REM-aaaa1111-2');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/owner: +sre-oncall/);
    expect(show.stdout).toMatch(/due: +2999-06-30\n/);
    expect(show.stdout).toMatch(/corrective action: Add the DNS cutover step/);
    expect(show.stdout).toMatch(/updated by chloe: owner "team-payments" → "sre-oncall", due "2020-01-15" → "2999-06-30", severity "P3" → "P2", correctiveAction .*; note: agreed in review/);
    const { items } = await listJson('--overdue');
    expect(items.map((i) => i.id)).toEqual([]);
  });

  it('filters by system, status and overdue', async () => {
    await seedRegister();
    await remediation('close', 'REM-bbbb2222-1', '--note', 'restore tuned');
    const ids = async (...args: string[]) => (await listJson(...args)).items.map((i) => i.id);
    expect(await ids()).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-2', 'REM-bbbb2222-1']);
    expect(await ids('--system', 'orders-db')).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-2']);
    expect(await ids('--status', 'closed')).toEqual(['REM-bbbb2222-1']);
    expect(await ids('--status', 'open', '--system', 'billing-db')).toEqual([]);
    expect(await ids('--overdue')).toEqual(['REM-aaaa1111-2']);
    const table = await remediation('list', '--system', 'orders-db');
    expect(table.stdout).toMatch(/^ID +SEV +STATUS +DUE +OWNER +SYSTEM +TITLE$/m);
    expect(table.stdout).toMatch(/^REM-aaaa1111-2 +P3 +OVERDUE +2020-01-15 +team-payments +orders-db +Runbook lacks the DNS step$/m);
  });

  it.each([
    [['update', 'REM-nope', '--owner', 'x', '--note', 'n'], /no remediation item "REM-nope"/],
    [['update', 'REM-aaaa1111-1', '--due', '2027-02-30', '--note', 'n'], /due: 2027-02-30 is not a calendar date/],
    [['update', 'REM-aaaa1111-1', '--due', 'next week', '--note', 'n'], /write YYYY-MM-DD/],
    [['update', 'REM-aaaa1111-1', '--severity', 'P9', '--note', 'n'], /severity: "P9" is not one of P1, P2, P3, P4/],
    [['update', 'REM-aaaa1111-1', '--owner', 'x'], /required option '--note <text>' not specified/],
    [['update', 'REM-aaaa1111-1', '--owner', 'x', '--note', ''], /a note is required/],
    [['close', 'REM-aaaa1111-2'], /required option '--note <text>' not specified/],
    [['close', 'REM-nope', '--note', 'n'], /no remediation item "REM-nope"/],
    [['close', 'REM-aaaa1111-1', '--note', 'n', '--verified-by', 'zz'], /at least its first 4 characters/],
    [['show', 'REM-nope'], /no remediation item "REM-nope"/],
    [['list', '--status', 'pending'], /argument 'pending' is invalid/],
    [['export', '--format', 'xlsx'], /argument 'xlsx' is invalid/],
  ])('%j: clear error, exit 2, register untouched', async (args, message) => {
    await seedRegister();
    const before = registerBytes();
    const result = await remediation(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    noStackTrace(result.stderr);
    expect(registerBytes().equals(before)).toBe(true);
  });

  it('exits 2 for an evidence directory that does not exist', async () => {
    const result = await runCli(['remediation', 'list', '--evidence', path.join(work, 'nope')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--evidence: .*nope: no such directory/);
  });
});

describe('drillbook remediation export', () => {
  it('--format csv parses back to one row per item under the header documented in the README', async () => {
    await seedRegister();
    await recordRunItems(
      evidence,
      makeRunRecord({
        runId: 'ffff6666-0000-4000-8000-000000000006',
        remediation: [item('REM-ffff6666-1', { title: '=HYPERLINK("http://x","y"), with "quotes"\nand a line break', owner: '@team' })],
      } as DeepPartial<RunRecord>),
    );
    const outFile = path.join(work, 'register.csv');
    const result = await remediation('export', '--format', 'csv', '--out', outFile);
    expect(result.code, result.stderr).toBe(0);
    const [header, ...rows] = parseCsv(fs.readFileSync(outFile, 'utf8'));
    const documented = [...fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').split('### CSV export')[1]!.split('\n## ')[0]!.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(header).toEqual(documented);
    expect(header).toEqual([...REGISTER_CSV_COLUMNS]);
    expect(rows).toHaveLength(4);
    const row = rows.find((r) => r[0] === 'REM-ffff6666-1')!;
    expect(row[header!.indexOf('title')]).toBe(`'=HYPERLINK("http://x","y"), with "quotes"\nand a line break`);
    expect(row[header!.indexOf('owner')]).toBe(`'@team`);
    expect(rows.map((r) => r.length)).toEqual([header!.length, header!.length, header!.length, header!.length]);

    const json = await remediation('export', '--format', 'json');
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { items: unknown[] }).items).toHaveLength(4);
  });
});
