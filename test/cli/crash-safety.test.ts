/**
 * Crash safety, end to end through the CLI: a drill killed with SIGKILL right after T0 is
 * finished by `drillbook recover`; a drill interrupted with Ctrl+C (SIGINT) rolls back and
 * exits 3. Either way no PostgreSQL process, scratch directory or port of the drill remains,
 * and the run's evidence records what happened.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../reports/evidence.js';
import type { RunRecord } from '../../reports/run-record.js';
import { isPortFree, processesMentioning } from '../../runners/system.js';
import { REPO_ROOT, runCli, startCli } from '../helpers/cli.js';
import { makeDrillDirs, onlyRunDir, removeDrillDirs } from '../helpers/drill-dirs.js';

const FAILOVER = path.join(REPO_ROOT, 'scenarios', 'samples', 'orders-db-failover.yaml');

/** Ports the sandbox servers listened on, from the run's own timeline. */
function sandboxPorts(runDir: string): number[] {
  return fs
    .readFileSync(path.join(runDir, 'timeline.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; detail?: { port?: number } })
    .filter((e) => e.event.startsWith('sandbox') && e.detail?.port)
    .map((e) => e.detail!.port!);
}

async function expectNothingLeft(scratch: string, ports: number[]): Promise<void> {
  expect(processesMentioning(scratch)).toEqual([]);
  expect(fs.readdirSync(scratch)).toEqual([]);
  for (const port of ports) expect(await isPortFree(port), `port ${port}`).toBe(true);
}

describe('crash safety', () => {
  let scratch: string;
  let evidence: string;

  beforeEach(() => void ({ scratch, evidence } = makeDrillDirs()));
  afterEach(() => removeDrillDirs({ scratch, evidence }));

  it('SIGKILL right after T0, then recover: nothing remains and the evidence says so', async () => {
    const drill = startCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch } });
    await drill.waitFor('s] T0: ');
    drill.child.kill('SIGKILL');
    await drill.done;

    const runDir = onlyRunDir(evidence);
    const ports = sandboxPorts(runDir);
    expect(ports.length).toBeGreaterThanOrEqual(2);
    // The killed drill left its sandbox behind: that is what recover is for.
    expect(fs.readdirSync(scratch).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(runDir, 'manifest.json'))).toBe(false);

    const recovered = await runCli(['recover', '--evidence', evidence]);
    expect(recovered.code, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.stdout).toContain('recovered');
    await expectNothingLeft(scratch, ports);

    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(record.outcome).toBe('aborted');
    expect(record.teardown.complete).toBe(true);
    expect(record.teardown.recoveredBy).toMatch(/drillbook recover/);
    expect(record.teardown.undos.filter((u) => u.by === 'recover').length).toBeGreaterThanOrEqual(3);
    expect(record.teardown.deletions.map((d) => d.what)).toContain('sandbox');
    expect(record.t0).not.toBeNull();
    expect((await verifyBundle(runDir)).ok).toBe(true);

    // A second recover finds nothing left to do.
    const again = await runCli(['recover', '--evidence', evidence]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to recover');
  });

  it('Ctrl+C during the drill rolls back and exits 3', async () => {
    const drill = startCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch } });
    await drill.waitFor('s] T0: ');
    // recover must leave a drill whose process is alive alone.
    const meanwhile = await runCli(['recover', '--evidence', evidence]);
    expect(meanwhile.code).toBe(0);
    expect(meanwhile.stdout).toMatch(/still running/);
    drill.child.kill('SIGINT');
    const result = await drill.done;
    expect(result.code, result.stdout + result.stderr).toBe(3);

    const runDir = onlyRunDir(evidence);
    await expectNothingLeft(scratch, sandboxPorts(runDir));
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(record.outcome).toBe('aborted');
    expect(record.abort?.reason).toMatch(/SIGINT/);
    expect(record.teardown.complete).toBe(true);
    expect((await verifyBundle(runDir)).ok).toBe(true);
  });
});
