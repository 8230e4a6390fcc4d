/** `run --resume`: what a paused exercise left in its journal. */
import path from 'node:path';
import type { RunRecord } from '../reports/run-record.js';
import type { LoadedScenario } from '../scenarios/load.js';
import type { Clock } from './clock.js';
import { JOURNAL_FILE, Journal, type JournalEntry } from './journal.js';

export class ResumeError extends Error {}

/** What an interrupted run left in its journal, for `run --resume`. */
export function resumeState(runDir: string, loaded: LoadedScenario, clock?: Clock) {
  const file = path.join(runDir, JOURNAL_FILE);
  let reopened: ReturnType<typeof Journal.reopen>;
  try {
    reopened = Journal.reopen(file, clock);
  } catch {
    throw new ResumeError(`${runDir} has no journal to resume from`);
  }
  const { journal, entries } = reopened;
  const open = entries.find((e): e is Extract<JournalEntry, { t: 'open' }> => e.t === 'open');
  if (!open || entries.some((e) => e.t === 'close')) {
    journal.close();
    throw new ResumeError(`${runDir} is not a paused exercise (it was ${open ? 'finished' : 'never started'})`);
  }
  if (path.resolve(open.scenarioFile) !== path.resolve(loaded.file)) {
    journal.close();
    throw new ResumeError(`run ${open.runId} is an exercise of ${open.scenarioFile}, not of ${loaded.file}`);
  }
  const prior = new Map<string, { value: unknown; at: string }>();
  for (const e of entries) if (e.t === 'answer') prior.set(e.key, { value: e.value, at: e.at });
  const sessions: { startedAt: string; endedAt: string | null }[] = [{ startedAt: open.at, endedAt: null }];
  for (const e of entries) {
    if (e.t === 'paused') sessions[sessions.length - 1]!.endedAt = e.at;
    if (e.t === 'resumed') sessions.push({ startedAt: e.at, endedAt: null });
  }
  return { journal, open, skeleton: open.skeleton as RunRecord, prior, sessions };
}

