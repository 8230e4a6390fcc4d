/**
 * The RPO heartbeat: a writer commits one row (seq, client time) every interval and logs each
 * *acknowledged* commit with its monotonic send and ack instants. It runs from steady state
 * through the fault: for a failover it goes on after T0 until the disrupted endpoint stops
 * acknowledging (a write fails, or hangs past the probe timeout), because writes acknowledged
 * in that gap are exactly the ones asynchronous replication loses (SPEC v1.1 "RPO across the
 * crash"). After recovery, the rows present in the recovered data against this log give the
 * data-loss window and the count of lost acknowledged writes.
 */
import { type RunClock, sleep } from '../clock.js';

export interface HeartbeatSink {
  /** Commits heartbeat `seq`; resolves only once the commit is acknowledged. */
  write(seq: number, clientTime: string): Promise<void>;
}

export interface AckedHeartbeat {
  seq: number;
  clientTime: string;
  sentMono: number;
  ackMono: number;
}

export class HeartbeatWriter {
  readonly acked: AckedHeartbeat[] = [];
  failures = 0;
  /** Why the writer stopped writing after T0 (the endpoint stopped acknowledging), when it did. */
  endedBy: { mono: number; reason: string } | undefined;
  private running: Promise<void> | undefined;
  private inFlight: Promise<unknown> | undefined;
  private stopRequested = false;
  private armed: { fromMono: number; timeoutMs: number } | undefined;
  private readonly stopSleeping = new AbortController();

  constructor(
    private readonly sink: HeartbeatSink,
    private readonly clock: RunClock,
    private readonly intervalMs: number,
  ) {}

  start(signal: AbortSignal): void {
    this.running = this.loop(signal);
  }

  /**
   * From `fromMono` (T0) on, the first write that fails or is not acknowledged within
   * `timeoutMs` ends the writer: the disrupted endpoint no longer acknowledges.
   */
  untilUnacknowledged(fromMono: number, timeoutMs: number): void {
    this.armed = { fromMono, timeoutMs };
  }

  private async loop(signal: AbortSignal): Promise<void> {
    for (let seq = 1; !this.stopRequested && !signal.aborted; seq++) {
      const sent = this.clock.now();
      const write = this.sink.write(seq, sent.at).then(
        // A late acknowledgement (after a hang) is still an acknowledgement: it is logged.
        () => void this.acked.push({ seq, clientTime: sent.at, sentMono: sent.mono, ackMono: this.clock.elapsed() }),
        (error: unknown) => {
          this.failures++; // not acknowledged: not counted as written
          throw error;
        },
      );
      this.inFlight = write.catch(() => undefined);
      const armed = this.armed;
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        write.then(
          () => 'ok' as const,
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        ),
        new Promise<'hung'>((resolve) => {
          // Only once armed: before T0 a slow commit just delays the next heartbeat.
          if (armed) timer = setTimeout(() => resolve('hung'), armed.timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      const armedNow = this.armed;
      if (outcome !== 'ok' && armedNow && this.clock.elapsed() >= armedNow.fromMono) {
        this.endedBy = { mono: this.clock.elapsed(), reason: outcome === 'hung' ? `heartbeat ${seq} not acknowledged within ${armedNow.timeoutMs} ms` : `heartbeat ${seq} failed: ${outcome}` };
        break;
      }
      if (this.stopRequested) break;
      const wake = AbortSignal.any([signal, this.stopSleeping.signal]);
      await sleep(sent.mono + this.intervalMs - this.clock.elapsed(), wake).catch(() => undefined);
    }
  }

  /** Asks the writer to stop after the write in flight (sync: usable at the T0 instant). */
  requestStop(): void {
    this.stopRequested = true;
    this.stopSleeping.abort();
  }

  /**
   * Stops, waiting for the write in flight to be acknowledged or fail, at most `maxWaitMs`
   * (a write to a hung server may never answer; what it does later is not waited for).
   */
  async stop(maxWaitMs = Infinity): Promise<void> {
    this.requestStop();
    let timer: NodeJS.Timeout | undefined;
    const limit = Number.isFinite(maxWaitMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs))) : new Promise<void>(() => undefined);
    await Promise.race([this.running, limit]);
    await Promise.race([this.inFlight, limit]);
    clearTimeout(timer);
  }

  /** The acknowledged heartbeats now (a snapshot: a hung write may still be acknowledged later). */
  snapshot(): AckedHeartbeat[] {
    return [...this.acked];
  }
}
