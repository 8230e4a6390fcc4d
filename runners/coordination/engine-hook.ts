/**
 * What the engine sees of the per-system lock: enter it before the run opens, say in the
 * timeline how it was got (or refuse the run when it was not), hear when it is lost, release
 * it after teardown. No lock configured: every call is a no-op.
 */
import type { RunCoordination } from '../../reports/coordination-record.js';
import type { RunClock } from '../clock.js';
import { RefusedBeforeT0 } from '../refusal.js';
import { enterSystemLock } from './gate.js';
import type { SystemCoordination } from './select.js';

export type { SystemCoordination } from './select.js';

export interface RunLock {
  evidence: RunCoordination | undefined;
  onLost(listener: (message: string) => void): void;
  /** Records how the lock was got; throws when the drill must not run (skipped, unavailable, interrupted). */
  started(record: (event: string, detail?: Record<string, unknown>) => unknown): void;
  release(): Promise<void>;
}

const NO_LOCK: RunLock = { evidence: undefined, onLost: () => undefined, started: () => undefined, release: async () => undefined };

export async function enterCoordination(
  coordination: SystemCoordination | undefined,
  options: { signal?: AbortSignal | undefined; clock: RunClock; log?: (message: string) => void },
): Promise<RunLock> {
  if (!coordination) return NO_LOCK;
  const entered = await enterSystemLock(coordination.backend, {
    overlap: coordination.overlap,
    now: () => options.clock.wallMs(),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(coordination.pollMs !== undefined ? { pollMs: coordination.pollMs } : {}),
    ...(coordination.maxWaitMs !== undefined ? { maxWaitMs: coordination.maxWaitMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const evidence = entered.evidence;
  const whom = evidence.heldBy.map((h) => `${h.identity}${h.scenario ? ` (drill ${h.scenario})` : ''}`).join(', then ');
  return {
    evidence,
    onLost: (listener) => (entered.state === 'held' ? entered.onLost(listener) : undefined),
    started(record) {
      const detail = { lock: evidence.name, holder: evidence.holder, overlap: evidence.overlap, waitedSeconds: evidence.waitedSeconds };
      if (entered.state === 'held') {
        const how = evidence.tookOverFrom
          ? `taken over from ${evidence.tookOverFrom.identity}, whose hold expired${evidence.tookOverFrom.expiredAt ? ` at ${evidence.tookOverFrom.expiredAt}` : ''}`
          : evidence.heldBy.length > 0
            ? `after waiting ${evidence.waitedSeconds.toFixed(1)} s for ${whom} (overlap: wait; requested at ${evidence.requestedAt})`
            : 'it was free';
        record(`system lock taken: ${evidence.name} as ${evidence.holder}; ${how}`, detail);
        return;
      }
      record(`system lock not taken (${entered.state}): ${evidence.reason}`, detail);
      // Interrupted: the aborted signal makes the engine record an abort (exit 3, nothing was done).
      if (entered.state === 'interrupted') throw new Error(evidence.reason ?? 'interrupted while waiting for the system lock');
      throw new RefusedBeforeT0(`${entered.state === 'skipped' ? 'skipped' : 'not run'}: ${evidence.reason}`);
    },
    release: async () => (entered.state === 'held' ? entered.release() : undefined),
  };
}
