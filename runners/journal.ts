/**
 * The run journal: an append-only, fsynced JSON-lines file in the run directory. Every
 * mutating action writes its undo here *before* it runs, so a drill killed at any instant
 * (SIGKILL, power loss) leaves enough on disk for `drillbook recover` to finish the undo.
 * Undo actions are data ({ type, params }), never closures, for the same reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Clock, isoNow, systemClock } from './clock.js';

export const JOURNAL_FILE = 'journal.jsonl';

export interface UndoAction {
  /** Name of a registered undo handler, e.g. `postgres.stop-server`. */
  type: string;
  params: Record<string, unknown>;
}

export type JournalEntry =
  | {
      t: 'open';
      at: string;
      runId: string;
      pid: number;
      processStart: string | null;
      host: string;
      scenarioFile: string;
      scenarioName: string;
      /** The RunRecord fields known at the start, so `recover` can complete the evidence. */
      skeleton: unknown;
    }
  | { t: 'undo'; at: string; id: number; action: UndoAction; description: string }
  | { t: 'undone'; at: string; id: number; status: 'done' | 'failed' | 'deferred'; by: 'run' | 'recover'; error?: string; detail?: unknown }
  | { t: 'phase'; at: string; phase: string }
  /** T0 is journaled (fsynced) too: a drill killed right after it must still show when it struck. */
  | { t: 't0'; at: string; mono: number; action: string }
  /**
   * The run is over. `record` is the finished RunRecord as measured (teardown included), so a
   * process killed between here and its seal is finalized by `recover` with that result.
   */
  | { t: 'close'; at: string; outcome: string; record?: unknown }
  /** An exercise answer, fsynced as it is given: an interrupted session loses nothing typed. */
  | { t: 'answer'; at: string; key: string; value: unknown }
  /** An exercise interrupted on purpose (Ctrl+C): `run --resume` continues it; `recover` leaves it. */
  | { t: 'paused'; at: string }
  | { t: 'resumed'; at: string; pid: number; processStart: string | null; host: string };

/** Start time of a process as the kernel reports it, so a reused pid is not taken for our run. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the parenthesised command, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export class Journal {
  private readonly fd: number;
  private nextId = 1;

  private constructor(
    readonly file: string,
    /** Stamps the entries: the run's clock when a run writes, the system's for `recover`. */
    private readonly clock: Clock = systemClock,
  ) {
    this.fd = fs.openSync(file, 'a', 0o600);
  }

  static open(runDir: string, header: { runId: string; scenarioFile: string; scenarioName: string; skeleton: unknown }, clock: Clock = systemClock): Journal {
    const journal = new Journal(path.join(runDir, JOURNAL_FILE), clock);
    journal.append({
      t: 'open',
      at: isoNow(clock),
      pid: process.pid,
      processStart: processStartTime(process.pid),
      host: os.hostname(),
      ...header,
    });
    return journal;
  }

  /** Reopens an existing journal to finish it (recover); ids continue after the last one. */
  static reopen(file: string, clock: Clock = systemClock): { journal: Journal; entries: JournalEntry[] } {
    const entries = readJournal(file);
    const journal = new Journal(file, clock);
    journal.nextId = Math.max(0, ...entries.filter((e) => e.t === 'undo').map((e) => e.id)) + 1;
    return { journal, entries };
  }

  append(entry: JournalEntry): void {
    fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    fs.fsyncSync(this.fd);
  }

  registerUndo(action: UndoAction, description: string): number {
    const id = this.nextId++;
    this.append({ t: 'undo', at: isoNow(this.clock), id, action, description });
    return id;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Parses a journal; a torn last line (crash mid-write) is ignored, as it was never fsynced. */
export function readJournal(file: string): JournalEntry[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const entries: JournalEntry[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      break;
    }
  }
  return entries;
}

export interface PendingUndo {
  id: number;
  action: UndoAction;
  description: string;
}

/** Undos registered but not yet done, newest first: the order they must run in. */
export function pendingUndos(entries: JournalEntry[]): PendingUndo[] {
  const done = new Set(entries.filter((e) => e.t === 'undone' && e.status === 'done').map((e) => (e as { id: number }).id));
  return entries
    .filter((e): e is Extract<JournalEntry, { t: 'undo' }> => e.t === 'undo' && !done.has(e.id))
    .map(({ id, action, description }) => ({ id, action, description }))
    .reverse();
}
