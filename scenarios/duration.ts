/**
 * Durations are strings such as `250ms`, `90s`, `15m`, `1h30m`, `7d` (SPEC). Units must
 * appear from largest to smallest, each at most once, so `1h30m` parses and `30m1h` does not.
 */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const ORDER: Unit[] = ['d', 'h', 'm', 's', 'ms'];
const PART = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;

/**
 * The longest duration a drillbook file may state: ten years. Plans state test ages of a
 * year or two (`730d`); anything past this is a slip of the keyboard
 * (`99999999999999999999999ms`), and past 2^53 ms a number would no longer be exact.
 */
export const MAX_DURATION_MS = 3650 * 86_400_000;
/**
 * The longest single timeout (a probe attempt, a command, a fault's pause): 24 days, under
 * the 2^31 - 1 ms (24.9 days) a platform timer holds. Longer waits of the whole drill
 * (`maxDuration`, `maxWait`) are chunked by runners/timers.ts and may go up to MAX_DURATION_MS.
 */
export const MAX_TIMEOUT_MS = 24 * 86_400_000;
/** Where zero makes no sense (intervals, timeouts, limits) a duration is at least this long. */
export const MIN_POSITIVE_DURATION_MS = 1;

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let lastRank = -1;
  while (PART.lastIndex < trimmed.length) {
    const match = PART.exec(trimmed);
    if (!match) return undefined;
    const rank = ORDER.indexOf(match[2] as Unit);
    if (rank <= lastRank) return undefined;
    lastRank = rank;
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  }
  return Number.isFinite(total) ? total : undefined;
}

/** A short human form: 1.25 s, 850 ms, 15 m 0 s, 2 d 3 h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1_000).toFixed(2)} s`;
  if (abs < 3_600_000) return `${sign}${Math.floor(abs / 60_000)} m ${Math.round((abs % 60_000) / 1_000)} s`;
  if (abs < 86_400_000) return `${sign}${Math.floor(abs / 3_600_000)} h ${Math.round((abs % 3_600_000) / 60_000)} m`;
  return `${sign}${Math.floor(abs / 86_400_000)} d ${Math.round((abs % 86_400_000) / 3_600_000)} h`;
}

/**
 * Why a duration string cannot be used, or undefined when it can: longer than `maxMs`
 * (MAX_DURATION_MS, or MAX_TIMEOUT_MS for a single timeout), or shorter than `minMs` (1 ms
 * where zero makes no sense). Syntax is the duration pattern's job.
 */
export function durationProblem(text: string, minMs = 0, maxMs = MAX_DURATION_MS): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) return undefined; // the duration pattern reports the syntax
  if (ms > MAX_DURATION_MS) return `\`${shorten(text)}\` is longer than ${MAX_DURATION_MS / 86_400_000}d (ten years): not a usable duration`;
  if (ms > maxMs) return `\`${shorten(text)}\` is longer than ${maxMs / 86_400_000}d, the longest single timeout or pause drillbook waits for`;
  if (ms < minMs) {
    return ms === 0
      ? `must not be zero here: a zero interval, timeout or limit cannot be met (use at least ${minMs}ms)`
      : `must be at least ${minMs}ms, not \`${text}\``;
  }
  return undefined;
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
