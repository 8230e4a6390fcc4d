/**
 * The scheduler's view of time: wall-clock "now" (cron due times are wall-clock instants) and
 * one-shot timers. Passed in so tests drive a simulated week in milliseconds of real time.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface SchedulerClock {
  /** Wall time, epoch milliseconds. */
  now(): number;
  setTimer(delayMs: number, fire: () => void): TimerHandle;
}

/** setTimeout caps its delay at 2^31-1 ms (~24.8 days); longer waits would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemSchedulerClock: SchedulerClock = {
  now: () => Date.now(),
  setTimer(delayMs, fire) {
    const timer = setTimeout(fire, Math.min(Math.max(0, delayMs), MAX_TIMEOUT_MS));
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  id: number;
  at: number;
  fire: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advanceTo` fires due timers one at a time in time
 * order, letting the code under test settle (`settle`, e.g. the scheduler's `idle()`) after
 * each, so timers set by a fired timer within the window fire too.
 */
export class ManualClock implements SchedulerClock {
  #now: number;
  #nextId = 1;
  #timers: ManualTimer[] = [];

  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fire: () => void): TimerHandle {
    const timer: ManualTimer = { id: this.#nextId++, at: this.#now + Math.max(0, delayMs), fire, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers still waiting to fire. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  async advanceTo(targetMs: number, settle: () => Promise<void> = async () => undefined): Promise<void> {
    // A macrotask turn drains every pending microtask (promise chains the fired timer started)
    // before `settle` looks at what is in flight.
    const drain = async () => {
      for (let round = 0; round < 2; round++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await settle();
      }
    };
    await drain();
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const due = this.#timers.filter((t) => t.at <= targetMs).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers.splice(this.#timers.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      due.fire();
      await drain();
    }
    this.#now = Math.max(this.#now, targetMs);
  }

  advanceBy(ms: number, settle?: () => Promise<void>): Promise<void> {
    return this.advanceTo(this.#now + ms, settle);
  }
}
