/**
 * `spec.schedule`: when `drillbook schedule` runs a drill, and what it does when a run collides
 * with another drill of the same system or falls into a time the scheduler was not running.
 * Cron syntax and time zones are checked by crossfile.ts (they need the cron package and Intl);
 * this schema adds what it can say alone, so every problem stays located by the loader.
 */
import { z } from 'zod';

/**
 * The cron package accepts these shorthands, but SPEC fixes 5 or 6 fields: a shorthand hides
 * its time zone reading (is `@daily` midnight here or in UTC?) from whoever reviews the drill.
 */
const CRON_SHORTHANDS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
  '@minutely': '* * * * *',
  '@secondly': '* * * * * *',
  '@weekdays': '0 0 * * 1-5',
  '@weekends': '0 0 * * 0,6',
};

export const Schedule = z.strictObject({
  cron: z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      const written = CRON_SHORTHANDS[value.trim().toLowerCase()];
      if (written !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `the shorthand \`${value.trim()}\` is not supported: write the 5 or 6 fields, e.g. \`${written}\``,
        });
      }
    })
    .describe('5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first'),
  timezone: z
    .string()
    .optional()
    .describe('IANA time zone the cron fields are read in, e.g. Europe/Berlin (default UTC)'),
  overlap: z
    .enum(['skip', 'wait'])
    .default('skip')
    .describe('When a drill of the same system is running at the due time: skip this run (recorded) or wait for it'),
  missed: z
    .enum(['catch-up', 'record'])
    .default('record')
    .describe('Runs that fell while the scheduler was down: record them as missed, or run them once it is back'),
  maxCatchUp: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe('missed: catch-up runs at most this many of the missed runs, newest first (default 1)'),
});
export type Schedule = z.infer<typeof Schedule>;
