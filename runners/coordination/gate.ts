/**
 * The overlap policy across runners: take the system's lock, or skip, or wait for it; renew
 * it while the drill runs; release it after teardown. What happened is returned as the
 * `coordination` evidence of the run (reports/coordination-record.ts).
 *
 * Waiting polls the lock: neither a Lease nor an S3 object can notify a waiter, and a watch
 * would need another RBAC verb (list/watch) for little gain at drill time scales.
 */
import { type Clock, systemClock } from '../clock.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunCoordination, requestedCoordination } from '../../reports/coordination-record.js';
import type { LockHolder, OverlapPolicy, SystemLockBackend } from './types.js';

export interface GateOptions {
  overlap: OverlapPolicy;
  /** Aborts a wait (Ctrl+C, SIGTERM): the run is recorded as interrupted. */
  signal?: AbortSignal;
  /** Wall time for the evidence (ms since the epoch); the run's own clock in the engine. */
  now?: () => number;
  /** Times the wait and the renewals (monotonic) and stamps the evidence; the system clock by default. */
  clock?: Clock;
  /** How often a waiting run looks at the lock again (default: a third of the lock's TTL, at most 2 s). */
  pollMs?: number;
  /** How often the holder renews (default: a third of the TTL, so two renewals may fail in a row). */
  renewMs?: number;
  /** overlap: wait gives up after this long and records the run as skipped (default 1 h). */
  maxWaitMs?: number;
  /** Progress lines (waiting for whom, renewal trouble). */
  log?: (message: string) => void;
}

export type EnteredLock =
  | { state: 'held'; evidence: RunCoordination; onLost(listener: (message: string) => void): void; release(): Promise<void> }
  | { state: 'skipped' | 'interrupted' | 'unavailable'; evidence: RunCoordination };

const DEFAULT_MAX_WAIT_MS = 60 * 60_000;
/** Consecutive failed looks at the lock (API or network errors) before a run gives up. */
const MAX_ERRORS = 3;

export async function enterSystemLock(backend: SystemLockBackend, options: GateOptions): Promise<EnteredLock> {
  const clock: Clock = options.clock ?? systemClock;
  const now = options.now ?? (() => clock.wallMs());
  const iso = () => new Date(now()).toISOString();
  const pollMs = options.pollMs ?? Math.min(2000, Math.max(50, backend.ttlMs / 3));
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const startedMono = clock.monoMs();
  const evidence: RunCoordination = requestedCoordination({ lock: backend.kind, name: backend.name, holder: backend.identity, overlap: options.overlap, requestedAt: iso() });
  const waited = () => Math.round(clock.monoMs() - startedMono) / 1000;
  /** Notes the holder; true when it is another one than last time. */
  const seen = (holder: LockHolder): boolean => {
    const at = iso();
    const last = evidence.heldBy[evidence.heldBy.length - 1];
    if (last && last.identity === holder.identity) {
      last.lastSeenAt = at;
      last.expiresAt = holder.expiresAt;
      return false;
    }
    evidence.heldBy.push({ identity: holder.identity, scenario: holder.scenario, firstSeenAt: at, lastSeenAt: at, expiresAt: holder.expiresAt });
    return true;
  };
  const held = (holder: LockHolder) => `${holder.identity}${holder.scenario ? ` (drill ${holder.scenario})` : ''}`;
  const stop = (state: 'skipped' | 'interrupted' | 'unavailable', reason: string): EnteredLock => {
    evidence.result = state;
    evidence.reason = reason;
    evidence.waitedSeconds = waited();
    return { state, evidence };
  };

  let errors = 0;
  for (;;) {
    if (options.signal?.aborted) return stop('interrupted', `interrupted while waiting for ${backend.name}`);
    let attempt;
    try {
      attempt = await backend.tryAcquire();
      errors = 0;
    } catch (error) {
      errors++;
      options.log?.(`cannot read ${backend.name}: ${messageOf(error)}`);
      if (errors >= MAX_ERRORS) return stop('unavailable', `cannot take ${backend.name}: ${messageOf(error)}; nothing was run, so two drills cannot disrupt the system at once`);
      attempt = undefined;
    }
    if (attempt?.acquired) {
      evidence.acquiredAt = iso();
      evidence.waitedSeconds = waited();
      if (attempt.tookOverFrom) evidence.tookOverFrom = { identity: attempt.tookOverFrom.identity, expiredAt: attempt.tookOverFrom.expiresAt };
      return holding(backend, evidence, options, iso);
    }
    if (attempt) {
      const newHolder = seen(attempt.heldBy);
      if (options.overlap === 'skip') return stop('skipped', `the system is being drilled by ${held(attempt.heldBy)}, which holds ${backend.name}; overlap: skip`);
      if (clock.monoMs() - startedMono >= maxWaitMs)
        return stop('skipped', `waited ${Math.round(maxWaitMs / 1000)} s for ${held(attempt.heldBy)}, which still holds ${backend.name}; overlap: wait gives up after that`);
      if (newHolder) options.log?.(`waiting for ${held(attempt.heldBy)}, which holds ${backend.name} (overlap: wait)`);
    }
    try {
      await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      // aborted: reported at the top of the loop
    }
  }
}

/** Renews the lock every renewMs until released; reports a loss once. */
function holding(backend: SystemLockBackend, evidence: RunCoordination, options: GateOptions, iso: () => string): EnteredLock {
  const clock: Clock = options.clock ?? systemClock;
  const renewMs = options.renewMs ?? Math.max(20, backend.ttlMs / 3);
  const listeners: ((message: string) => void)[] = [];
  let lost: string | null = null;
  let lastRenewed = clock.monoMs();
  let released = false;
  const lose = (message: string) => {
    if (lost !== null) return;
    lost = message;
    evidence.lost = message;
    clearInterval(timer);
    for (const listener of listeners) listener(message);
  };
  let renewing = false;
  const timer = setInterval(() => {
    if (renewing || released) return;
    renewing = true;
    backend
      .renew()
      .then((ours) => {
        if (ours) lastRenewed = clock.monoMs();
        else lose(`${backend.name} was taken over by another runner: this drill no longer holds its system`);
      })
      .catch((error: unknown) => {
        options.log?.(`cannot renew ${backend.name}: ${messageOf(error)}`);
        // Past the TTL another runner may have taken the lock: exclusivity is no longer known.
        if (clock.monoMs() - lastRenewed >= backend.ttlMs) lose(`${backend.name} could not be renewed for ${Math.round(backend.ttlMs / 1000)} s (${messageOf(error)}): another runner may hold the system now`);
      })
      .finally(() => (renewing = false));
  }, renewMs);
  timer.unref();
  return {
    state: 'held',
    evidence,
    onLost(listener) {
      if (lost !== null) listener(lost);
      else listeners.push(listener);
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (lost !== null) return;
      try {
        if (await backend.release()) evidence.releasedAt = iso();
        else evidence.lost = `${backend.name} was no longer ours at release: another runner had taken it over`;
      } catch (error) {
        // It expires by itself after its TTL; the next runner waits at most that long.
        options.log?.(`cannot release ${backend.name} (it expires by itself): ${messageOf(error)}`);
      }
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
