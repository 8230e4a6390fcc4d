/**
 * Two clocks, on purpose: durations (RTO, RPO, probe latency) come from the monotonic clock,
 * which NTP steps cannot move; every event also carries UTC wall time for the evidence.
 * A Clock is passed in so tests can hand in their own.
 */
import { sleepLong } from './timers.js';
export interface Clock {
  /** Milliseconds on a monotonic clock (arbitrary origin). */
  monoMs(): number;
  /** Wall time in milliseconds since the epoch (UTC). */
  wallMs(): number;
}

export const systemClock: Clock = {
  monoMs: () => Number(process.hrtime.bigint()) / 1e6,
  wallMs: () => Date.now(),
};

/** What a deadline needs: monotonic milliseconds. A RunClock is one; `systemClock` gives one for code outside a run. */
export interface Elapsed {
  elapsed(): number;
}

export const systemElapsed: Elapsed = { elapsed: () => systemClock.monoMs() };

/** UTC time now on `clock`, as ISO 8601: the stamp for evidence written outside a run's timeline. */
export function isoNow(clock: Clock = systemClock): string {
  return new Date(clock.wallMs()).toISOString();
}

/** An instant on both clocks, relative to a run's monotonic origin. */
export interface Instant {
  at: string;
  mono: number;
}

/** A run's clock; it is itself a Clock (monotonic ms since the run started, wall ms on the run's time line), so it can be handed to anything that takes one. */
export class RunClock implements Clock {
  readonly originMono: number;
  readonly originWall: number;

  constructor(private readonly clock: Clock = systemClock) {
    this.originMono = clock.monoMs();
    this.originWall = clock.wallMs();
  }

  /** Monotonic milliseconds since the run started. */
  elapsed(): number {
    return this.clock.monoMs() - this.originMono;
  }

  /** Clock.monoMs: the run's monotonic time (origin at the run's start). */
  monoMs(): number {
    return this.elapsed();
  }

  /**
   * The wall time of an instant is derived from the run's origin plus monotonic elapsed
   * time, so the UTC times in one run's evidence are mutually consistent even if the
   * system clock is stepped mid-run.
   */
  now(): Instant {
    const mono = this.elapsed();
    return { at: new Date(this.originWall + mono).toISOString(), mono };
  }

  /** Wall time now, in milliseconds since the epoch, on the run's own time line. */
  wallMs(): number {
    return this.originWall + this.elapsed();
  }

  wallOf(mono: number): string {
    return new Date(this.originWall + mono).toISOString();
  }

  /** The instant of a UTC time stamped on this run's time line (the inverse of wallOf, to the ms). */
  instantOf(at: string): Instant {
    return { at, mono: Date.parse(at) - this.originWall };
  }
}

/**
 * Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. Any length:
 * waits past setTimeout's 24.9-day limit are chunked (timers.ts) instead of firing at once.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepLong(ms, signal);
}
