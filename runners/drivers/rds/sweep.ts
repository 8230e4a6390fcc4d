/**
 * The orphan sweep `drillbook recover` runs: RDS copies tagged `drillbook:drill=true` whose
 * `drillbook:run-id` names a run of this evidence directory that is over (its journal is
 * closed, sealed by a manifest, or its copy's deletion is on record) yet still exist — what a
 * crash at the wrong instant, or a deletion that did not finish, leaves behind. Copies of
 * runs still in progress, copies kept on purpose (`restore.keep`) and copies of runs this
 * evidence directory does not know are left alone and listed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { DeletionRecord } from '../../../reports/run-record.js';
import { outstandingDeferred } from '../../deferred.js';
import { type Clock, isoNow, systemClock } from '../../clock.js';
import { JOURNAL_FILE, type JournalEntry, readJournal } from '../../journal.js';
import { DRILL_TAG, RUN_ID_TAG, type Sleep, describeError, listAll, resolveDeps, tagValue } from './api.js';
import { deleteCopy } from './undo.js';

/** Append-only, fsynced record of what the sweep deleted (and failed to): the deletion record of orphans. */
export const SWEEP_FILE = 'rds-sweep.jsonl';

function recordSweep(evidenceDir: string, entry: SweptCopy & { at: string }): void {
  const fd = fs.openSync(path.join(evidenceDir, SWEEP_FILE), 'a', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(entry)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface SweptCopy {
  kind: 'instance' | 'cluster';
  id: string;
  runId: string;
  status: 'deleted' | 'failed' | 'left';
  reason: string;
  deletion?: DeletionRecord;
}

interface KnownRun {
  runId: string;
  finished: boolean;
  copyDeletion: 'done' | 'failed' | 'pending' | 'deferred' | null;
}

/** Runs of the evidence directory that ever registered an RDS copy, by run id. */
function runsWithCopies(evidenceDir: string): Map<string, KnownRun> {
  const runs = new Map<string, KnownRun>();
  if (!fs.existsSync(evidenceDir)) return runs;
  for (const entry of fs.readdirSync(evidenceDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(evidenceDir, entry.name);
    const journalFile = path.join(dir, JOURNAL_FILE);
    if (!fs.existsSync(journalFile)) continue;
    const entries = readJournal(journalFile);
    const open = entries.find((e): e is Extract<JournalEntry, { t: 'open' }> => e.t === 'open');
    const copyUndos = entries.filter((e): e is Extract<JournalEntry, { t: 'undo' }> => e.t === 'undo' && e.action.type === 'rds.delete-copy');
    if (!open || copyUndos.length === 0) continue;
    const finished = entries.some((e) => e.t === 'close') || fs.existsSync(path.join(dir, 'manifest.json'));
    const statuses = entries.filter((e): e is Extract<JournalEntry, { t: 'undone' }> => e.t === 'undone' && copyUndos.some((u) => u.id === e.id)).map((e) => e.status);
    runs.set(open.runId, { runId: open.runId, finished, copyDeletion: statuses.at(-1) ?? 'pending' });
  }
  return runs;
}

export async function sweepOrphans(evidenceDir: string, options: { client?: RDSClient; sleep?: Sleep; log?: (message: string) => void; signal?: AbortSignal; clock?: Clock } = {}): Promise<SweptCopy[]> {
  const log = options.log ?? (() => undefined);
  const clock = options.clock ?? systemClock;
  const runs = runsWithCopies(evidenceDir);
  // No run here ever made an RDS copy: no AWS call (and no credentials) needed.
  if (runs.size === 0) return [];
  const deps = await resolveDeps({ client: options.client, sleep: options.sleep, clock })();
  const signal = options.signal ?? AbortSignal.timeout(60 * 60_000);
  const kept = new Set(outstandingDeferred(evidenceDir).filter((d) => d.undo.action.type === 'rds.delete-copy' && clock.wallMs() < Date.parse(d.notBefore)).map((d) => d.runId));
  const { instances, clusters } = await listAll(deps, signal);
  const candidates = [
    ...clusters.map((c) => ({ kind: 'cluster' as const, id: c.DBClusterIdentifier ?? '', tags: c.TagList, members: (c.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? '').filter(Boolean), status: c.Status })),
    // Cluster members are deleted with their cluster.
    ...instances.filter((i) => !i.DBClusterIdentifier).map((i) => ({ kind: 'instance' as const, id: i.DBInstanceIdentifier ?? '', tags: i.TagList, members: [] as string[], status: i.DBInstanceStatus })),
  ].filter((c) => tagValue(c.tags, DRILL_TAG) === 'true');
  const swept: SweptCopy[] = [];
  for (const copy of candidates) {
    const runId = tagValue(copy.tags, RUN_ID_TAG) ?? '';
    const run = runs.get(runId);
    const base = { kind: copy.kind, id: copy.id, runId };
    let leave: string | null = null;
    if (!run) leave = `run ${runId || '(untagged)'} is not in ${evidenceDir}`;
    else if (kept.has(runId)) leave = 'kept on purpose (restore.keep) until its deadline';
    else if (!run.finished && run.copyDeletion !== 'done') leave = 'its run has not finished: `drillbook recover` runs its journaled deletion first';
    if (leave) {
      log(`RDS copy ${copy.id} left alone: ${leave}`);
      swept.push({ ...base, status: 'left', reason: leave });
      continue;
    }
    if (copy.status === 'deleting') log(`RDS copy ${copy.id} is already being deleted: waiting until it is gone`);
    log(`deleting orphaned RDS copy DB ${copy.kind} ${copy.id} of finished run ${runId}`);
    try {
      const deletion = await deleteCopy(deps, { kind: copy.kind, id: copy.id, instances: copy.members }, { signal, log, clock });
      swept.push({ ...base, status: 'deleted', reason: `run ${runId} is over; its copy should be gone`, deletion: { ...deletion, what: 'orphaned restored copy' } });
    } catch (error) {
      swept.push({ ...base, status: 'failed', reason: describeError(error) });
    }
    recordSweep(evidenceDir, { at: isoNow(clock), ...swept.at(-1)! });
  }
  return swept;
}
