/**
 * Issue 13, finding 9: the remediation register was not checked. Deleting the `opened` line
 * of a P1 item was invisible to `verify` and to `remediation list`. Now every line of
 * remediation.jsonl chains to the line before it by hash: `verify` fails naming the line,
 * `remediation list` warns (it still lists what it can read: the register stays usable).
 * Crash artifacts stay tolerated: a torn line is a link of the chain like any other.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, formatProblem, runDirName, verifyEvidence } from '../../../reports/evidence.js';
import { checkRegisterText, encodeEvent, readRegister, recordRunItems, updateItem, type RegisterEvent } from '../../../reports/remediation.js';
import type { RemediationItem, RunRecord } from '../../../reports/run-record.js';
import { runCli } from '../../helpers/cli.js';
import { FIRST_FAILING_RUN, makeRunRecord } from '../../helpers/run-record-fixture.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let evidence: string;
beforeEach(() => {
  evidence = mkdtempSync(path.join(os.tmpdir(), 'drillbook-register-chain-'));
});
afterEach(() => rmSync(evidence, { recursive: true, force: true }));

const registerFile = () => path.join(evidence, 'remediation.jsonl');
const registerLines = () => readFileSync(registerFile(), 'utf8').trim().split('\n');

function item(id: string, overrides: Partial<RemediationItem> = {}): RemediationItem {
  return { id, findingId: 'F-1', title: `Fix ${id}`, correctiveAction: 'Fix it and re-run', severity: 'P2', owner: 'team-payments', due: '2999-01-31', status: 'open', ...overrides };
}

/** A failed run of orders-db with a P1 item and two others, sealed and recorded in the register. */
async function seed(): Promise<RunRecord> {
  const record = makeRunRecord({
    ...FIRST_FAILING_RUN,
    remediation: [
      item('REM-aaaa1111-1', { title: 'RTO target missed', severity: 'P1', verifiable: { target: 'rto' } }),
      item('REM-aaaa1111-2', { title: 'Data check failed', verifiable: { check: 'orders row count' } }),
      item('REM-aaaa1111-3', { title: 'Runbook lacks the DNS step', severity: 'P3' }),
    ],
  });
  const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(record.startedAt), record.scenario.name, record.runId));
  for (const event of record.timeline) await bundle.appendTimeline(event);
  await bundle.finalize(record);
  await recordRunItems(evidence, record);
  await updateItem(evidence, 'REM-aaaa1111-2', { owner: 'dba-team', note: 'DBAs own the check', by: 'ana' });
  return record;
}

describe('remediation.jsonl is hash-chained', () => {
  it('each line carries prev, the sha256 of the line before (zeros first), inside its own checksum', async () => {
    await seed();
    const lines = registerLines();
    expect(lines).toHaveLength(4);
    lines.forEach((line, index) => {
      const { prev, sha256: own, ...event } = JSON.parse(line) as Record<string, unknown>;
      expect(prev).toBe(index === 0 ? '0'.repeat(64) : sha256(lines[index - 1]!));
      expect(own).toBe(sha256(JSON.stringify({ ...event, prev })));
    });
    const result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.register).toMatchObject({ ok: true, lines: 4, events: 4, legacyLines: 0 });
  });

  it('finding 9: deleting the opened line of a P1 item is detected by verify (exit 1, the line named) and warned by list', async () => {
    await seed();
    const lines = registerLines();
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'opened', item: { severity: 'P1' } });
    writeFileSync(registerFile(), `${lines.slice(1).join('\n')}\n`);

    const result = await verifyEvidence(evidence);
    expect(result.ok).toBe(false);
    expect(result.problems.map(formatProblem)).toEqual([
      'remediation.jsonl line 1: line 1 does not start the chain (its prev is not all zeros): lines were removed before it',
    ]);
    const register = await readRegister(evidence);
    expect(register.items.map((i) => i.id)).toEqual(['REM-aaaa1111-2', 'REM-aaaa1111-3']);
    expect(register.warnings).toEqual([expect.stringMatching(/remediation\.jsonl:1: the register's hash chain is broken: .*run drillbook verify/)]);

    const verify = await runCli(['verify', evidence]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain('remediation.jsonl: CHAIN BROKEN');
    expect(verify.stderr).toContain('line 1 does not start the chain');
    const list = await runCli(['remediation', 'list', '--evidence', evidence]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toMatch(/warning: .*remediation\.jsonl:1: the register's hash chain is broken/);

    // The same from the middle of the file: the line after the gap is named.
    await rmAndReseed();
    const again = registerLines();
    writeFileSync(registerFile(), `${[again[0], again[2], again[3]].join('\n')}\n`);
    expect((await verifyEvidence(evidence)).problems.map(formatProblem)).toEqual([
      'remediation.jsonl line 2: line 2 does not chain to line 1: a line was removed, inserted, reordered or replaced just before it',
    ]);
  });

  it('deleting the P1 opened line and recomputing the whole chain is caught by the register head a later ledger line anchors', async () => {
    await seed();
    // A later run: its ledger line records the register as it is then (4 lines).
    const later = makeRunRecord({ runId: 'cccc3333-0000-4000-8000-000000000003', startedAt: '2026-11-20T10:00:00.000Z', remediation: [] });
    const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(later.startedAt), later.scenario.name, later.runId));
    await bundle.finalize(later);
    const ledger = readFileSync(path.join(evidence, 'ledger.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(ledger[0]!)).not.toHaveProperty('registerHead');
    expect(JSON.parse(ledger[1]!)).toMatchObject({ registerHead: { lines: 4, sha256: sha256(registerLines()[3]!) } });
    // Appends after the anchor are fine.
    await updateItem(evidence, 'REM-aaaa1111-3', { owner: 'sre', note: 'handover', by: 'ana' });
    expect((await verifyEvidence(evidence)).problems.map(formatProblem)).toEqual([]);

    // The attacker drops the opened line and rebuilds every prev and checksum after it.
    const kept = registerLines().slice(1).map((line) => {
      const { prev: _prev, sha256: _sha, ...event } = JSON.parse(line) as Record<string, unknown>;
      return event as unknown as RegisterEvent;
    });
    let prev = '0'.repeat(64);
    const rebuilt = kept.map((event) => {
      const line = encodeEvent(event, prev);
      prev = sha256(line.slice(0, -1));
      return line;
    });
    writeFileSync(registerFile(), rebuilt.join(''));
    const result = await verifyEvidence(evidence);
    expect(result.register).toMatchObject({ ok: true });
    expect(result.problems.map(formatProblem)).toEqual([
      'ledger.jsonl line 2: line 2 anchors remediation.jsonl at its line 4, and that line is not the one anchored: the register was rewritten at or before its line 4',
    ]);
  });

  it('reordered lines, and a torn-looking fragment put in place of a real line, break the chain', async () => {
    await seed();
    const lines = registerLines();
    writeFileSync(registerFile(), `${[lines[1], lines[0], lines[2], lines[3]].join('\n')}\n`);
    expect((await verifyEvidence(evidence)).problems.map((p) => p.line)).toEqual([1, 2, 3]);
    writeFileSync(registerFile(), `${[lines[0], '{"v":1,"type":"ope', lines[2], lines[3]].join('\n')}\n`);
    expect((await verifyEvidence(evidence)).problems.map(formatProblem)).toEqual([
      'remediation.jsonl line 3: line 3 does not chain to line 2: a line was removed, inserted, reordered or replaced just before it',
    ]);
  });

  it('an edited line is named once (its checksum), not again as a broken link', async () => {
    await seed();
    const lines = registerLines();
    lines[2] = lines[2]!.replace('"P3"', '"P4"');
    writeFileSync(registerFile(), `${lines.join('\n')}\n`);
    expect((await verifyEvidence(evidence)).problems.map(formatProblem)).toEqual([
      'remediation.jsonl line 3: line 3: checksum mismatch (the line was damaged or edited)',
    ]);
  });

  it('a torn last line is tolerated (a note, not a failure) and the next append chains to it, so the chain stays whole', async () => {
    await seed();
    appendFileSync(registerFile(), '{"v":1,"type":"updated","id":"REM-aaaa1111-1","at":"2026-11');
    let result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.notes).toContainEqual(expect.stringContaining('remediation.jsonl line 5: not valid JSON (torn by a crash mid-append?); the last line is incomplete'));

    await updateItem(evidence, 'REM-aaaa1111-1', { owner: 'sre', note: 'after the crash', by: 'ana' });
    const lines = readFileSync(registerFile(), 'utf8').split('\n');
    expect(lines[4]).toBe('{"v":1,"type":"updated","id":"REM-aaaa1111-1","at":"2026-11');
    expect(JSON.parse(lines[5]!)).toMatchObject({ type: 'updated', prev: sha256(lines[4]!) });
    result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.register).toMatchObject({ ok: true, tornLines: [5] });
    expect((await readRegister(evidence)).warnings).toEqual([expect.stringMatching(/remediation\.jsonl:5: skipped a damaged line/)]);
  });

  it('a register written before the chain reads as legacy up to the first chained line; an unchained line after it is a failure', async () => {
    const record = await seed();
    // The same events as an older drillbook wrote them: no prev.
    const events = registerLines().map((line) => {
      const { prev: _prev, sha256: _sha, ...event } = JSON.parse(line) as Record<string, unknown>;
      return event as unknown as RegisterEvent;
    });
    writeFileSync(registerFile(), events.map((event) => encodeEvent(event)).join(''));
    let result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.register).toMatchObject({ legacyLines: 4 });
    expect(result.notes).toContainEqual(expect.stringContaining('lines 1–4 were written before the register was hash-chained'));
    expect((await readRegister(evidence)).warnings).toEqual([]);

    // The first new append chains onto the last legacy line.
    await updateItem(evidence, 'REM-aaaa1111-3', { owner: 'sre', note: 'handover', by: 'ana' });
    expect(JSON.parse(registerLines()[4]!)).toMatchObject({ prev: sha256(registerLines()[3]!) });
    expect((await verifyEvidence(evidence)).ok).toBe(true);

    // A line in the old form after the chain started: added by hand.
    appendFileSync(registerFile(), encodeEvent({ ...events[3]!, at: '2026-12-01T00:00:00.000Z' } as RegisterEvent));
    result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([
      'remediation.jsonl line 6: line 6 has no prev, but the lines before it are chained: it was added by hand or by another tool',
    ]);
    expect(record.runId).toBe(FIRST_FAILING_RUN.runId);
  });

  it('many appends from one process at once keep one chain', async () => {
    await seed();
    await Promise.all(Array.from({ length: 20 }, (_, i) => updateItem(evidence, 'REM-aaaa1111-3', { owner: `owner-${i}`, note: `n${i}`, by: 'ana' })));
    const check = checkRegisterText(readFileSync(registerFile(), 'utf8'));
    expect(check.chain).toEqual([]);
    expect(check.events).toHaveLength(24);
  });
});

async function rmAndReseed(): Promise<void> {
  rmSync(evidence, { recursive: true, force: true });
  evidence = mkdtempSync(path.join(os.tmpdir(), 'drillbook-register-chain-'));
  await seed();
}
