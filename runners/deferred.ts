/**
 * The deferred register, `<evidence>/deferred.jsonl`: undos a drill declared should wait
 * (a restored copy kept with `restore.keep`). They cannot live in the run's journal, which is
 * sealed by the bundle's manifest once the run ends; here `drillbook recover` finds them,
 * carries them out once due, and records the result — append-only, fsynced.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DeletionRecord } from '../reports/run-record.js';
import type { PendingUndo } from './journal.js';

export const DEFERRED_FILE = 'deferred.jsonl';

export type DeferredEntry =
  | { t: 'deferred'; at: string; runId: string; runDir: string; undo: PendingUndo; notBefore: string }
  | { t: 'done'; at: string; runId: string; id: number; deletion?: DeletionRecord }
  | { t: 'failed'; at: string; runId: string; id: number; error: string };

export function appendDeferred(evidenceDir: string, entry: DeferredEntry): void {
  const fd = fs.openSync(path.join(evidenceDir, DEFERRED_FILE), 'a', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(entry)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Deferred undos not yet done, oldest first. */
export function outstandingDeferred(evidenceDir: string): Extract<DeferredEntry, { t: 'deferred' }>[] {
  const file = path.join(evidenceDir, DEFERRED_FILE);
  if (!fs.existsSync(file)) return [];
  const entries: DeferredEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as DeferredEntry);
    } catch {
      break; // a torn last line was never fsynced
    }
  }
  const done = new Set(entries.filter((e) => e.t === 'done').map((e) => `${e.runId}/${(e as { id: number }).id}`));
  return entries.filter((e): e is Extract<DeferredEntry, { t: 'deferred' }> => e.t === 'deferred' && !done.has(`${e.runId}/${e.undo.id}`));
}
