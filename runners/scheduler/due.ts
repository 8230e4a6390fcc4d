/**
 * The missed-run policy, pure: given the due times between the last one handled and now,
 * which run is on time, which missed ones are caught up (`missed: catch-up`, newest first,
 * at most `maxCatchUp`) and which are recorded as missed, with the reason each gets.
 */
import type { Schedule } from '../../scenarios/schema-schedule.js';

export interface DuePlan {
  /** Recorded as missed, oldest first, each with its reason. */
  missed: { scheduledFor: number; reason: string }[];
  /** Run late (they wait for the system whatever the overlap policy: the point is a recent test). */
  catchUp: number[];
  /** The run due now, within the grace time; undefined when it too is late. */
  onTime: number | undefined;
}

const NOT_RUNNING = 'drillbook schedule was not running (or the host was asleep) at the due time';

export function planDue(times: readonly number[], truncated: boolean, now: number, graceMs: number, schedule: Pick<Schedule, 'missed' | 'maxCatchUp'>, iso: (ms: number) => string): DuePlan {
  const newest = times[times.length - 1]!;
  const onTime = !truncated && now - newest <= graceMs ? newest : undefined;
  const late = onTime === undefined ? [...times] : times.slice(0, -1);
  const maxCatchUp = schedule.maxCatchUp ?? 1;
  let catchUp: number[] = [];
  if (schedule.missed === 'catch-up' && late.length > 0) {
    // The run due now (if any) counts as one catch-up: the point is a recent test, not a count.
    const allowed = Math.max(0, maxCatchUp - (onTime === undefined ? 0 : 1));
    catchUp = allowed === 0 ? [] : late.slice(-allowed);
  }
  const missed: DuePlan['missed'] = [];
  late.forEach((scheduledFor, index) => {
    if (catchUp.includes(scheduledFor)) return;
    let reason = NOT_RUNNING;
    if (schedule.missed === 'catch-up') {
      reason +=
        onTime !== undefined && catchUp.length === 0
          ? `; not caught up: the run due at ${iso(onTime)} covers it`
          : `; not caught up: only the newest ${maxCatchUp} missed run${maxCatchUp === 1 ? ' is' : 's are'} (maxCatchUp)`;
    }
    if (truncated && index === 0) reason += `; more than ${times.length} runs were missed, older ones are not listed`;
    missed.push({ scheduledFor, reason });
  });
  return { missed, catchUp, onTime };
}
