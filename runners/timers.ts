/**
 * Timers for waits longer than setTimeout can hold. Node (like browsers) stores a delay in
 * a signed 32-bit integer: a delay of 2^31 ms (24.9 days) or more is replaced by 1 ms with
 * a TimeoutOverflowWarning, so `maxDuration: 30d` would abort a drill at once. These helpers
 * wait in chunks of at most MAX_TIMER_CHUNK_MS and re-arm until the full delay has passed.
 */

/** The longest delay setTimeout keeps as given: 2^31 - 1 ms. */
export const MAX_TIMER_CHUNK_MS = 2 ** 31 - 1;

export interface LongTimer {
  /** Stops the timer; `fire` is not called afterwards. */
  clear(): void;
}

/**
 * Calls `fire` once `delayMs` have passed (at least; never early), however long the delay.
 * The chunks are measured by setTimeout itself, so fake timers in tests drive it too.
 */
export function setLongTimeout(fire: () => void, delayMs: number): LongTimer {
  // Infinity re-arms forever (never fires); NaN is no delay.
  let remaining = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const chunk = Math.min(remaining, MAX_TIMER_CHUNK_MS);
    remaining -= chunk;
    timer = setTimeout(() => (remaining > 0 ? arm() : fire()), chunk);
  };
  arm();
  return {
    clear: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      remaining = 0;
    },
  };
}

/** Resolves after `ms` (of any length), or rejects with the signal's reason as soon as it aborts. */
export function sleepLong(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.clear();
      reject(signal?.reason);
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
