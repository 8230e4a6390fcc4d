import { describe, expect, it } from 'vitest';
import type { ProbeAttempt } from '../../../reports/run-record.js';
import { disruptionObserved, findRecovery, identityChanges, measureRpo, measureRto, observedOutage, outageEvidenceAt, verdictOf } from '../../../runners/measure.js';
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

describe('findRecovery: a recovery must hold on one server', () => {
  const A = { systemIdentifier: '7001', timeline: 1, inRecovery: false, server: '127.0.0.1:5432' };
  const A2 = { systemIdentifier: '7001', timeline: 2, inRecovery: false, server: '127.0.0.1:5433' };
  const B = { systemIdentifier: '8002', timeline: 1, inRecovery: false, server: '127.0.0.1:5434' };
  const at = (start: number, ok: boolean, server?: typeof A, timedOut = false): ProbeAttempt => ({ ...attempt(start, start + (timedOut ? 500 : 5), ok, timedOut), ...(server ? { server } : {}) });
  // Probes every 100 ms from T0 = 0.
  it('finds the first success of a stable run, bounded by the last failure before it', () => {
    const attempts = [at(0, false), at(100, false), at(200, true, A2), at(300, true, A2), at(400, true, A2)];
    const r = findRecovery(attempts, { fromMono: 0, stableFor: 2 })!;
    expect(r.recovered).toBe(attempts[2]);
    expect(r.lowerBoundMono).toBe(105);
    expect(r.reopened).toEqual([]);
  });

  it('re-opens a recovery when the old primary, restarted in place, is demoted and a new timeline takes over', () => {
    // Old primary A comes back and takes writes (a false recovery), is demoted (writes fail),
    // then the promoted standby (timeline 2) answers.
    const attempts = [at(0, false), at(100, true, A), at(200, true, A), at(300, true, A), at(400, false), at(500, false), at(600, true, A2), at(700, true, A2), at(800, true, A2)];
    expect(findRecovery(attempts.slice(0, 4), { fromMono: 0, stableFor: 2 })!.recovered).toBe(attempts[1]); // looked recovered
    const r = findRecovery(attempts, { fromMono: 0, stableFor: 2 })!;
    expect(r.recovered).toBe(attempts[6]);
    expect(r.reopened).toHaveLength(1);
    expect(r.reopened[0]!.reason).toMatch(/failed after recovery/);
    expect(r.lowerBoundMono).toBe(505);
    const rto = measureRto({ t0Mono: 0, recovered: r.recovered, lastFailureBefore: r.lastFailureBefore, lowerBoundMono: r.lowerBoundMono, intervalMs: 100, stableFor: 2, method: 'm', wallOf, phases: [], reopened: r.reopened });
    expect(rto.seconds).toBe(0.605);
    expect(rto.reopened).toHaveLength(1);
  });

  it('lets a confirming attempt break a candidate, never confirm one, and names what bounds the truth', () => {
    const confirming = (a: ProbeAttempt): ProbeAttempt => ({ ...a, confirming: true });
    // A lone success at 200 with its confirming attempts: one lands on the dead server and hangs.
    const attempts = [at(0, false), at(100, false), at(200, true, A2), confirming(at(206, true, A2)), confirming({ ...at(207, false, undefined, true), attempt: 5 }), at(300, true, A2), at(400, true, A2), at(500, true, A2)];
    const r = findRecovery(attempts, { fromMono: 0, stableFor: 2 })!;
    expect(r.recovered).toBe(attempts[5]);
    expect(r.lowerBoundMono).toBe(207); // the timed-out confirming attempt, from its start
    expect(r.lowerBoundEvidence).toMatch(/attempt 5 timed out \(from its start\)/);
    // Confirming successes alone do not make a run: 200 + two confirming is not stableFor 2.
    expect(findRecovery([at(0, false), at(200, true, A2), confirming(at(206, true, A2)), confirming(at(207, true, A2))], { fromMono: 0, stableFor: 2 })).toBeUndefined();
    const rto = measureRto({ t0Mono: 0, recovered: r.recovered, lastFailureBefore: r.lastFailureBefore, lowerBoundMono: r.lowerBoundMono, lowerBoundEvidence: r.lowerBoundEvidence, intervalMs: 100, stableFor: 2, method: 'm', wallOf, phases: [] });
    expect(rto.errorSeconds).toBe(0.098);
    expect(rto.truthAfter).toEqual({ at: wallOf(207), evidence: r.lowerBoundEvidence });
  });

  it('re-opens when another server answers without any failure in between (a switchover behind a proxy)', () => {
    const attempts = [at(0, true, A), at(100, true, A), at(200, true, A), at(300, true, B), at(400, true, B), at(500, true, B)];
    const r = findRecovery(attempts, { fromMono: 0, stableFor: 2 })!;
    expect(r.recovered).toBe(attempts[3]);
    expect(r.reopened[0]!.reason).toMatch(/another server answered: system 7001, timeline 1.*→ system 8002/);
    // The other server's successes before it are evidence the recovered one was not yet
    // serving, from their start (when their connection was routed).
    expect(r.lowerBoundMono).toBe(200);
  });

  it('breaks a streak on a change of server before it is confirmed, and needs a duration when given', () => {
    const attempts = [at(0, false), at(100, true, A), at(200, true, B), at(300, true, B), at(400, true, B), at(500, true, B)];
    expect(findRecovery(attempts, { fromMono: 0, stableFor: 2 })!.recovered).toBe(attempts[2]);
    expect(findRecovery(attempts, { fromMono: 0, stableFor: 2, stableForMs: 300 })!.recovered).toBe(attempts[2]);
    expect(findRecovery(attempts, { fromMono: 0, stableFor: 2, stableForMs: 301 })).toBeUndefined();
  });

  it('does not count successes that began before T0, and a demoted server is not recovered', () => {
    const demoted = { ...A, inRecovery: true };
    const attempts = [at(-100, true, A), at(0, true, demoted), at(100, true, demoted), at(200, true, demoted)];
    expect(findRecovery(attempts, { fromMono: 0, stableFor: 1 })).toBeUndefined();
  });

  it('lists every change of server seen', () => {
    const changes = identityChanges([at(0, true, A), at(100, false), at(200, true, A2), at(300, true, B)], wallOf);
    expect(changes.map((c) => [c.from.timeline, c.to.systemIdentifier])).toEqual([
      [1, '7001'],
      [2, '8002'],
    ]);
  });
});

describe('observedOutage and disruptionObserved', () => {
  it('gives the last success before the first failure after T0 and the outage until recovery', () => {
    const attempts = [attempt(-300, -295, true), attempt(-100, -95, true), attempt(0, 500, false, true), attempt(100, 600, false, true), attempt(600, 610, true)];
    const seen = observedOutage(attempts, 0, 610, wallOf)!;
    expect(seen).toEqual({ lastSuccessBefore: wallOf(-95), firstFailure: wallOf(0), seconds: 0.705 });
    expect(disruptionObserved(attempts, 0, []).observed).toBe(true);
  });

  it('sees no outage when nothing failed after T0, unless the fault reported an effect', () => {
    const attempts = [attempt(-100, -95, true), attempt(0, 5, true), attempt(100, 105, true)];
    expect(observedOutage(attempts, 0, 5, wallOf)).toBeNull();
    expect(disruptionObserved(attempts, 0, [])).toEqual({ observed: false, evidence: expect.stringMatching(/no attempt .* failed after T0/) });
    expect(disruptionObserved(attempts, 0, ['processes seen stopped']).observed).toBe(true);
    // A failure before T0 is not the fault's doing.
    expect(disruptionObserved([attempt(-400, -300, false), ...attempts], 0, []).observed).toBe(false);
  });
});

describe('measureRpo across the crash', () => {
  // Heartbeats every 100 ms; T0 at 1000; the old primary acknowledged up to seq 14 (sent 1300).
  const acked: AckedHeartbeat[] = Array.from({ length: 14 }, (_, i) => ({ seq: i + 1, clientTime: wallOf(i * 100), sentMono: i * 100, ackMono: i * 100 + 4 }));

  it('cuts at the last heartbeat the old primary acknowledged and counts those after T0', () => {
    const present = new Set(Array.from({ length: 8 }, (_, i) => i + 1)); // replication cut after seq 8 (sent 700)
    const rpo = measureRpo({ t0Mono: 1000, acked, present, intervalMs: 100, method: 'm', cut: 'last-ack', wallOf });
    expect(rpo.cutAt).toBe(wallOf(1300));
    expect(rpo.seconds).toBe(0.6); // 1300 − 700, not T0 − 700
    expect(rpo.lostWrites).toBe(6);
    expect(rpo.acknowledgedAfterT0).toBe(4); // seqs 11..14 acknowledged at 1004..1304
    expect(rpo.acknowledged).toBe(14);
  });

  it('is zero when everything the old primary acknowledged survived', () => {
    const rpo = measureRpo({ t0Mono: 1000, acked, present: new Set(acked.map((h) => h.seq)), intervalMs: 100, method: 'm', cut: 'last-ack', wallOf });
    expect(rpo.seconds).toBe(0);
    expect(rpo.lostWrites).toBe(0);
  });

  it('keeps T0 as the cut for a parallel restore and ignores heartbeats acknowledged after it', () => {
    const rpo = measureRpo({ t0Mono: 1000, acked, present: new Set([1, 2, 3, 4, 5]), intervalMs: 100, method: 'm', cut: 't0', wallOf });
    expect(rpo.cutAt).toBe(wallOf(1000));
    expect(rpo.acknowledged).toBe(10); // acks up to 904 ≤ T0
    expect(rpo.lostWrites).toBe(5);
    expect(rpo.acknowledgedAfterT0).toBe(0);
    expect(rpo.seconds).toBe(0.6); // 1000 − 400
  });
});
