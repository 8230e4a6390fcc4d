/**
 * The RPO heartbeat: a writer commits one row (seq, client time) every interval up to T0
 * and logs each *acknowledged* commit with its monotonic send and ack instants. After
 * recovery, the rows present in the recovered data against this log give the data-loss
 * window and the count of lost acknowledged writes (SPEC: Measured RPO).
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
  private running: Promise<void> | undefined;
  private stopRequested = false;
  private readonly stopSleeping = new AbortController();

  constructor(
    private readonly sink: HeartbeatSink,
    private readonly clock: RunClock,
    private readonly intervalMs: number,
  ) {}

  start(signal: AbortSignal): void {
    this.running = this.loop(signal);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    for (let seq = 1; !this.stopRequested && !signal.aborted; seq++) {
      const sent = this.clock.now();
      try {
        await this.sink.write(seq, sent.at);
        this.acked.push({ seq, clientTime: sent.at, sentMono: sent.mono, ackMono: this.clock.elapsed() });
      } catch {
        this.failures++; // not acknowledged: not counted as written
      }
      if (this.stopRequested) break;
      const wake = AbortSignal.any([signal, this.stopSleeping.signal]);
      await sleep(sent.mono + this.intervalMs - this.clock.elapsed(), wake).catch(() => undefined);
    }
  }

  /** Stops after the write in flight is acknowledged or fails, so every ack is known at T0. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.stopSleeping.abort();
    await this.running;
  }
}
