import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, runDirName } from '../../../reports/evidence.js';
import { parseCsv } from '../../../reports/evidence-files.js';
import { REGISTER_CSV_COLUMNS, csvCell, registerToCsv, registerToJson } from '../../../reports/remediation-export.js';
import {
  REMEDIATION_FILE,
  RegisterError,
  closeItem,
  decodeEvent,
  earlierItemsFor,
  encodeEvent,
  filterItems,
  readRegister,
  recordRunItems,
  reopenItem,
  updateItem,
  type UpdatedEvent,
} from '../../../reports/remediation.js';
import type { RemediationItem, RunRecord } from '../../../reports/run-record.js';
import { FIRST_FAILING_RUN, makeRunRecord, type DeepPartial } from '../../helpers/run-record-fixture.js';

let evidenceDir: string;

beforeEach(async () => {
  evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-remediation-'));
});

afterEach(async () => {
  await rm(evidenceDir, { recursive: true, force: true });
});

const registerText = () => readFile(path.join(evidenceDir, REMEDIATION_FILE), 'utf8');

function item(id: string, overrides: Partial<RemediationItem> = {}): RemediationItem {
  return { id, findingId: 'F-1', title: `Fix ${id}`, correctiveAction: 'Fix it and re-run', severity: 'P2', owner: 'team-payments', due: '2027-01-31', status: 'open', ...overrides };
}

/** A first run of orders-db that missed its RTO and failed a check: three items. */
function failingRun(overrides: DeepPartial<RunRecord> = {}): RunRecord {
  return makeRunRecord({
    ...FIRST_FAILING_RUN,
    remediation: [
      item('REM-aaaa1111-1', { title: 'RTO target missed', severity: 'P1', verifiable: { target: 'rto' } }),
      item('REM-aaaa1111-2', { title: 'Data check failed: orders row count', verifiable: { check: 'orders row count' } }),
      item('REM-aaaa1111-3', { title: 'Runbook lacks the DNS step', severity: 'P3', due: '2026-11-15' }),
    ],
    ...overrides,
  });
}

/** Writes a complete, verifiable evidence bundle for `record`; returns its directory. */
async function writeBundle(record: RunRecord): Promise<string> {
  const bundle = await EvidenceBundle.create(evidenceDir, runDirName(new Date(record.startedAt), record.scenario.name, record.runId));
  for (const event of record.timeline) await bundle.appendTimeline(event);
  await bundle.finalize(record);
  return bundle.dir;
}

/** A later run: by default of the same system, RTO met, every check passed. */
function laterRun(runId: string, overrides: DeepPartial<RunRecord> = {}): RunRecord {
  return makeRunRecord({ runId, startedAt: '2026-12-01T10:00:00.000Z', endedAt: '2026-12-01T10:05:00.000Z', remediation: [], findings: [], ...overrides });
}

describe('recordRunItems and readRegister', () => {
  it('reads a missing register as empty', async () => {
    expect(await readRegister(evidenceDir)).toEqual({ items: [], warnings: [] });
    expect(await readRegister(path.join(evidenceDir, 'does-not-exist'))).toEqual({ items: [], warnings: [] });
  });

  it('opens one item per remediation entry with the run it came from, and re-recording adds nothing', async () => {
    const record = failingRun();
    await recordRunItems(evidenceDir, record);
    const before = await registerText();
    await recordRunItems(evidenceDir, record);
    expect(await registerText()).toBe(before);
    expect(before.trim().split('\n')).toHaveLength(3);

    const { items, warnings } = await readRegister(evidenceDir, { now: new Date('2026-11-10T00:00:00Z') });
    expect(warnings).toEqual([]);
    expect(items.map((i) => i.id)).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-2', 'REM-aaaa1111-3']);
    expect(items[0]).toMatchObject({
      system: 'orders-db',
      runId: record.runId,
      scenario: 'orders-db-failover',
      type: 'failover',
      environment: 'staging',
      severity: 'P1',
      status: 'open',
      overdue: false,
      verifiable: { target: 'rto' },
    });
    expect(items[0]!.history).toHaveLength(1);
  });

  it('marks open items due before today as overdue, by the clock it is given', async () => {
    await recordRunItems(evidenceDir, failingRun());
    const overdueOn = async (now: string) =>
      (await readRegister(evidenceDir, { now: new Date(now) })).items.filter((i) => i.overdue).map((i) => i.id);
    expect(await overdueOn('2026-11-15T23:59:00Z')).toEqual([]);
    expect(await overdueOn('2026-11-16T00:00:00Z')).toEqual(['REM-aaaa1111-3']);
    expect(await overdueOn('2027-02-01T00:00:00Z')).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-2', 'REM-aaaa1111-3']);
  });

  it('records a run once even when two writers record it at the same time', async () => {
    const record = failingRun();
    await Promise.all([recordRunItems(evidenceDir, record), recordRunItems(evidenceDir, record), recordRunItems(evidenceDir, record)]);
    expect((await registerText()).trim().split('\n')).toHaveLength(3);
  });

  it('lists, for a later run, the items earlier runs of the same system opened, with their status now', async () => {
    await recordRunItems(evidenceDir, failingRun());
    await recordRunItems(evidenceDir, makeRunRecord({ runId: 'other-system-run', startedAt: '2026-11-02T00:00:00.000Z', system: { name: 'billing-db' }, remediation: [item('REM-b-1')] }));
    await closeItem(evidenceDir, 'REM-aaaa1111-3', { note: 'runbook fixed', by: 'ana' }, { now: new Date('2026-11-20T00:00:00Z') });
    const later = laterRun('bbbb2222-0000-4000-8000-000000000002', { remediation: [item('REM-bbbb2222-1')] });
    await recordRunItems(evidenceDir, later);
    const { items } = await earlierItemsFor(evidenceDir, later, { now: new Date('2026-12-01T12:00:00Z') });
    expect(items).toEqual([
      expect.objectContaining({ id: 'REM-aaaa1111-1', status: 'open', overdue: false, verifiedBy: null, closedAt: null }),
      expect.objectContaining({ id: 'REM-aaaa1111-2', status: 'open' }),
      expect.objectContaining({ id: 'REM-aaaa1111-3', status: 'closed', overdue: false, verifiedBy: null, closedAt: '2026-11-20T00:00:00.000Z' }),
    ]);
    expect((await earlierItemsFor(evidenceDir, failingRun())).items).toEqual([]);
  });

  it('qualifies an item id that another run already used instead of merging the two', async () => {
    await recordRunItems(evidenceDir, makeRunRecord({ runId: 'run-one-0001', remediation: [item('REM-1')] }));
    await recordRunItems(evidenceDir, makeRunRecord({ runId: 'run-two-0002', remediation: [item('REM-1')] }));
    const { items } = await readRegister(evidenceDir);
    expect(items.map((i) => [i.id, i.itemId, i.runId])).toEqual([
      ['REM-1', 'REM-1', 'run-one-0001'],
      ['REM-1@runtwo00', 'REM-1', 'run-two-0002'],
    ]);
  });

  it('refuses a malformed item without writing anything', async () => {
    await expect(recordRunItems(evidenceDir, makeRunRecord({ remediation: [item('REM-1', { due: '2027-13-01' })] }))).rejects.toThrow(RegisterError);
    expect(await readRegister(evidenceDir)).toEqual({ items: [], warnings: [] });
  });
});

describe('damaged lines', () => {
  it('skips a torn last line with a warning, and the next append starts on a fresh line', async () => {
    await recordRunItems(evidenceDir, failingRun());
    const file = path.join(evidenceDir, REMEDIATION_FILE);
    await appendFile(file, '{"v":1,"type":"updated","id":"REM-aaaa1111-1","at":"2026-11');
    const torn = await readRegister(evidenceDir);
    expect(torn.items).toHaveLength(3);
    expect(torn.warnings).toHaveLength(1);
    expect(torn.warnings[0]).toMatch(/remediation\.jsonl:4: skipped a damaged line: .*incomplete/);

    await updateItem(evidenceDir, 'REM-aaaa1111-1', { owner: 'dba-team', note: 'DBAs own failover tuning', by: 'ana' });
    const after = await readRegister(evidenceDir);
    expect(after.items.find((i) => i.id === 'REM-aaaa1111-1')?.owner).toBe('dba-team');
    expect(after.warnings).toEqual([expect.stringMatching(/remediation\.jsonl:4: skipped a damaged line/)]);
  });

  it('skips a line whose checksum no longer matches, keeping the lines around it', async () => {
    await recordRunItems(evidenceDir, failingRun());
    const file = path.join(evidenceDir, REMEDIATION_FILE);
    const lines = (await registerText()).split('\n');
    lines[1] = lines[1]!.replace('"P2"', '"P4"');
    await writeFile(file, lines.join('\n'));
    const { items, warnings } = await readRegister(evidenceDir);
    expect(items.map((i) => i.id)).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-3']);
    expect(warnings).toEqual([expect.stringMatching(/:2: skipped a damaged line: checksum mismatch/)]);
  });

  it('round-trips any text through the checksummed line format', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (note: string, owner: string) => {
        const event: UpdatedEvent = { v: 1, type: 'updated', id: 'REM-1', at: '2026-11-26T17:00:00.000Z', by: 'ana', changes: { owner }, previous: { owner: 'x' }, note };
        const line = encodeEvent(event);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        expect(decodeEvent(line.slice(0, -1))).toEqual({ event });
      }),
    );
  });
});

describe('updateItem', () => {
  beforeEach(async () => {
    await recordRunItems(evidenceDir, failingRun());
  });

  it('changes owner, due, severity and corrective action, keeping what they were in the history', async () => {
    const updated = await updateItem(
      evidenceDir,
      'REM-aaaa1111-3',
      { owner: 'sre-oncall', due: '2027-03-01', severity: 'p2', correctiveAction: 'Add the DNS cutover step', note: 'agreed in review', by: 'chloe' },
      { now: new Date('2026-11-20T09:00:00Z') },
    );
    expect(updated).toMatchObject({ owner: 'sre-oncall', due: '2027-03-01', severity: 'P2', correctiveAction: 'Add the DNS cutover step', status: 'open' });
    const { items } = await readRegister(evidenceDir);
    const history = items.find((i) => i.id === 'REM-aaaa1111-3')!.history;
    expect(history.map((e) => e.type)).toEqual(['opened', 'updated']);
    expect(history[1]).toMatchObject({
      by: 'chloe',
      at: '2026-11-20T09:00:00.000Z',
      note: 'agreed in review',
      changes: { owner: 'sre-oncall', due: '2027-03-01', severity: 'P2' },
      previous: { owner: 'team-payments', due: '2026-11-15', severity: 'P3' },
    });
  });

  it.each([
    ['an unknown id', 'REM-nope', { owner: 'x' }, /no remediation item "REM-nope"/],
    ['a date that does not exist', 'REM-aaaa1111-1', { due: '2027-02-30' }, /not a calendar date/],
    ['a date in another format', 'REM-aaaa1111-1', { due: '31/01/2027' }, /write YYYY-MM-DD/],
    ['a severity outside P1–P4', 'REM-aaaa1111-1', { severity: 'P5' }, /severity: "P5" is not one of P1, P2, P3, P4/],
    ['an empty note', 'REM-aaaa1111-1', { owner: 'x', note: '  ' }, /a note is required/],
    ['no change at all', 'REM-aaaa1111-1', {}, /nothing to change/],
    ['values it already has', 'REM-aaaa1111-1', { owner: 'team-payments' }, /already has these values/],
    ['an owner spanning lines', 'REM-aaaa1111-1', { owner: 'a\nb' }, /owner must be one line/],
  ])('refuses %s and writes nothing', async (_name, id, change, message) => {
    const before = await registerText();
    await expect(updateItem(evidenceDir, id, { note: 'n', by: 'ana', ...change })).rejects.toThrow(message);
    await expect(updateItem(evidenceDir, id, { note: 'n', by: 'ana', ...change })).rejects.toBeInstanceOf(RegisterError);
    expect(await registerText()).toBe(before);
  });

  it('keeps every event when many updates run at once', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        updateItem(evidenceDir, `REM-aaaa1111-${(n % 3) + 1}`, { owner: `owner-${n}`, note: `change ${n}`, by: 'ana' }),
      ),
    );
    const { items, warnings } = await readRegister(evidenceDir);
    expect(warnings).toEqual([]);
    expect(items.reduce((sum, i) => sum + i.history.length, 0)).toBe(33);
    const owners = items.flatMap((i) => i.history.filter((e): e is UpdatedEvent => e.type === 'updated').map((e) => e.changes.owner));
    expect(new Set(owners)).toEqual(new Set(Array.from({ length: 30 }, (_, n) => `owner-${n}`)));
  });
});

describe('closeItem', () => {
  beforeEach(async () => {
    const first = failingRun();
    await writeBundle(first);
    await recordRunItems(evidenceDir, first);
  });

  async function refused(id: string, close: { note?: string; verifiedBy?: string }, message: RegExp): Promise<void> {
    const before = await registerText();
    await expect(closeItem(evidenceDir, id, { note: 'fixed', by: 'ana', ...close })).rejects.toThrow(message);
    expect(await registerText()).toBe(before);
  }

  it('refuses to close a measured-target item with a note alone', async () => {
    await refused('REM-aaaa1111-1', {}, /closes only with --verified-by RUN_ID \(a later re-test of orders-db-failover showing the RTO target met\) or, without verification, with --accept-risk --owner NAME/);
  });

  it('refuses runs that do not qualify, naming why', async () => {
    await writeBundle(laterRun('bbbb2222-0000-4000-8000-000000000002', { system: { name: 'billing-db' } }));
    await writeBundle(laterRun('cccc3333-0000-4000-8000-000000000003', { verdict: { rto: 'missed' } }));
    await writeBundle(laterRun('dddd4444-0000-4000-8000-000000000004', { startedAt: '2026-10-01T10:00:00.000Z' }));
    await writeBundle(laterRun('eeee5555-0000-4000-8000-000000000005', { checks: [] }));
    await writeBundle(laterRun('eeee5556-0000-4000-8000-000000000006'));
    const tampered = await writeBundle(laterRun('ffff6666-0000-4000-8000-000000000007'));
    await writeFile(path.join(tampered, 'report.md'), '# all good, trust me\n');

    await refused('REM-aaaa1111-1', { verifiedBy: 'bbbb2222' }, /run of billing-db, not of orders-db/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'cccc3333' }, /RTO target missed, not met/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'dddd4444' }, /not after the run that opened the item/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'aaaa1111' }, /the run that opened the item/);
    await refused('REM-aaaa1111-2', { verifiedBy: 'eeee5555-0000' }, /no check named `orders row count`/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'eeee555' }, /matches 2 runs/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'ffff6666' }, /does not verify \(.*changed: report\.md/);
    await refused('REM-aaaa1111-1', { verifiedBy: '9999aaaa' }, /no run with that id/);
    await refused('REM-aaaa1111-1', { verifiedBy: 'ab' }, /at least its first 4 characters/);
  });

  it('refuses a later run whose record shows the check failed', async () => {
    await writeBundle(
      laterRun('bbbb2222-0000-4000-8000-000000000002', {
        checks: [{ name: 'orders row count', type: 'row-count', passed: false, expected: '>= 10000', actual: '9100' }],
      }),
    );
    await refused('REM-aaaa1111-2', { verifiedBy: 'bbbb2222' }, /check `orders row count` failed \(expected >= 10000, got 9100\)/);
  });

  it('closes a measured-target item with a later run of the same system that met the target, and records what it showed', async () => {
    const later = laterRun('bbbb2222-0000-4000-8000-000000000002');
    const laterDir = await writeBundle(later);
    const closed = await closeItem(evidenceDir, 'REM-aaaa1111-1', { note: 'standby pre-warmed', verifiedBy: 'bbbb2222', by: 'ana' });
    expect(closed).toMatchObject({ status: 'closed', verifiedBy: later.runId, closeNote: 'standby pre-warmed' });
    expect(closed.verification).toMatchObject({ runId: later.runId, dir: path.basename(laterDir), startedAt: later.startedAt });
    expect(closed.verification!.shows).toMatch(/^RTO met: 12\.34 s ± 0\.26 s against a target of 900 s \(missed target: 900 s\), re-test by orders-db-failover \(failover, passed\) in staging$/);

    const checkItem = await closeItem(evidenceDir, 'REM-aaaa1111-2', { note: 'fixed the archive gap', verifiedBy: later.runId, by: 'ana' });
    expect(checkItem.verification!.shows).toMatch(/check `orders row count` passed/);

    const { items } = await readRegister(evidenceDir);
    expect(filterItems(items, { status: 'closed' }).map((i) => i.id)).toEqual(['REM-aaaa1111-1', 'REM-aaaa1111-2']);
    await expect(closeItem(evidenceDir, 'REM-aaaa1111-1', { note: 'again', by: 'ana' })).rejects.toThrow(/already closed/);
    await expect(updateItem(evidenceDir, 'REM-aaaa1111-1', { owner: 'x', note: 'n', by: 'ana' })).rejects.toThrow(/is closed; reopen it/);
  });

  it('closes a note-only item with a note; a run it names must still be of the same system', async () => {
    await writeBundle(laterRun('bbbb2222-0000-4000-8000-000000000002', { system: { name: 'billing-db' } }));
    await refused('REM-aaaa1111-3', { verifiedBy: 'bbbb2222' }, /not of orders-db/);
    await refused('REM-aaaa1111-3', { note: '' }, /a note is required/);
    const closed = await closeItem(evidenceDir, 'REM-aaaa1111-3', { note: 'DNS step added to runbook v7', by: 'chloe' });
    expect(closed).toMatchObject({ status: 'closed', verifiedBy: null, verification: null });

    const reopened = await reopenItem(evidenceDir, 'REM-aaaa1111-3', { note: 'step missing again in v8', by: 'ana' });
    expect(reopened.status).toBe('open');
    expect(reopened.closedAt).toBeUndefined();
    expect(reopened.history.map((e) => e.type)).toEqual(['opened', 'closed', 'reopened']);
  });
});

describe('export', () => {
  it('writes one CSV row per item under the documented header, quoting and neutralising formulas', async () => {
    await recordRunItems(
      evidenceDir,
      failingRun({
        remediation: [
          item('REM-1', { title: '=HYPERLINK("http://evil","click")', owner: '+1 555 0100' }),
          item('REM-2', { title: 'Lost writes, "3" of them\nsee report', correctiveAction: '@SUM(A1)', owner: '-team' }),
          item('REM-3', { title: 'plain' }),
        ],
      }),
    );
    const { items } = await readRegister(evidenceDir);
    const csv = registerToCsv(items);
    expect(csv.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(csv);
    expect(header).toEqual([...REGISTER_CSV_COLUMNS]);
    expect(rows).toHaveLength(3);
    const col = (row: string[], name: (typeof REGISTER_CSV_COLUMNS)[number]) => row[REGISTER_CSV_COLUMNS.indexOf(name)];
    expect(col(rows[0]!, 'title')).toBe(`'=HYPERLINK("http://evil","click")`);
    expect(col(rows[0]!, 'owner')).toBe(`'+1 555 0100`);
    expect(col(rows[1]!, 'title')).toBe('Lost writes, "3" of them\nsee report');
    expect(col(rows[1]!, 'corrective_action')).toBe(`'@SUM(A1)`);
    expect(col(rows[1]!, 'owner')).toBe(`'-team`);
    expect(col(rows[2]!, 'due')).toBe('2027-01-31');
    expect(csvCell('\tcmd')).toBe(`'\tcmd`);
  });

  it('exports JSON with every item and its history', async () => {
    await recordRunItems(evidenceDir, failingRun());
    const { items } = await readRegister(evidenceDir);
    const parsed = JSON.parse(registerToJson(items, new Date('2026-12-01T00:00:00Z'))) as { schema: string; exportedAt: string; items: { id: string; history: unknown[] }[] };
    expect(parsed.schema).toBe('drillbook.dev/remediation-register/v1');
    expect(parsed.items.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(parsed.items[0]!.history).toHaveLength(1);
  });
});

describe('plan revisions in a register written before v1.1', () => {
  it('reads the plan version the item was found under from its run, refuses an older one and records the revision', async () => {
    const first = failingRun(); // plan acme-continuity 2026.3
    await writeBundle(first);
    await recordRunItems(evidenceDir, first);
    // Rewrite the opened events as v1.0 wrote them: no planVersion.
    const lines = (await registerText()).trim().split('\n').map((line) => {
      const decoded = decodeEvent(line);
      if (!('event' in decoded)) throw new Error(decoded.problem);
      const { planVersion: _planVersion, ...older } = decoded.event as { planVersion?: string };
      return encodeEvent(older as Parameters<typeof encodeEvent>[0]);
    });
    await writeFile(path.join(evidenceDir, REMEDIATION_FILE), lines.join(''));
    expect((await registerText()).includes('"planVersion"')).toBe(false);

    await expect(closeItem(evidenceDir, 'REM-aaaa1111-3', { note: 'runbook fixed', by: 'ana', planVersion: '2026.2' })).rejects.toThrow(
      /the item was found under plan version 2026\.3; name the later version that carries the fix/,
    );
    const closed = await closeItem(evidenceDir, 'REM-aaaa1111-3', { note: 'DNS step added to the runbook', by: 'ana', planVersion: '2026.10' });
    expect(closed).toMatchObject({ planVersion: '2026.10', openedPlanVersion: '2026.3', resolution: 'note' });
    const later = makeRunRecord({ runId: 'eeee5555-0000-4000-8000-000000000005', startedAt: '2026-12-03T10:00:00.000Z' });
    const { items } = await earlierItemsFor(evidenceDir, later);
    expect(items.find((i) => i.id === 'REM-aaaa1111-3')).toMatchObject({ openedPlanVersion: '2026.3', planVersion: '2026.10' });
  });
});
