/**
 * Test doubles for the scheduler: a spawner whose drills take a declared time on a
 * ManualClock (and roll back for a minute when they get SIGTERM), scenario fixtures, and an
 * independent oracle for due times (brute force, minute by minute, through Intl) so expected
 * times do not come from the code under test.
 */
import type { RunRecord } from '../../../reports/run-record.js';
import type { ManualClock } from '../../../runners/scheduler/clock.js';
import type { DrillJob, DrillResult, DrillSpawner, ScheduledScenario } from '../../../runners/scheduler/scheduler.js';
import type { Schedule } from '../../../scenarios/schema-schedule.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function scheduled(
  name: string,
  system: string,
  schedule: Partial<Schedule> & { cron: string },
): ScheduledScenario {
  return {
    key: `${name}.yaml`,
    file: `/drills/${name}.yaml`,
    name,
    system,
    tier: 1,
    type: 'failover',
    environment: 'staging',
    schedule: { overlap: 'skip', missed: 'record', ...schedule },
  };
}

export interface FakeRun {
  job: DrillJob;
  startedAt: number;
  endedAt?: number;
  terminatedWith?: NodeJS.Signals;
  exitCode?: number;
}

/** Drills that take `durationMs(job)` of simulated time; SIGTERM makes them roll back for `rollbackMs` and exit 3. */
export function fakeSpawner(clock: ManualClock, durationMs: (job: DrillJob) => number, rollbackMs = MINUTE) {
  const runs: FakeRun[] = [];
  let pid = 1000;
  const spawner: DrillSpawner = (job) => {
    const run: FakeRun = { job, startedAt: clock.now() };
    runs.push(run);
    let finish!: (result: DrillResult) => void;
    const done = new Promise<DrillResult>((resolve) => (finish = resolve));
    const end = (exitCode: number, outcome: RunRecord['outcome']) => {
      run.endedAt = clock.now();
      run.exitCode = exitCode;
      finish({
        exitCode,
        signal: null,
        runDir: `/evidence/${job.scenario}/run-${runs.indexOf(run)}`,
        record: { runId: `run-${runs.indexOf(run)}`, outcome } as RunRecord,
      });
    };
    const normal = clock.setTimer(durationMs(job), () => end(0, 'passed'));
    return {
      pid: pid++,
      done,
      terminate(signal) {
        if (run.endedAt !== undefined || run.terminatedWith) return;
        run.terminatedWith = signal;
        normal.cancel();
        clock.setTimer(rollbackMs, () => end(3, 'aborted'));
      },
    };
  };
  return { spawner, runs };
}

interface LocalTime {
  minute: number;
  hour: number;
  /** 0 = Sunday. */
  weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function localTime(ms: number, format: Intl.DateTimeFormat): LocalTime {
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { minute: Number(parts.minute), hour: Number(parts.hour) % 24, weekday: WEEKDAYS.indexOf(parts.weekday!) };
}

/** Every whole minute in [fromMs, toMs) whose local time in `timeZone` matches. */
export function dueTimesByBruteForce(fromMs: number, toMs: number, timeZone: string, matches: (t: LocalTime) => boolean): number[] {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', weekday: 'short' });
  const times: number[] = [];
  for (let t = Math.ceil(fromMs / MINUTE) * MINUTE; t < toMs; t += MINUTE) {
    if (matches(localTime(t, format))) times.push(t);
  }
  return times;
}

export const iso = (ms: number) => new Date(ms).toISOString();
