/**
 * Probe streams: one attempt starts every `interval` (start to start) whether or not the
 * earlier ones have finished (SPEC v1.1 "Probes overlap"), at most ⌈timeout / interval⌉ + 1
 * in flight; each attempt is cut at `timeout`. A hung connection (a proxy holding clients
 * while no backend is up, a SIGSTOPped server) therefore never delays the next attempt, and
 * the attempt that sees the recovery starts at most one interval after it. Every attempt is
 * kept, because the attempts *are* the RTO evidence.
 *
 * One success after a failure is a sample of one: behind a proxy that still has the dead
 * server UP beside the new one (HAProxy between a failover and its `fall` checks), it may be
 * the lucky half. So the first success after a failure starts `CONFIRMING_ATTEMPTS` more at
 * once, each on its own connection; one of them landing on the dead server breaks that
 * candidate recovery (findRecovery), and none of them can confirm it.
 */
import type { ProbeAttempt, ServerFacts } from '../../reports/run-record.js';
import { type RunClock, sleep } from '../clock.js';
import { findRecovery } from '../measure.js';

/** One probe attempt; a SQL probe resolves with the identity of the server that answered. */
export type ProbeFn = (attempt: number, signal: AbortSignal) => Promise<void | ServerFacts>;

export interface ProbeStreamOptions {
  name: string;
  probe: ProbeFn;
  clock: RunClock;
  intervalMs: number;
  timeoutMs: number;
  signal: AbortSignal;
  onAttempt(attempt: ProbeAttempt): void;
}

/** ⌈timeout / interval⌉ + 1: more would be attempts that can only time out together. */
export function maxInFlight(timeoutMs: number, intervalMs: number): number {
  return Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 1;
}

/** Against a round-robin proxy with two servers UP, three connections in a row reach both. */
export const CONFIRMING_ATTEMPTS = 3;

export class ProbeStream {
  /** Attempts by start order (index = attempt number − 1); undefined while in flight. */
  private readonly slots: (ProbeAttempt | undefined)[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly waiters = new Set<() => void>();
  private readonly confirmingInFlight = new Set<number>();
  private readonly confirmingNumbers = new Set<number>();
  /** Start instants by attempt, known also while the attempt is in flight. */
  private readonly starts: number[] = [];
  private lastBurstMono = -Infinity;
  private ticking: Promise<void> | undefined;
  private failure: unknown;
  readonly cap: number;

  constructor(private readonly options: ProbeStreamOptions) {
    this.cap = maxInFlight(options.timeoutMs, options.intervalMs);
  }

  get name(): string {
    return this.options.name;
  }

  start(): this {
    this.ticking ??= this.tick().catch((error: unknown) => {
      this.failure = error;
      this.notify();
    });
    return this;
  }

  /** Completed attempts in start order, up to the first one still in flight. */
  settled(): ProbeAttempt[] {
    const out: ProbeAttempt[] = [];
    for (const slot of this.slots) {
      if (!slot) break;
      out.push(slot);
    }
    return out;
  }

  /** Every completed attempt in start order, also those after one still in flight. */
  completed(): ProbeAttempt[] {
    return this.slots.filter((s): s is ProbeAttempt => s !== undefined);
  }

  /**
   * Re-evaluates `test` over the settled attempts after each attempt completes; resolves
   * with its first defined answer, or undefined once `deadlineMono` has passed.
   */
  async waitFor<T>(test: (settled: ProbeAttempt[]) => T | undefined, deadlineMono: number): Promise<T | undefined> {
    for (;;) {
      this.options.signal.throwIfAborted();
      if (this.failure) throw this.failure;
      const answer = test(this.settled());
      if (answer !== undefined) return answer;
      // A stopped stream with nothing in flight has nothing more to tell.
      if (this.stopping.signal.aborted && this.inFlight.size === 0) return undefined;
      const left = deadlineMono - this.options.clock.elapsed();
      if (left <= 0) return undefined;
      const signal = this.options.signal;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 2_147_483_647));
        signal.addEventListener('abort', done, { once: true });
        this.waiters.add(done);
      });
    }
  }

  /** Starts no new attempt; waits for those in flight (each ends by its timeout). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.ticking;
    await Promise.all([...this.inFlight]);
    this.notify();
  }

  private notify(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }

  /** Starts attempt number `slots.length + 1` now. */
  private launch(confirming: boolean): void {
    const n = this.slots.length + 1;
    this.slots.push(undefined);
    this.starts.push(this.options.clock.elapsed());
    if (confirming) {
      this.confirmingInFlight.add(n);
      this.confirmingNumbers.add(n);
    }
    const running: Promise<void> = attemptOnce(this.options, n, confirming).then((attempt) => {
      this.slots[n - 1] = attempt;
      this.inFlight.delete(running);
      this.confirmingInFlight.delete(n);
      this.options.onAttempt(attempt);
      if (this.candidateRecovery(attempt)) {
        this.lastBurstMono = this.options.clock.elapsed();
        for (let i = 0; i < CONFIRMING_ATTEMPTS; i++) this.launch(true);
      }
      this.notify();
    });
    this.inFlight.add(running);
  }

  /**
   * A scheduled success while an attempt started since the previous scheduled one (that one
   * included) failed or hangs (in flight far longer than this one took): a candidate recovery,
   * worth sampling again at once. Once a candidate held, the next success has only successes
   * before it, so a recovery costs one burst, not one per attempt.
   */
  private candidateRecovery(attempt: ProbeAttempt): boolean {
    if (!attempt.ok || attempt.confirming || this.stopping.signal.aborted || this.options.signal.aborted) return false;
    const now = this.options.clock.elapsed();
    if (now - this.lastBurstMono < this.options.intervalMs / 2) return false;
    for (let i = attempt.attempt! - 2; i >= 0; i--) {
      const slot = this.slots[i];
      if (slot ? !slot.ok : now - this.starts[i]! > 2 * attempt.latencyMs + 20) return true;
      if (!this.confirmingNumbers.has(i + 1)) return false; // the previous scheduled attempt: done
    }
    return false;
  }

  private async tick(): Promise<void> {
    const { clock, intervalMs } = this.options;
    const stop = AbortSignal.any([this.options.signal, this.stopping.signal]);
    let next = clock.elapsed();
    while (!stop.aborted) {
      // The cap counts scheduled attempts only: confirming ones never delay the schedule.
      while (this.inFlight.size - this.confirmingInFlight.size >= this.cap && !stop.aborted) await Promise.race(this.inFlight);
      if (stop.aborted) break;
      this.launch(false);
      // Start to start; after a stall (the cap, a blocked event loop) the schedule restarts
      // from now rather than firing a burst of attempts to catch up.
      next = Math.max(next + intervalMs, clock.elapsed());
      await sleep(next - clock.elapsed(), stop).catch(() => undefined);
    }
    this.options.signal.throwIfAborted();
  }
}

export interface ProbeLoopOptions extends ProbeStreamOptions {
  stableFor: number;
  /** Give up when no stable success arrives within this long. */
  maxWaitMs: number;
  /** Stops at the first settled attempt for which this is true (e.g. detection only). */
  stopWhen?(attempt: ProbeAttempt): boolean;
}

export interface ProbeLoopResult {
  attempts: ProbeAttempt[];
  /** The first success of the stable run, when there was one. */
  recovered: ProbeAttempt | undefined;
  /** The last failed attempt before `recovered`: it bounds the true recovery instant. */
  lastFailureBefore: ProbeAttempt | undefined;
}

/** A stream run until `stableFor` more consecutive successes follow a first success. */
export async function runProbeLoop(options: ProbeLoopOptions): Promise<ProbeLoopResult> {
  const stream = new ProbeStream(options).start();
  const began = options.clock.elapsed();
  try {
    const found = await stream.waitFor((settled) => {
      if (options.stopWhen && settled.some((a) => options.stopWhen!(a))) return { recovered: undefined, lastFailureBefore: undefined };
      const recovery = findRecovery(settled, { fromMono: -Infinity, stableFor: options.stableFor });
      return recovery ? { recovered: recovery.recovered, lastFailureBefore: recovery.lastFailureBefore } : undefined;
    }, began + options.maxWaitMs);
    await stream.stop();
    return { attempts: stream.completed(), recovered: found?.recovered, lastFailureBefore: found?.lastFailureBefore };
  } catch (error) {
    await stream.stop().catch(() => undefined);
    throw error;
  }
}

async function attemptOnce(options: ProbeStreamOptions, n: number, confirming: boolean): Promise<ProbeAttempt> {
  const { clock } = options;
  const start = clock.now();
  const attemptAbort = new AbortController();
  // One signal for the attempt: the drill's abort or this attempt's end (no listener per
  // attempt on the drill's signal, of which there are many with overlapping attempts).
  const attemptSignal = AbortSignal.any([options.signal, attemptAbort.signal]);
  let timer: NodeJS.Timeout | undefined;
  const timeoutError = new Error(`timed out after ${options.timeoutMs} ms`);
  try {
    const facts = await Promise.race([
      options.probe(n, attemptSignal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Reject first: the race must settle as a timeout, not as the abort it causes.
          reject(timeoutError);
          attemptAbort.abort(timeoutError);
        }, options.timeoutMs);
      }),
    ]);
    const end = clock.elapsed();
    return { probe: options.name, attempt: n, startedAt: start.at, startMono: start.mono, endMono: end, ok: true, latencyMs: end - start.mono, ...(facts ? { server: facts } : {}), ...(confirming ? { confirming } : {}) };
  } catch (error) {
    const end = clock.elapsed();
    const message = error instanceof Error ? error.message : String(error);
    const timedOut = error === timeoutError;
    return { probe: options.name, attempt: n, startedAt: start.at, startMono: start.mono, endMono: end, ok: false, latencyMs: end - start.mono, error: message, ...(timedOut ? { timedOut } : {}), ...(confirming ? { confirming } : {}) };
  } finally {
    clearTimeout(timer);
    if (!attemptAbort.signal.aborted) attemptAbort.abort(new Error('attempt finished'));
  }
}
