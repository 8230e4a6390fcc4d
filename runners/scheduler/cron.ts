/**
 * Due times of a `spec.schedule`, computed by the cron package's CronTime so that time zones
 * and daylight-saving changes follow its rules: a time that does not exist on the day clocks
 * go forward (02:30 in Europe/Berlin on 2026-03-29) runs at the change (03:00 CEST); a daily
 * time that exists twice on the day clocks go back runs once, at its first occurrence; an
 * hourly schedule runs in both repeated hours.
 */
import { CronTime } from 'cron';
import type { Schedule } from '../../scenarios/schema-schedule.js';

/** The zone a schedule without `timezone` is read in: UTC, so a file means the same on every host. */
export const DEFAULT_TIMEZONE = 'UTC';

/** Bounds the work of listing missed runs after a long downtime with a fine-grained cron. */
export const MAX_LISTED_OCCURRENCES = 1000;

export class CronSchedule {
  readonly timezone: string;
  readonly #time: CronTime;

  constructor(readonly expression: string, timezone?: string) {
    this.timezone = timezone ?? DEFAULT_TIMEZONE;
    // Throws (CronError) on a bad expression or zone; the loader has reported those already.
    this.#time = new CronTime(expression.trim(), this.timezone);
  }

  static of(schedule: Pick<Schedule, 'cron' | 'timezone'>): CronSchedule {
    return new CronSchedule(schedule.cron, schedule.timezone);
  }

  /** The first due time strictly after `afterMs` (epoch ms). Throws when there is none within years. */
  next(afterMs: number): number {
    return this.#time.getNextDateFrom(new Date(afterMs), this.timezone).toMillis();
  }

  /**
   * Due times in (fromMs, toMs], oldest first, at most `limit`; `truncated` says that more
   * were left out.
   */
  between(fromMs: number, toMs: number, limit = MAX_LISTED_OCCURRENCES): { times: number[]; truncated: boolean } {
    const times: number[] = [];
    let cursor = fromMs;
    for (;;) {
      const due = this.next(cursor);
      if (due > toMs) return { times, truncated: false };
      if (times.length >= limit) return { times, truncated: true };
      times.push(due);
      cursor = due;
    }
  }
}

/** Why a schedule can never be used, or undefined when it can (e.g. `0 0 30 2 *` never fires). */
export function scheduleProblem(schedule: Pick<Schedule, 'cron' | 'timezone'>, nowMs: number): string | undefined {
  try {
    CronSchedule.of(schedule).next(nowMs);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return /No execution date/i.test(message) ? 'this schedule never fires (no matching date in the next 8 years)' : message.split('\n')[0];
  }
}
