import { describe, expect, it } from 'vitest';
import { RunClock } from '../../../runners/clock.js';
import type { ProbeAttempt } from '../../../reports/run-record.js';
import { findRecovery } from '../../../runners/measure.js';
import { HeartbeatWriter } from '../../../runners/probes/heartbeat.js';
import { CONFIRMING_ATTEMPTS, maxInFlight, ProbeStream, runProbeLoop } from '../../../runners/probes/probe-loop.js';

/** A probe that fails on the calls `down` picks (call numbers from 1, confirming attempts included). */
function failingOn(down: (call: number) => boolean) {
  let calls = 0;
  return async () => {
    calls++;
    if (down(calls)) throw new Error(`down ${calls}`);
  };
}

/** Loop options for an instant probe; tests override what they are about. */
function loopOptions(probe: () => Promise<void>, over: { intervalMs?: number; timeoutMs?: number } = {}) {
  return { name: 'p', probe, clock: new RunClock(), intervalMs: 5, timeoutMs: 100, stableFor: 2, maxWaitMs: 5_000, signal: new AbortController().signal, onAttempt: () => undefined, ...over };
}

describe('runProbeLoop', () => {
  it('needs stableFor successes after the first and keeps every attempt', async () => {
    const outcomes = [false, false, true, false, true, true, true, true];
    // Scheduled attempts follow `outcomes`. The success of the third follows a failure, so three
    // confirming attempts start at once (calls 4–6, all up here: they neither break nor make the
    // run); the fourth scheduled attempt is call 7.
    const result = await runProbeLoop(loopOptions(failingOn((call) => call <= 2 || call === 7)));
    const regular = result.attempts.filter((a) => !a.confirming);
    expect(regular.map((a) => a.ok)).toEqual(outcomes.slice(0, 7));
    expect(result.recovered).toBe(regular[4]);
    expect(result.lastFailureBefore).toBe(regular[3]);
  });

  it('starts confirming attempts after a candidate recovery; one failing breaks it, and none confirms it', async () => {
    // By call: down, down, up (the candidate: 3 confirming attempts start at once), down (the
    // first of them, as if a proxy sent it to the dead server), then up.
    const result = await runProbeLoop(loopOptions(failingOn((call) => call <= 2 || call === 4), { intervalMs: 20 }));
    const a = result.attempts;
    expect(a.slice(0, 6).map((x) => [x.ok, x.confirming ?? false])).toEqual([
      [false, false],
      [false, false],
      [true, false],
      [false, true],
      [true, true],
      [true, true],
    ]);
    // The candidate (attempt 3) was broken by its confirming attempt: the recovery is the next
    // scheduled success, confirmed by two more scheduled ones (confirming successes do not count).
    expect(result.lastFailureBefore).toBe(a[3]);
    const next = a.slice(6).filter((x) => !x.confirming);
    expect(result.recovered).toBe(next[0]);
    expect(a.filter((x) => x.confirming).length).toBeGreaterThanOrEqual(CONFIRMING_ATTEMPTS);
    expect(next.length).toBeGreaterThanOrEqual(3);
  });

  it('confirms a recovery with one burst, not one per success after it', async () => {
    const stream = new ProbeStream(loopOptions(failingOn((call) => call <= 3), { intervalMs: 10, timeoutMs: 1_000 })).start();
    await new Promise((r) => setTimeout(r, 300));
    await stream.stop();
    const attempts = stream.completed();
    expect(attempts.filter((a) => !a.confirming).length).toBeGreaterThan(10);
    expect(attempts.filter((a) => a.confirming).map((a) => a.attempt)).toEqual([5, 6, 7]);
  });

  it('cuts a hanging attempt at the timeout and marks it as such', async () => {
    let calls = 0;
    const result = await runProbeLoop({
      name: 'p',
      probe: (_n, signal) =>
        ++calls === 1
          ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
          : Promise.resolve(),
      clock: new RunClock(),
      intervalMs: 5,
      timeoutMs: 30,
      stableFor: 0,
      maxWaitMs: 5_000,
      signal: new AbortController().signal,
      onAttempt: () => undefined,
    });
    expect(result.attempts[0]).toMatchObject({ ok: false, timedOut: true, error: 'timed out after 30 ms' });
    expect(result.recovered).toBe(result.attempts[1]);
  });

  it('stops when the drill is aborted', async () => {
    const abort = new AbortController();
    const loop = runProbeLoop({
      name: 'p',
      probe: async () => {
        throw new Error('down');
      },
      clock: new RunClock(),
      intervalMs: 10,
      timeoutMs: 100,
      stableFor: 0,
      maxWaitMs: 60_000,
      signal: abort.signal,
      onAttempt: () => undefined,
    });
    setTimeout(() => abort.abort(new Error('interrupted')), 50);
    await expect(loop).rejects.toThrow('interrupted');
  });
});

describe('ProbeStream (overlapping attempts)', () => {
  it('starts an attempt every interval while earlier ones hang, caps those in flight, and keeps every attempt', async () => {
    const clock = new RunClock();
    // Down (hanging, as behind a proxy with no backend) until 300 ms, then up.
    const upAt = 300;
    let inFlight = 0;
    let maxSeen = 0;
    const attempts: ProbeAttempt[] = [];
    const stream = new ProbeStream({
      name: 'p',
      probe: (_n, signal) => {
        inFlight++;
        maxSeen = Math.max(maxSeen, inFlight);
        const done = () => inFlight--;
        if (clock.elapsed() >= upAt) return new Promise<void>((resolve) => setTimeout(resolve, 2)).finally(done);
        // A hang that ignores its abort signal: the loop's own timeout must cut it.
        void signal;
        return new Promise<void>(() => undefined).finally(done);
      },
      clock,
      intervalMs: 20,
      timeoutMs: 100,
      signal: new AbortController().signal,
      onAttempt: (a) => attempts.push(a),
    }).start();
    const recovery = await stream.waitFor((s) => findRecovery(s, { fromMono: 0, stableFor: 2 }), clock.elapsed() + 5_000);
    await stream.stop();
    expect(recovery).toBeDefined();
    const r = recovery!.recovered;
    // The recovering attempt started within one interval (plus timer slack) of the recovery.
    // The attempt is stamped a few microseconds before the probe reads the clock: allow 1 ms.
    expect(r.startMono).toBeGreaterThanOrEqual(upAt - 1);
    expect(r.startMono - upAt).toBeLessThan(20 + 15);
    // The bound: interval + the recovering attempt's latency, not a timeout.
    expect(r.endMono - recovery!.lowerBoundMono).toBeLessThanOrEqual(20 + r.latencyMs + 15);
    const before = stream.completed().filter((a) => a.startMono < upAt);
    expect(before.every((a) => !a.ok && a.timedOut)).toBe(true);
    // Attempts were started every interval during the hang, not one per timeout.
    expect(before.length).toBeGreaterThanOrEqual(Math.floor(upAt / 20) - 3);
    expect(stream.cap).toBe(maxInFlight(100, 20));
    expect(stream.cap).toBe(6);
    // The loop never has more scheduled attempts open than the cap (a hung attempt is cut at its
    // timeout); confirming ones come on top, never in the schedule's way.
    const scheduled = stream.completed().filter((a) => !a.confirming);
    for (const a of scheduled) expect(scheduled.filter((b) => b.startMono <= a.startMono && b.endMono > a.startMono).length).toBeLessThanOrEqual(stream.cap);
    expect(maxSeen).toBeGreaterThan(1); // they did overlap
    // Every attempt reached onAttempt (probes.csv), numbered in start order.
    expect(attempts.length).toBe(stream.completed().length);
    expect(stream.completed().map((a) => a.attempt)).toEqual(stream.completed().map((_, i) => i + 1));
  });

  it('waits for a free slot when every slot hangs', async () => {
    const clock = new RunClock();
    let started = 0;
    const stream = new ProbeStream({
      name: 'p',
      probe: () => {
        started++;
        return new Promise<void>(() => undefined);
      },
      clock,
      intervalMs: 10,
      timeoutMs: 200,
      signal: new AbortController().signal,
      onAttempt: () => undefined,
    }).start();
    await new Promise((r) => setTimeout(r, 150));
    // 150 ms at 10 ms would be 15 attempts; the cap is ⌈200/10⌉ + 1 = 21, so all started…
    expect(started).toBeGreaterThanOrEqual(12);
    await new Promise((r) => setTimeout(r, 200));
    // …but by 350 ms at most 21 can be in flight at once: the ones that timed out made room.
    await stream.stop();
    const done = stream.completed();
    expect(done.every((a) => a.timedOut)).toBe(true);
    for (const a of done) {
      const overlapping = done.filter((b) => b.startMono <= a.startMono && b.endMono > a.startMono).length;
      expect(overlapping).toBeLessThanOrEqual(stream.cap);
    }
  });
});

describe('HeartbeatWriter across the crash', () => {
  it('goes on after T0 until a write hangs past the timeout, and still logs a late acknowledgement', async () => {
    const clock = new RunClock();
    let hangFrom = Infinity;
    const releases: (() => void)[] = [];
    const writer = new HeartbeatWriter(
      {
        write: () => (clock.elapsed() >= hangFrom ? new Promise<void>((resolve) => releases.push(resolve)) : Promise.resolve()),
      },
      clock,
      10,
    );
    writer.start(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 60));
    const t0 = clock.elapsed();
    writer.untilUnacknowledged(t0, 50);
    await new Promise((r) => setTimeout(r, 40)); // still acknowledged after T0
    hangFrom = clock.elapsed();
    await new Promise((r) => setTimeout(r, 120));
    expect(writer.endedBy?.reason).toMatch(/not acknowledged within 50 ms/);
    const afterT0 = writer.acked.filter((h) => h.ackMono > t0).length;
    expect(afterT0).toBeGreaterThanOrEqual(2);
    expect(releases).toHaveLength(1); // it stopped writing: one hung write, no pile-up
    const before = writer.acked.length;
    releases[0]!();
    await writer.stop(100);
    expect(writer.acked.length).toBe(before + 1); // the late acknowledgement counts
  });

  it('stops at the first failure after T0, but not at one before it', async () => {
    const clock = new RunClock();
    let n = 0;
    let t0 = Infinity;
    const writer = new HeartbeatWriter(
      {
        write: async () => {
          n++;
          if (n === 2 || clock.elapsed() > t0 + 30) throw new Error('connection reset');
        },
      },
      clock,
      10,
    );
    writer.start(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 60));
    t0 = clock.elapsed();
    writer.untilUnacknowledged(t0, 1_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(writer.failures).toBe(2); // the one before T0, and the one that ended it
    expect(writer.endedBy?.reason).toMatch(/failed: connection reset/);
    await writer.stop();
  });
});
