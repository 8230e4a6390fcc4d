/**
 * What `drillbook schedule` remembers between restarts and shows through `schedule status`:
 * per scenario the last due time it handled (so missed runs are found after downtime), the
 * next due time and the last run; and a bounded history of every run, skip and missed run
 * with its reason. Written atomically (temp file + rename) so a crash never leaves half a file.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export const SCHEDULE_STATE_SCHEMA = 'drillbook.dev/schedule-state/v1';
/** Enough for a year of daily drills of a few systems; older entries live on in the evidence. */
export const MAX_HISTORY = 2000;

/** `lost`: the scheduler itself died while the drill ran, so its result was never recorded here. */
export type HistoryStatus = 'running' | 'ran' | 'skipped' | 'missed' | 'cancelled' | 'failed-to-start' | 'lost';

export interface HistoryEntry {
  id: number;
  /** The scenario file relative to the scheduled directory: the key of the scenario. */
  key: string;
  scenario: string;
  system: string;
  /** The due time this entry is about (UTC, ISO 8601). */
  scheduledFor: string;
  status: HistoryStatus;
  /** Why it was skipped, missed or cancelled. */
  reason?: string;
  /** Run after the scheduler came back, for a due time that fell while it was down. */
  caughtUp?: boolean;
  /** Waited this long for another drill of the same system (overlap: wait). */
  waitedSeconds?: number;
  startedAt?: string;
  endedAt?: string;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** From the run's run.json; `no-record` when the child wrote none (e.g. it refused to start). */
  outcome?: string;
  runId?: string;
  runDir?: string;
  error?: string;
}

export interface ScenarioState {
  key: string;
  name: string;
  system: string;
  cron: string;
  timezone: string;
  overlap: string;
  missed: string;
  /** The newest due time already handled (run, skipped, missed or waiting); UTC ISO. */
  lastDue: string;
  next: string | null;
  lastRun?: Pick<HistoryEntry, 'scheduledFor' | 'startedAt' | 'endedAt' | 'exitCode' | 'outcome' | 'runDir' | 'status'>;
}

export interface ScheduleState {
  schema: typeof SCHEDULE_STATE_SCHEMA;
  updatedAt: string;
  directory: string | null;
  scheduler: { pid: number; host: string; startedAt: string; stoppedAt: string | null } | null;
  scenarios: Record<string, ScenarioState>;
  /** Runs waiting for another drill of their system to finish. */
  waiting: Pick<HistoryEntry, 'key' | 'scenario' | 'system' | 'scheduledFor' | 'caughtUp'>[];
  invalid: { file: string; problems: string }[];
  nextId: number;
  history: HistoryEntry[];
}

export function emptyState(): ScheduleState {
  return {
    schema: SCHEDULE_STATE_SCHEMA,
    updatedAt: new Date(0).toISOString(),
    directory: null,
    scheduler: null,
    scenarios: {},
    waiting: [],
    invalid: [],
    nextId: 1,
    history: [],
  };
}

export interface StateStore {
  load(): Promise<ScheduleState | undefined>;
  save(state: ScheduleState): Promise<void>;
}

export class StateFileError extends Error {}

/** The state in a JSON file; saves are serialized so a slow disk never reorders them. */
export class FileStateStore implements StateStore {
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<ScheduleState | undefined> {
    return readStateFile(this.file);
  }

  save(state: ScheduleState): Promise<void> {
    const text = `${JSON.stringify(state, null, 2)}\n`;
    const next = this.#chain.then(() => writeAtomically(this.file, text));
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

/** For tests and dry runs: keeps a copy of the last saved state. */
export class MemoryStateStore implements StateStore {
  constructor(public state: ScheduleState | undefined = undefined) {}

  async load(): Promise<ScheduleState | undefined> {
    return this.state ? structuredClone(this.state) : undefined;
  }

  async save(state: ScheduleState): Promise<void> {
    this.state = structuredClone(state);
  }
}

/** Reads a state file; undefined when there is none yet; StateFileError when it is not one. */
export async function readStateFile(file: string): Promise<ScheduleState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read the schedule state ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StateFileError(`${file} is not valid JSON, so it is not a drillbook schedule state file`);
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { schema?: unknown }).schema !== SCHEDULE_STATE_SCHEMA) {
    throw new StateFileError(`${file} is not a drillbook schedule state file (expected "schema": "${SCHEDULE_STATE_SCHEMA}")`);
  }
  return { ...emptyState(), ...(parsed as Partial<ScheduleState>) } as ScheduleState;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temp = `${file}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await fs.writeFile(temp, text);
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** The state file's `lastRun` of a scenario, from its newest history entry. */
export function lastRunOf(entry: HistoryEntry): NonNullable<ScheduleState['scenarios'][string]['lastRun']> {
  return {
    status: entry.status,
    scheduledFor: entry.scheduledFor,
    ...(entry.startedAt ? { startedAt: entry.startedAt } : {}),
    ...(entry.endedAt ? { endedAt: entry.endedAt } : {}),
    ...(entry.exitCode !== undefined ? { exitCode: entry.exitCode } : {}),
    ...(entry.outcome ? { outcome: entry.outcome } : {}),
    ...(entry.runDir ? { runDir: entry.runDir } : {}),
  };
}
