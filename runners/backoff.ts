/**
 * Exponential backoff, said once: the wait before each retry or poll grows by `factor` from
 * `initialMs` up to `maxMs`, optionally spread by ±`jitter` so that many clients do not
 * retry in step.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** Default 2. */
  factor?: number;
  /** A fraction: 0.25 spreads each wait over 75 %–125 %. Default 0. */
  jitter?: number;
}

/** The wait before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * (backoff.factor ?? 2) ** attempt);
  const jitter = backoff.jitter ?? 0;
  return jitter > 0 ? base * (1 - jitter + random() * 2 * jitter) : base;
}

/** The successive waits of a poll loop: initial, ×factor, …, then `maxMs` for ever. */
export function* backoffDelays(backoff: Backoff): Generator<number, never> {
  for (let attempt = 0; ; attempt++) yield backoffDelay(attempt, backoff);
}
