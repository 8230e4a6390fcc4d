/**
 * Runs one scheduled drill as `drillbook run <file> --evidence <evidence>/<scenario>` in its
 * own process: a crash or leak in one drill cannot take the scheduler down, and the child
 * owns its journal and undo exactly as a drill started by hand does.
 *
 * The child gets its own process group (detached): a Ctrl+C in the scheduler's terminal
 * reaches the scheduler only, which forwards a single SIGTERM. Were the child in the same
 * group it would get the terminal's SIGINT *and* the forwarded SIGTERM, read that as a second
 * interrupt and exit 130 without rolling back.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../reports/paths.js';
import type { RunRecord } from '../../reports/run-record.js';
import { type SchedulerClock, systemSchedulerClock } from './clock.js';
import type { DrillJob, DrillResult, DrillSpawner, RunningDrill } from './scheduler.js';

export interface ChildSpawnerOptions {
  /** The evidence directory every scheduled drill writes to (the ledger lock serialises their seals). */
  evidenceDir: string;
  /** Every line the child prints, prefixed by the caller as it likes. */
  log?: (job: DrillJob, line: string, stream: 'stdout' | 'stderr') => void;
  /** Scenario names approved to run against production (passed on as `--confirm`). */
  confirm?: string[];
  /** The drillbook launcher; defaults to this package's bin/drillbook.js. */
  cli?: string;
  env?: NodeJS.ProcessEnv;
  /** When a drill started, to find its run directory (default: the system clock). */
  clock?: SchedulerClock;
}

export function childProcessSpawner(options: ChildSpawnerOptions): DrillSpawner {
  const cli = options.cli ?? path.join(packageRoot(), 'bin', 'drillbook.js');
  return (job: DrillJob): RunningDrill => {
    // Every scheduled drill writes to the one evidence directory, so coverage, site, verify
    // and the remediation register see them all; the ledger and register append under locks.
    const evidence = path.resolve(options.evidenceDir);
    const args = [cli, 'run', job.file, '--evidence', evidence];
    if (options.confirm?.includes(job.scenario)) args.push('--confirm', job.scenario);
    const startedAt = (options.clock ?? systemSchedulerClock).now();
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A caught-up run waits for its system whatever the scenario's overlap policy, here and
      // across runners (the child's system lock, runners/coordination/select.ts).
      env: { ...process.env, ...options.env, CI: 'true', ...(job.caughtUp ? { DRILLBOOK_OVERLAP: 'wait' } : {}) },
    });
    let reportedRunDir: string | undefined;
    const lines = (stream: 'stdout' | 'stderr') => {
      const source = stream === 'stdout' ? child.stdout : child.stderr;
      if (!source) return Promise.resolve();
      const reader = createInterface({ input: source, crlfDelay: Infinity });
      reader.on('line', (line) => {
        // `drillbook run` ends with `evidence: <run dir>/report.html`.
        const match = stream === 'stdout' ? /^evidence: (.+)[\\/]report\.html$/.exec(line) : null;
        if (match) reportedRunDir = match[1];
        options.log?.(job, line, stream);
      });
      return new Promise<void>((resolve) => reader.on('close', resolve));
    };
    const output = Promise.all([lines('stdout'), lines('stderr')]);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error: `cannot start drillbook run: ${error.message}` }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const done = (async (): Promise<DrillResult> => {
      const exit = await exited;
      await output;
      const runDir = reportedRunDir ? path.resolve(reportedRunDir) : await newestRunDir(evidence, startedAt, job.scenario);
      const record = runDir ? await readRecord(runDir) : undefined;
      const result: DrillResult = { exitCode: exit.code, signal: exit.signal };
      if (runDir) result.runDir = runDir;
      if (record) result.record = record;
      if (exit.error) result.error = exit.error;
      else if (!record) result.error = `the drill wrote no run record (exit ${exit.code ?? exit.signal}); see its output above`;
      return result;
    })();
    return {
      ...(child.pid !== undefined ? { pid: child.pid } : {}),
      done,
      terminate(signal) {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  };
}

/** The run directory the child created, when its `evidence:` line was not seen (e.g. it was killed). */
async function newestRunDir(evidence: string, notBeforeMs: number, scenario: string): Promise<string | undefined> {
  const entries = await readdir(evidence, { withFileTypes: true }).catch(() => []);
  let best: { dir: string; mtime: number } | undefined;
  for (const entry of entries) {
    // Run directories are named <time>-<scenario>-<short id>: only this scenario's count.
    if (!entry.isDirectory() || !entry.name.includes(`-${scenario}-`)) continue;
    const dir = path.join(evidence, entry.name);
    const info = await stat(path.join(dir, 'run.json')).catch(() => undefined);
    // Directory names carry a second-resolution time; mtimes say which was written by this child.
    if (info && info.mtimeMs >= notBeforeMs - 1000 && (!best || info.mtimeMs > best.mtime)) best = { dir, mtime: info.mtimeMs };
  }
  return best?.dir;
}

async function readRecord(runDir: string): Promise<RunRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    return parsed && typeof parsed === 'object' && typeof parsed.runId === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
