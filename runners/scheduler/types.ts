/** The scheduler's contract with the world: what it is handed (scenarios, a spawner, a clock, state) and what it reports. */
import type { RunRecord } from '../../reports/run-record.js';
import type { Schedule } from '../../scenarios/schema-schedule.js';
import type { SchedulerClock } from './clock.js';
import type { HistoryEntry, StateStore } from './state.js';

/** A valid scenario with a `spec.schedule`, as the loader hands it over. */
export interface ScheduledScenario {
  /** The file relative to the scheduled directory; identifies the scenario across reloads. */
  key: string;
  /** Absolute path, given to the drill child. */
  file: string;
  name: string;
  system: string;
  tier: number | null;
  type: string;
  environment: string;
  schedule: Schedule;
}

export interface InvalidScenarioFile {
  file: string;
  /** The located diagnostics, formatted (`file:line:col: path: message`). */
  problems: string;
}

export interface ScenarioSet {
  scenarios: ScheduledScenario[];
  invalid: InvalidScenarioFile[];
  /** Valid scenarios without `spec.schedule` (relative paths): never run by the scheduler. */
  unscheduled: string[];
}

export type ScenarioLoader = () => Promise<ScenarioSet>;

export interface DrillJob {
  key: string;
  file: string;
  scenario: string;
  system: string;
  scheduledFor: number;
  caughtUp: boolean;
}

export interface DrillResult {
  exitCode: number | null;
  signal: string | null;
  runDir?: string;
  record?: RunRecord;
  /** The child could not be started, or wrote no evidence. */
  error?: string;
}

export interface RunningDrill {
  pid?: number;
  done: Promise<DrillResult>;
  /** Asks the drill to stop; a drill given SIGTERM rolls back its changes and exits 3. */
  terminate(signal: NodeJS.Signals): void;
}

export type DrillSpawner = (job: DrillJob) => RunningDrill;

/** One finished drill, as notifications see it. */
export interface FinishedDrill {
  job: DrillJob;
  scenario: ScheduledScenario;
  result: DrillResult;
  startedAt: number;
  endedAt: number;
}

export type SchedulerEvent =
  | { type: 'loaded'; scenarios: ScheduledScenario[]; invalid: InvalidScenarioFile[]; unscheduled: string[]; reload: boolean }
  | { type: 'started'; job: DrillJob; pid?: number }
  | { type: 'finished'; drill: FinishedDrill; entry: HistoryEntry }
  | { type: 'waiting'; job: DrillJob; reason: string }
  | { type: 'skipped'; entry: HistoryEntry }
  | { type: 'missed'; entry: HistoryEntry }
  | { type: 'cancelled'; entry: HistoryEntry }
  | { type: 'stopping'; reason: string; running: DrillJob[] }
  | { type: 'error'; message: string };

export interface SchedulerOptions {
  clock: SchedulerClock;
  loader: ScenarioLoader;
  spawner: DrillSpawner;
  state: StateStore;
  /** Called once per finished drill; must not throw (errors are reported as events). */
  notify?: (drill: FinishedDrill) => Promise<void>;
  onEvent?: (event: SchedulerEvent) => void;
  /** A due time handled later than this counts as missed (default 60 s). */
  graceMs?: number;
  /** Wake at least this often, so a wall-clock jump is noticed (default 60 s). */
  maxSleepMs?: number;
  /** Reload when the signature of the scenario files changes (checked every intervalMs). */
  watch?: { signature: () => Promise<string>; intervalMs: number };
  /** Stop scheduling at this instant (epoch ms), let running drills finish, and stop. */
  until?: number;
  /** Written into the state file so `schedule status` can tell whether the scheduler runs. */
  identity?: { pid: number; host: string };
  directory?: string;
}

