/**
 * `probes.stableFor`: how long a recovery must hold before it counts. A count (`2`: two more
 * consecutive successes after the first) or a duration (`5s`: successes for that long).
 * Issue 11, finding 8: `stableFor: 2` at 250 ms declared a recovery inside the second during
 * which a restarted-in-place primary took writes before it was demoted; a duration says what
 * the operator means whatever the interval.
 */
import { parseDuration } from './duration.js';

export interface StableFor {
  /** Further consecutive successes after the first that the recovery needs. */
  successes: number;
  /** The duration as written, when stableFor was one. */
  duration?: string;
  /** The duration in ms, when stableFor was one. */
  durationMs?: number;
}

/**
 * A count stays a count. A duration becomes the successes that span it with probes started
 * every `intervalMs`: ⌈duration / interval⌉ (at least one), so `5s` at 250 ms needs 20 more
 * successes — the recovery has then held for the duration from its first success.
 */
export function normalizeStableFor(stableFor: number | string, intervalMs: number): StableFor {
  if (typeof stableFor === 'number') return { successes: stableFor };
  const durationMs = parseDuration(stableFor);
  if (durationMs === undefined) throw new Error(`stableFor \`${stableFor}\` is neither a count nor a duration`);
  if (!(intervalMs > 0)) throw new Error('the probe interval must be above zero');
  return { successes: Math.max(1, Math.ceil(durationMs / intervalMs)), duration: stableFor, durationMs };
}
