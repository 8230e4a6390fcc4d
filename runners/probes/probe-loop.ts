/**
 * The recovery probe loop: one attempt every `interval` (start to start; an attempt that
 * hangs is cut at `timeout`), until `stableFor` more consecutive successes follow a first
 * success. Every attempt is kept, because the attempts *are* the RTO evidence.
 */
import type { ProbeAttempt } from '../../reports/run-record.js';
import { type RunClock, sleep } from '../clock.js';

export type ProbeFn = (attempt: number, signal: AbortSignal) => Promise<void>;

export interface ProbeLoopOptions {
  name: string;
  probe: ProbeFn;
  clock: RunClock;
  intervalMs: number;
  timeoutMs: number;
  stableFor: number;
  /** Give up when no stable success arrives within this long. */
  maxWaitMs: number;
  signal: AbortSignal;
  onAttempt(attempt: ProbeAttempt): void;
  /** Called after each attempt; a `true` return stops the loop (e.g. detection only). */
  stopWhen?(attempt: ProbeAttempt): boolean;
}

export interface ProbeLoopResult {
  attempts: ProbeAttempt[];
  /** The first success of the stable run, when there was one. */
  recovered: ProbeAttempt | undefined;
  /** The last failed attempt before `recovered`: it bounds the true recovery instant. */
  lastFailureBefore: ProbeAttempt | undefined;
}

export async function runProbeLoop(options: ProbeLoopOptions): Promise<ProbeLoopResult> {
  const { clock, signal } = options;
  const attempts: ProbeAttempt[] = [];
  const began = clock.elapsed();
  let streakStart: number | undefined;
  let streak = 0;
  for (let n = 1; ; n++) {
    signal.throwIfAborted();
    const attempt = await attemptOnce(options, n);
    attempts.push(attempt);
    options.onAttempt(attempt);
    if (attempt.ok) {
      if (streak === 0) streakStart = attempts.length - 1;
      streak++;
      if (streak >= options.stableFor + 1) {
        const recovered = attempts[streakStart!]!;
        const lastFailureBefore = attempts.slice(0, streakStart).reverse().find((a) => !a.ok);
        return { attempts, recovered, lastFailureBefore };
      }
    } else {
      streak = 0;
    }
    if (options.stopWhen?.(attempt)) return { attempts, recovered: undefined, lastFailureBefore: undefined };
    if (clock.elapsed() - began > options.maxWaitMs) return { attempts, recovered: undefined, lastFailureBefore: undefined };
    await sleep(attempt.startMono + options.intervalMs - clock.elapsed(), signal);
  }
}

async function attemptOnce(options: ProbeLoopOptions, n: number): Promise<ProbeAttempt> {
  const { clock } = options;
  const start = clock.now();
  const attemptAbort = new AbortController();
  const onOuterAbort = () => attemptAbort.abort(options.signal.reason);
  options.signal.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeoutError = new Error(`timed out after ${options.timeoutMs} ms`);
  try {
    await Promise.race([
      options.probe(n, attemptAbort.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Reject first: the race must settle as a timeout, not as the abort it causes.
          reject(timeoutError);
          attemptAbort.abort(timeoutError);
        }, options.timeoutMs);
      }),
    ]);
    const end = clock.elapsed();
    return { probe: options.name, startedAt: start.at, startMono: start.mono, endMono: end, ok: true, latencyMs: end - start.mono };
  } catch (error) {
    const end = clock.elapsed();
    const message = error instanceof Error ? error.message : String(error);
    const timedOut = error === timeoutError;
    return { probe: options.name, startedAt: start.at, startMono: start.mono, endMono: end, ok: false, latencyMs: end - start.mono, error: message, ...(timedOut ? { timedOut } : {}) };
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onOuterAbort);
    if (!attemptAbort.signal.aborted) attemptAbort.abort(new Error('attempt finished'));
  }
}
