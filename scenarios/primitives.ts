/**
 * The small shared vocabulary of every drillbook file (durations, secret references, names),
 * kept apart from schema.ts so driver-specific schemas (schema-rds.ts, schema-kubernetes.ts)
 * can use it without a cycle.
 */
import { z } from 'zod';
import { durationProblem, MAX_DURATION_MS, MAX_TIMEOUT_MS, MIN_POSITIVE_DURATION_MS } from './duration.js';

/**
 * Units largest first, each at most once. A pattern (not only a refinement) so the exported
 * JSON Schema lets editors flag a bad duration as it is typed.
 */
export const DURATION_PATTERN = /^(?=\d)(\d+(\.\d+)?d)?(\d+(\.\d+)?h)?(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?(\d+(\.\d+)?ms)?$/;

/** A duration string of at least `minMs` and at most `maxMs` (ten years unless smaller). */
function durationSchema(minMs: number, description: string, maxMs = MAX_DURATION_MS) {
  return z
    .string()
    .regex(DURATION_PATTERN, 'not a duration: use a number with a unit, e.g. 250ms, 90s, 15m, 1h30m, 7d')
    .superRefine((text, ctx) => {
      const problem = durationProblem(text, minMs, maxMs);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe(description);
}

export const Duration = durationSchema(0, 'A duration such as 250ms, 90s, 15m, 1h30m or 7d');

/**
 * A duration that must not be zero: a wait, timeout, interval or limit of zero is never what
 * was meant (a 0 ms probe interval is a busy loop, a 0 s maxDuration aborts every drill at once).
 */
export const PositiveDuration = durationSchema(MIN_POSITIVE_DURATION_MS, 'A duration of at least 1ms, such as 250ms, 90s, 15m, 1h30m or 7d');

/** One timeout or pause (a probe attempt, a command, a wait for readiness): at least 1ms, at most 24 days. */
export const Timeout = durationSchema(MIN_POSITIVE_DURATION_MS, 'A timeout from 1ms to 24d, such as 2s, 60s or 15m', MAX_TIMEOUT_MS);

/** Secrets are named, never inline, and never written to evidence. */
export const SecretRef = z.union(
  [
    z.strictObject({ env: z.string().min(1).describe('Environment variable holding the secret') }),
    z.strictObject({ file: z.string().min(1).describe('File holding the secret, relative to the scenario') }),
  ],
  { error: 'secrets are never inline: name them as { env: NAME } or { file: ./path }' },
);
export type SecretRef = z.infer<typeof SecretRef>;

export const DnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label (a-z, 0-9, -; at most 63 characters)');
