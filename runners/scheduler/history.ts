/**
 * The scheduler's history entries and state snapshot, as plain functions over ScheduleState:
 * a new entry per run, skip, missed run or cancellation; a finished drill's result written
 * into its entry (also a skip or a wait decided by another runner through the system's
 * shared lock, as the drill's own run.json says); the per-scenario view `schedule status` reads.
 */
import type { CronSchedule } from './cron.js';
import { MAX_HISTORY, type HistoryEntry, type ScheduleState } from './state.js';
import type { DrillJob, DrillResult, InvalidScenarioFile, ScheduledScenario } from './types.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function addEntry(state: ScheduleState, job: DrillJob, status: HistoryEntry['status'], nowMs: number, reason?: string): HistoryEntry {
  const entry: HistoryEntry = {
    id: state.nextId++,
    key: job.key,
    scenario: job.scenario,
    system: job.system,
    scheduledFor: iso(job.scheduledFor),
    status,
    ...(reason ? { reason } : {}),
    ...(job.caughtUp ? { caughtUp: true } : {}),
  };
  if (status !== 'running') entry.endedAt = iso(nowMs);
  state.history.push(entry);
  if (state.history.length > MAX_HISTORY) state.history.splice(0, state.history.length - MAX_HISTORY);
  return entry;
}

/** The drill's exit and record into its entry. A run that skipped for another runner's drill is a skip here too. */
export function finishEntry(entry: HistoryEntry, result: DrillResult, endedAtMs: number): void {
  const coordination = result.record?.coordination;
  entry.status = coordination?.result === 'skipped' ? 'skipped' : 'ran';
  if (coordination?.result === 'skipped' && coordination.reason) entry.reason = `${coordination.reason} (${coordination.name}, another runner)`;
  if (coordination?.result === 'acquired' && coordination.waitedSeconds >= 1) {
    entry.waitedSeconds = (entry.waitedSeconds ?? 0) + Math.round(coordination.waitedSeconds);
    entry.reason = `waited for ${coordination.heldBy.map((h) => h.identity).join(', ')} (${coordination.name}, another runner)`;
  }
  entry.endedAt = iso(endedAtMs);
  entry.exitCode = result.exitCode;
  entry.signal = result.signal;
  entry.outcome = result.record?.outcome ?? 'no-record';
  if (result.record?.runId) entry.runId = result.record.runId;
  if (result.runDir) entry.runDir = result.runDir;
  if (result.error) entry.error = result.error;
}

export interface ScheduledEntry {
  scenario: ScheduledScenario;
  cron: CronSchedule;
  lastDue: number;
  nextDue: number | null;
}

/** Brings the per-scenario view, the waiting list and the invalid files up to date. */
export function refreshState(state: ScheduleState, entries: ReadonlyMap<string, ScheduledEntry>, waiting: readonly DrillJob[], invalid: readonly InvalidScenarioFile[], nowMs: number): void {
  for (const [key, entry] of entries) {
    const previous = state.scenarios[key];
    const s = entry.scenario;
    state.scenarios[key] = {
      key,
      name: s.name,
      system: s.system,
      cron: entry.cron.expression,
      timezone: entry.cron.timezone,
      overlap: s.schedule.overlap,
      missed: s.schedule.missed,
      lastDue: iso(entry.lastDue),
      next: entry.nextDue === null ? null : iso(entry.nextDue),
      ...(previous?.lastRun ? { lastRun: previous.lastRun } : {}),
    };
  }
  state.waiting = waiting.map((job) => ({
    key: job.key,
    scenario: job.scenario,
    system: job.system,
    scheduledFor: iso(job.scheduledFor),
    ...(job.caughtUp ? { caughtUp: true } : {}),
  }));
  state.invalid = invalid.map((i) => ({ file: i.file, problems: i.problems }));
  state.updatedAt = iso(nowMs);
}
