/**
 * Issue 13 finding 7: a drill killed after "teardown complete" (its journal closed `passed`)
 * used to be finished by `recover` as `aborted`, with an invented "RTO target missed" P1 in
 * the remediation register. Here the real CLI is SIGKILLed the instant its journal has
 * fsynced the close line (test/helpers/kill-after-close.mjs), then `recover` runs: the run
 * is sealed with the result it measured, and the register gets no item the drill did not find.
 * With DRILLBOOK_TSA set, the bundle recover seals gets its RFC 3161 timestamp too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../reports/evidence.js';
import type { RunRecord } from '../../reports/run-record.js';
import { processesMentioning } from '../../runners/system.js';
import { REPO_ROOT, runCli, startCli } from '../helpers/cli.js';
import { startLocalTsa } from '../helpers/local-tsa.js';
import { makeDrillDirs, removeDrillDirs } from '../helpers/drill-dirs.js';

const FAILOVER = path.join(REPO_ROOT, 'scenarios', 'samples', 'orders-db-failover.yaml');
const KILL_AFTER_CLOSE = path.join(REPO_ROOT, 'test', 'helpers', 'kill-after-close.mjs');

function journalLines(runDir: string): { t: string; outcome?: string }[] {
  return fs
    .readFileSync(path.join(runDir, 'journal.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { t: string; outcome?: string });
}

describe('recover respects a finished run', () => {
  let scratch: string;
  let evidence: string;

  beforeEach(() => void ({ scratch, evidence } = makeDrillDirs()));
  afterEach(() => removeDrillDirs({ scratch, evidence }));

  it('killed after "teardown complete": recover seals it passed, with no invented finding', async () => {
    const drill = startCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch, NODE_OPTIONS: `--import ${KILL_AFTER_CLOSE}` } });
    const killed = await drill.done;
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(killed.stderr).toContain('teardown complete');

    const [dir] = fs.readdirSync(evidence).filter((d) => fs.statSync(path.join(evidence, d)).isDirectory());
    const runDir = path.join(evidence, dir!);
    expect(fs.existsSync(path.join(runDir, 'manifest.json'))).toBe(false);
    const closes = journalLines(runDir).filter((e) => e.t === 'close');
    expect(closes.map((c) => c.outcome)).toEqual(['passed']);
    // The drill cleaned up after itself before it was killed.
    expect(processesMentioning(scratch)).toEqual([]);
    const registerBefore = fs.existsSync(path.join(evidence, 'remediation.jsonl')) ? fs.readFileSync(path.join(evidence, 'remediation.jsonl'), 'utf8') : '';

    const tsa = await startLocalTsa();
    const recovered = await runCli(['recover', '--evidence', evidence], { env: { DRILLBOOK_TSA: tsa.url } }).finally(() => tsa.stop());
    expect(recovered.code, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.stdout).toMatch(/sealing .* ended passed/);
    expect(fs.existsSync(path.join(runDir, 'manifest.tsr'))).toBe(true);

    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(record.outcome).toBe('passed');
    expect(record.abort).toBeNull();
    expect(record.verdict.rto).toBe('met');
    expect(record.measured.rto?.seconds).toBeGreaterThan(0);
    expect(record.findings).toEqual([]);
    expect(record.remediation).toEqual([]);
    expect(record.teardown.complete).toBe(true);
    // The drill's own teardown, not recover's, undid everything.
    expect(record.teardown.undos.every((u) => u.by === 'run' && u.status === 'done')).toBe(true);
    expect(record.timeline.at(-1)?.event).toMatch(/sealed by drillbook recover.*ended passed/);
    // The journal still says passed; recover added no `close aborted`.
    expect(journalLines(runDir).filter((e) => e.t === 'close').map((c) => c.outcome)).toEqual(['passed']);
    // No false P1 (or any item) in the register.
    const registerAfter = fs.existsSync(path.join(evidence, 'remediation.jsonl')) ? fs.readFileSync(path.join(evidence, 'remediation.jsonl'), 'utf8') : '';
    expect(registerAfter).toBe(registerBefore);
    expect(registerAfter).not.toMatch(/RTO target missed/);
    // timeline.jsonl has every event run.json lists.
    const onDisk = fs.readFileSync(path.join(runDir, 'timeline.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(onDisk.length).toBe(record.timeline.length);
    expect((await verifyBundle(runDir)).ok).toBe(true);
    const verify = await runCli(['verify', evidence]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
