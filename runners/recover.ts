/**
 * `drillbook recover`: finishes runs whose process died (SIGKILL, power loss, a second
 * Ctrl+C). It reads each unfinished run's journal, runs the undos still pending (newest
 * first), and completes that run's evidence so the interruption and its cleanup are on record.
 */
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_OUTPUTS, writeOutputs } from '../reports/outputs.js';
import { appendMissingLedgerLine, listRunDirs, openExisting } from '../reports/evidence.js';
import type { RunRecord } from '../reports/run-record.js';
import { completeRecord, earlierItemsOf } from './engine.js';
import { type Clock, isoNow, systemClock } from './clock.js';
import { appendDeferred, outstandingDeferred } from './deferred.js';
import { JOURNAL_FILE, Journal, type JournalEntry, type PendingUndo, pendingUndos, processStartTime } from './journal.js';
import { emptyDrillResult } from './measured-drill.js';
import { defaultUndoRegistry } from './undo-handlers.js';
import type { Driver } from './drivers/types.js';
import { drivers as builtInDrivers } from './registry.js';
import { type UndoRegistry, runUndos } from './undo.js';

export interface DeferredResult {
  runId: string;
  description: string;
  status: 'done' | 'failed' | 'kept';
  notBefore: string;
  error?: string;
}

/**
 * Carries out the deferred undos whose keep has passed (a kept restored copy), recording
 * each result — with its deletion verification — in the deferred register.
 */
export async function runDueDeferred(evidenceDir: string, options: { registry?: UndoRegistry; log?: (message: string) => void; clock?: Clock } = {}): Promise<DeferredResult[]> {
  const registry = options.registry ?? defaultUndoRegistry();
  const clock = options.clock ?? systemClock;
  const results: DeferredResult[] = [];
  for (const entry of outstandingDeferred(evidenceDir)) {
    const base = { runId: entry.runId, description: entry.undo.description, notBefore: entry.notBefore };
    if (clock.wallMs() < Date.parse(entry.notBefore)) {
      results.push({ ...base, status: 'kept' });
      continue;
    }
    try {
      const outcome = await registry.get(entry.undo.action.type)(entry.undo.action.params, { signal: AbortSignal.timeout(5 * 60_000), log: options.log ?? (() => undefined), clock });
      if (outcome?.deferredUntil) {
        results.push({ ...base, notBefore: outcome.deferredUntil, status: 'kept' });
        continue;
      }
      const failedCheck = outcome?.deletion?.verification.find((v) => !v.passed);
      if (failedCheck) throw new Error(`deletion not verified: ${failedCheck.check}`);
      appendDeferred(evidenceDir, { t: 'done', at: isoNow(clock), runId: entry.runId, id: entry.undo.id, ...(outcome?.deletion ? { deletion: outcome.deletion } : {}) });
      results.push({ ...base, status: 'done' });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      appendDeferred(evidenceDir, { t: 'failed', at: isoNow(clock), runId: entry.runId, id: entry.undo.id, error: message });
      results.push({ ...base, status: 'failed', error: message });
    }
  }
  return results;
}

export interface RecoveredRun {
  runDir: string;
  runId: string;
  status: 'recovered' | 'incomplete' | 'still-running' | 'paused';
  undone: number;
  failed: { description: string; error: string }[];
  /** A driver's orphan sweep: the line to print. */
  summary?: string;
}

/** True when the process that opened the journal is still alive (same pid *and* start time). */
function ownerAlive(open: Extract<JournalEntry, { t: 'open' }>): boolean {
  if (open.host !== os.hostname()) return false;
  const start = processStartTime(open.pid);
  return start !== null && start === open.processStart;
}

export interface RecoverOptions {
  registry?: UndoRegistry;
  log?: (message: string) => void;
  signingKey?: KeyObject;
  /** An RFC 3161 TSA URL: the bundles recover seals get a trusted timestamp (manifest.tsr). */
  tsa?: string;
  /** The drivers whose orphan sweeps run; default: the built-in ones. */
  drivers?: Readonly<Record<string, Driver>>;
  /** Deadlines and stamps of the recovery (default: the system clock; no run is in progress). */
  clock?: Clock;
  /** A driver's own sweep options under its name (e.g. `rds: { client }`). */
  [driver: string]: unknown;
}

export async function recoverRuns(
  evidenceDir: string,
  options: RecoverOptions = {},
): Promise<RecoveredRun[]> {
  const registry = options.registry ?? defaultUndoRegistry(options.drivers);
  const log = options.log ?? (() => undefined);
  const clock = options.clock ?? systemClock;
  const recovered: RecoveredRun[] = [];
  if (!fs.existsSync(evidenceDir)) return recovered;
  const inLedger = ledgerDirs(evidenceDir);
  for (const runDir of await listRunDirs(evidenceDir)) {
    const journalFile = path.join(runDir, JOURNAL_FILE);
    if (fs.existsSync(path.join(runDir, 'manifest.json'))) {
      // Sealed, but the process may have died before its ledger line: add the missing line.
      if (!inLedger.has(path.basename(runDir))) {
        const added = await appendMissingLedgerLine(runDir, options.signingKey ? { signingKey: options.signingKey } : {}).catch((e: unknown) => {
          log(`${path.basename(runDir)}: not added to the ledger: ${e instanceof Error ? e.message : String(e)}`);
          return null;
        });
        if (added) log(`${path.basename(runDir)}: sealed but missing from the ledger; line ${added.seq} added`);
      }
      continue;
    }
    if (!fs.existsSync(journalFile)) continue;
    const { journal, entries } = Journal.reopen(journalFile, clock);
    const open = entries.find((e): e is Extract<JournalEntry, { t: 'open' }> => e.t === 'open');
    if (!open) {
      journal.close();
      continue;
    }
    // A resumed exercise is owned by the process that resumed it.
    const resumed = entries.filter((e): e is Extract<JournalEntry, { t: 'resumed' }> => e.t === 'resumed').at(-1);
    if (ownerAlive(resumed ? { ...open, pid: resumed.pid, processStart: resumed.processStart, host: resumed.host } : open)) {
      journal.close();
      recovered.push({ runDir, runId: open.runId, status: 'still-running', undone: 0, failed: [] });
      continue;
    }
    // A tabletop changes nothing, and its answers are in the journal: leave it for --resume.
    if ((open.skeleton as RunRecord | undefined)?.type === 'tabletop' && pendingUndos(entries).length === 0) {
      journal.close();
      recovered.push({ runDir, runId: open.runId, status: 'paused', undone: 0, failed: [] });
      continue;
    }
    const finished = finishedRecord(entries);
    if (finished) {
      // The drill ended (teardown included) and journaled its result; only the seal is missing.
      log(`sealing ${path.basename(runDir)} (run ${open.runId} ended ${finished.outcome}; pid ${open.pid} is gone before sealing it)`);
      journal.close();
      await sealFinished(runDir, evidenceDir, finished, open.pid, options, log);
      recovered.push({ runDir, runId: open.runId, status: 'recovered', undone: 0, failed: [] });
      continue;
    }
    log(`recovering ${path.basename(runDir)} (run ${open.runId}, pid ${open.pid} is gone)`);
    const pending = pendingUndos(entries);
    const defer = (undo: PendingUndo, notBefore: string) =>
      appendDeferred(evidenceDir, { t: 'deferred', at: isoNow(clock), runId: open.runId, runDir, undo, notBefore });
    const unwound = await runUndos(pending, registry, journal, { signal: AbortSignal.timeout(5 * 60_000), log, defer, clock }, 'recover');
    const previous = entries
      .filter((e): e is Extract<JournalEntry, { t: 'undone' }> => e.t === 'undone' && e.status === 'done')
      .map((e) => ({ id: e.id, description: describeUndo(entries, e.id), status: 'done' as const, at: e.at, by: e.by }));
    const existing = await openExisting(runDir, bundleOptions(options));
    const at = isoNow(clock);
    const recoveredBy = `drillbook recover on ${os.hostname()} at ${at} (pid ${process.pid}, operator ${os.userInfo().username})`;
    // The timeline is written asynchronously; T0 is also in the fsynced journal.
    const journaledT0 = entries.find((e): e is Extract<JournalEntry, { t: 't0' }> => e.t === 't0');
    const t0Lost = journaledT0 && !existing.timeline.some((e) => e.event.startsWith('T0: '));
    const timeline = [
      ...existing.timeline,
      ...(t0Lost ? [{ at: journaledT0.at, mono: journaledT0.mono, event: `T0: ${journaledT0.action}`, phase: 'disrupt' as const }] : []),
      { at, mono: Number.NaN, event: `run interrupted: drillbook process ${open.pid} ended without finishing; ${recoveredBy}`, phase: 'teardown' as const },
      ...unwound.undos.map((u) => ({ at: u.at ?? at, mono: Number.NaN, event: `undo ${u.status} (by recover): ${u.description}${u.error ? ` (${u.error})` : ''}`, phase: 'teardown' as const })),
    ].map((e) => ({ ...e, mono: Number.isFinite(e.mono) ? e.mono : -1 }));
    for (const event of timeline.slice(existing.timeline.length)) await existing.bundle.appendTimeline(event);
    const skeleton = open.skeleton as RunRecord;
    const result = emptyDrillResult();
    if (journaledT0) result.t0 = { at: journaledT0.at, mono: journaledT0.mono, action: journaledT0.action };
    const record = completeRecord(
      skeleton,
      {
        result,
        abort: { reason: `the drill process (pid ${open.pid}) was killed or crashed; finished by drillbook recover`, at },
        error: null,
        timeline,
        probes: existing.probes,
        endedAt: at,
        teardown: { complete: unwound.complete, undos: [...previous, ...unwound.undos], deletions: unwound.deletions, recoveredBy },
      },
      undefined,
    );
    journal.append({ t: 'close', at, outcome: record.outcome });
    journal.close();
    const sealed = await existing.bundle.finalize(record);
    if (sealed.timestamp?.error) log(`${path.basename(runDir)}: no trusted timestamp: ${sealed.timestamp.error} (recorded in manifest.json)`);
    // The interrupted run's findings (the abort, any teardown left to do) join the register.
    await writeOutputs(DEFAULT_OUTPUTS, record, { evidenceDir, runDir }, log);
    recovered.push({
      runDir,
      runId: open.runId,
      status: unwound.complete ? 'recovered' : 'incomplete',
      undone: unwound.undos.filter((u) => u.status === 'done').length,
      failed: unwound.undos.filter((u) => u.status === 'failed').map((u) => ({ description: u.description, error: u.error ?? '' })),
    });
  }
  // What outlived a finished run outside any journal (cloud copies, found by tag): each
  // driver's orphan sweep, reported as one more entry.
  for (const driver of Object.values(options.drivers ?? builtInDrivers)) {
    const swept = await driver.sweep?.(evidenceDir, { log, clock, ...((options[driver.name] as Record<string, unknown> | undefined) ?? {}) });
    if (swept)
      recovered.push({ runDir: evidenceDir, runId: swept.runId, status: swept.failed.length > 0 ? 'incomplete' : 'recovered', undone: swept.removed, failed: swept.failed, summary: swept.summary });
  }
  return recovered;
}

/**
 * The record of a run whose journal closed `passed` or `failed`: it ended, teardown complete,
 * with a measured result, and only its seal is missing. Null for anything else (no close, an
 * older journal without the record, an aborted or incomplete run), which recover rolls back.
 */
function finishedRecord(entries: JournalEntry[]): RunRecord | null {
  const close = entries.find((e): e is Extract<JournalEntry, { t: 'close' }> => e.t === 'close');
  if (!close || (close.outcome !== 'passed' && close.outcome !== 'failed')) return null;
  const record = close.record as RunRecord | undefined;
  if (!record || typeof record !== 'object' || record.outcome !== close.outcome || !record.teardown?.complete) return null;
  // Anything registered after the close is unexpected: roll back as for an interrupted run.
  if (pendingUndos(entries).some((u) => !entries.some((e) => e.t === 'undone' && e.id === u.id && e.status === 'deferred'))) return null;
  return record;
}

/** Seals a finished run with its measured result: no undo to run, no finding added. */
async function sealFinished(runDir: string, evidenceDir: string, finished: RunRecord, pid: number, options: RecoverOptions, log: (message: string) => void): Promise<void> {
  const existing = await openExisting(runDir, bundleOptions(options));
  const at = isoNow(options.clock ?? systemClock);
  // Timeline lines still in the killed process's buffers: the journaled record has them all.
  const onDisk = existing.timeline.length;
  const sealedBy = {
    at,
    mono: -1,
    event: `evidence sealed by drillbook recover on ${os.hostname()} at ${at}: the drill had ended ${finished.outcome} (teardown complete), but its process ${pid} ended before sealing it`,
    phase: 'teardown' as const,
  };
  const timeline = [...finished.timeline, sealedBy];
  for (const event of timeline.slice(Math.min(onDisk, finished.timeline.length))) await existing.bundle.appendTimeline(event);
  const record: RunRecord = { ...finished, timeline, probeSummary: { ...finished.probeSummary } };
  record.earlierItems = await earlierItemsOf(evidenceDir, record, log);
  const sealed = await existing.bundle.finalize(record);
  if (sealed.timestamp?.error) log(`${path.basename(runDir)}: no trusted timestamp: ${sealed.timestamp.error} (recorded in manifest.json)`);
  await writeOutputs(DEFAULT_OUTPUTS, record, { evidenceDir, runDir }, log);
}

function bundleOptions(options: RecoverOptions) {
  return { ...(options.signingKey ? { signingKey: options.signingKey } : {}), ...(options.tsa ? { timestamp: { tsaUrl: options.tsa } } : {}) };
}

/** Run directories that have their line in the ledger. */
function ledgerDirs(evidenceDir: string): Set<string> {
  const dirs = new Set<string>();
  const file = path.join(evidenceDir, 'ledger.jsonl');
  if (!fs.existsSync(file)) return dirs;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    try {
      const entry = JSON.parse(line.replace(/\t.*$/, '')) as { dir?: string; kind?: string };
      if (entry.dir && entry.kind === undefined) dirs.add(entry.dir);
    } catch {
      // a broken line is verify's to report
    }
  }
  return dirs;
}

function describeUndo(entries: JournalEntry[], id: number): string {
  const undo = entries.find((e): e is Extract<JournalEntry, { t: 'undo' }> => e.t === 'undo' && e.id === id);
  return undo?.description ?? `undo ${id}`;
}
