import { describe, expect, it } from 'vitest';
import type { ProbeAttempt } from '../../../reports/run-record.js';
import { measureRpo, measureRto, outageEvidenceAt, verdictOf } from '../../../runners/measure.js';
import type { AckedHeartbeat } from '../../../runners/probes/heartbeat.js';

const attempt = (startMono: number, endMono: number, ok: boolean, timedOut = false): ProbeAttempt => ({
  probe: 'recovery:standby',
  startedAt: new Date(startMono).toISOString(),
  startMono,
  endMono,
  ok,
  latencyMs: endMono - startMono,
  ...(timedOut ? { timedOut } : {}),
});
const wallOf = (mono: number) => new Date(1_800_000_000_000 + mono).toISOString();

describe('measureRto', () => {
  it('measures from T0 to the end of the first stable success, bounded by the last refusal', () => {
    const rto = measureRto({
      t0Mono: 1000,
      recovered: attempt(4250, 4262, true),
      lastFailureBefore: attempt(4000, 4003, false),
      intervalMs: 250,
      stableFor: 2,
      method: 'm',
      wallOf,
      phases: [{ name: 'T0', mono: 1000 }],
    });
    expect(rto.seconds).toBe(3.262);
    expect(rto.errorSeconds).toBe(0.259); // 4262 − 4003: one interval plus the probe's latency
    expect(rto.recoveredAt).toBe(wallOf(4262));
    expect(rto.phases[0]!.secondsAfterT0).toBe(0);
  });

  it('widens the bound to the start of a timed-out attempt, which proves less', () => {
    const timedOut = attempt(3500, 4000, false, true);
    expect(outageEvidenceAt(timedOut)).toBe(3500);
    const rto = measureRto({ t0Mono: 1000, recovered: attempt(4000, 4300, true), lastFailureBefore: timedOut, intervalMs: 250, stableFor: 2, method: 'm', wallOf, phases: [] });
    expect(rto.errorSeconds).toBe(0.8);
  });

  it('counts a restore as recovered only once its data checks passed', () => {
    const rto = measureRto({ t0Mono: 0, recovered: attempt(2000, 2010, true), lastFailureBefore: undefined, completedMono: 2500, intervalMs: 250, stableFor: 0, method: 'm', wallOf, phases: [] });
    expect(rto.seconds).toBe(2.5);
    expect(rto.errorSeconds).toBe(2.01); // nothing failed after T0: recovery could have come any time before
  });
});

describe('measureRpo', () => {
  const acked: AckedHeartbeat[] = Array.from({ length: 20 }, (_, i) => ({ seq: i + 1, clientTime: wallOf(i * 100), sentMono: i * 100, ackMono: i * 100 + 4 }));

  it('reports the loss window from the newest surviving heartbeat and counts the lost ones', () => {
    const present = new Set(Array.from({ length: 12 }, (_, i) => i + 1)); // seqs 1..12 survived
    const rpo = measureRpo({ t0Mono: 2000, acked, present, intervalMs: 100, method: 'm' });
    expect(rpo.lostWrites).toBe(8);
    expect(rpo.missingSeqs).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(rpo.newestPresentSeq).toBe(12);
    expect(rpo.seconds).toBe(0.9); // T0 (2000) − sent time of seq 12 (1100)
    expect(rpo.errorSeconds).toBe(0.104); // from seq 12 sent to seq 13 acknowledged
  });

  it('loses nothing when every acknowledged heartbeat is present', () => {
    const rpo = measureRpo({ t0Mono: 1950, acked, present: new Set(acked.map((h) => h.seq)), intervalMs: 100, method: 'm' });
    expect(rpo.lostWrites).toBe(0);
    expect(rpo.seconds).toBe(0.05);
    expect(rpo.errorSeconds).toBe(0.1);
  });

  it('ignores rows that were never acknowledged and handles total loss', () => {
    const rpo = measureRpo({ t0Mono: 2000, acked, present: new Set([999]), intervalMs: 100, method: 'm' });
    expect(rpo.lostWrites).toBe(20);
    expect(rpo.newestPresentSeq).toBeNull();
    expect(rpo.lowerBoundOnly).toBe(true); // the window began before the first heartbeat
    expect(rpo.seconds).toBe(2);
  });
});

describe('verdictOf', () => {
  it('meets, misses and gives the margin', () => {
    expect(verdictOf(12, 30)).toEqual({ verdict: 'met', margin: 18 });
    expect(verdictOf(30, 30)).toEqual({ verdict: 'met', margin: 0 });
    expect(verdictOf(31.5, 30)).toEqual({ verdict: 'missed', margin: -1.5 });
    expect(verdictOf(undefined, 30)).toEqual({ verdict: 'missed', margin: null });
  });
});
