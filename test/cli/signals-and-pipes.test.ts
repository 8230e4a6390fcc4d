/**
 * Issue 13 finding 12: a closed stdout (`drillbook run … | head -1`) killed a drill with an
 * EPIPE stack trace, sometimes leaving its PostgreSQL processes behind. Now a reader that goes
 * away, SIGTERM and SIGHUP all roll back like the first Ctrl+C: exit 3 (aborted) when it
 * happens mid-drill, no stack trace, no process of the drill left, the run finalized and
 * `verify` intact. The drill's PostgreSQL processes are found by the PIDs in their
 * postmaster.pid files, read while the drill runs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../reports/evidence.js';
import type { RunRecord } from '../../reports/run-record.js';
import { processesMentioning } from '../../runners/system.js';
import { CLI, REPO_ROOT, startCli } from '../helpers/cli.js';
import { makeDrillDirs, onlyRunDir, removeDrillDirs } from '../helpers/drill-dirs.js';

const FAILOVER = path.join(REPO_ROOT, 'scenarios', 'samples', 'orders-db-failover.yaml');
const STACK_TRACE = /^\s+at .+\(?.+:\d+:\d+\)?$/m;

/** PIDs of the postmasters under `scratch`, collected until stop() (servers come and go). */
function watchPostmasters(scratch: string): { pids: Set<number>; stop(): void } {
  const pids = new Set<number>();
  const look = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isFile() && entry.name === 'postmaster.pid') {
        try {
          const pid = Number(fs.readFileSync(full, 'utf8').split('\n')[0]);
          if (pid > 0) pids.add(pid);
        } catch {
          // removed while we looked
        }
      } else if (entry.isDirectory() && depth < 4) look(full, depth + 1);
    }
  };
  const timer = setInterval(() => look(scratch, 0), 50);
  return { pids, stop: () => clearInterval(timer) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('signals and pipes roll back like the first Ctrl+C', () => {
  let scratch: string;
  let evidence: string;

  beforeEach(() => void ({ scratch, evidence } = makeDrillDirs()));
  afterEach(() => removeDrillDirs({ scratch, evidence }));

  async function expectFinalizedAndClean(postmasters: Set<number>, outcome: RunRecord['outcome']): Promise<RunRecord> {
    expect(postmasters.size, 'the drill started PostgreSQL servers').toBeGreaterThanOrEqual(1);
    for (const pid of postmasters) expect(alive(pid), `postmaster ${pid} left running`).toBe(false);
    expect(processesMentioning(scratch)).toEqual([]);
    expect(fs.readdirSync(scratch)).toEqual([]);
    const runDir = onlyRunDir(evidence);
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(record.outcome).toBe(outcome);
    expect(record.teardown.complete).toBe(true);
    expect(record.teardown.recoveredBy).toBeNull();
    expect((await verifyBundle(runDir)).ok).toBe(true);
    return record;
  }

  it('`drillbook run … | head -1`: no stack trace, the run finalized, nothing left', async () => {
    const codeFile = path.join(evidence, '..', `${path.basename(evidence)}.code`);
    const postmasters = watchPostmasters(scratch);
    // The shell pipeline as a user types it; bash reports the drillbook side's exit status.
    const child = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" run "${FAILOVER}" --evidence "${evidence}" | head -1; echo "\${PIPESTATUS[0]}" > "${codeFile}"`], {
      cwd: REPO_ROOT,
      env: { ...process.env, CI: 'true', TMPDIR: scratch },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    postmasters.stop();
    const code = Number(fs.readFileSync(codeFile, 'utf8').trim());
    fs.rmSync(codeFile);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stdout).toMatch(/^drill orders-db-failover/);
    expect(stderr).not.toMatch(STACK_TRACE);
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
    // stdout is written to only at the start and the end: the drill ran to its end, and the
    // closed pipe cost only the summary lines. Exit code: the drill's own (0 passed).
    expect(code, stderr).toBe(0);
    await expectFinalizedAndClean(postmasters.pids, 'passed');
  });

  it('stderr closed mid-drill (EPIPE): rolls back, exits 3, no stack trace', async () => {
    const postmasters = watchPostmasters(scratch);
    const drill = startCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch } });
    await drill.waitFor('s] T0: ');
    // The reader of stderr goes away, as `2>&1 | head` would after its lines.
    drill.child.stderr!.destroy();
    const result = await drill.done;
    postmasters.stop();
    expect(result.code, result.stdout).toBe(3);
    expect(result.stdout).not.toMatch(STACK_TRACE);
    expect(result.stdout).toMatch(/outcome: ABORTED/);
    const record = await expectFinalizedAndClean(postmasters.pids, 'aborted');
    expect(record.abort?.reason).toMatch(/stderr was closed \(EPIPE\)/);
  });

  for (const name of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${name} mid-drill: rolls back and exits 3`, async () => {
      const postmasters = watchPostmasters(scratch);
      const drill = startCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch } });
      await drill.waitFor('s] T0: ');
      drill.child.kill(name);
      const result = await drill.done;
      postmasters.stop();
      expect(result.code, result.stdout + result.stderr).toBe(3);
      expect(result.stdout + result.stderr).not.toMatch(STACK_TRACE);
      expect(result.stderr).toContain(`${name}: aborting the drill and rolling back`);
      const record = await expectFinalizedAndClean(postmasters.pids, 'aborted');
      expect(record.abort?.reason).toBe(`interrupted by ${name}`);
    });
  }
});
