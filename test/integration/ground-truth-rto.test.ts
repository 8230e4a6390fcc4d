/**
 * Ground truth for RTO: the drill freezes every process of a real PostgreSQL server for a
 * known D (SIGSTOP … SIGCONT) and the measured RTO must lie within its own reported error
 * bound of the outage that really happened, on every trial — both the pause as the fault
 * timed it and the resumption an independent writer beside the drill saw in its own log.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseTrial } from '../helpers/ground-truth.js';
import { meetsTruth } from '../helpers/truth.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';

const OUTAGES_MS = [400, 650, 900, 1150, 1400, 1700, 2000, 2300, 2700, 3100];

describe('measured RTO against outages of known length', () => {
  let cluster: TestCluster;
  let work: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    work = sharedTempDir('drillbook-rto-');
  });
  afterAll(async () => {
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it(`stays within its error bound over ${OUTAGES_MS.length} trials`, async () => {
    const trials: { outageMs: number; measured: number; bound: number; writer: { fromMs: number; toMs: number; lost: number } }[] = [];
    for (const declaredMs of OUTAGES_MS) {
      const { outageMs, record, writer } = await pauseTrial(cluster, work, declaredMs);
      expect(record.outcome).toBe('passed');
      expect(Math.abs(outageMs - declaredMs)).toBeLessThan(100);
      const rto = record.measured.rto!;
      trials.push({ outageMs, measured: rto.seconds * 1000, bound: rto.errorSeconds * 1000, writer });
      // The same server answered the recovery, so its release by the fault (SIGCONT) is the
      // lower end of the bound: the held attempts all return at once after a freeze, and the
      // probes alone prove the outage only up to the last one that timed out.
      expect(rto.truthAfter?.evidence, JSON.stringify(rto.truthAfter)).toMatch(/released the frozen server \(SIGCONT/);
      const resumed = record.timeline.find((e) => e.event.startsWith('fault ended'))!;
      expect(Date.parse(rto.truthAfter!.at)).toBeLessThanOrEqual(Date.parse(resumed.at));
      expect(writer.lost, 'a pause loses none of the writer\'s acknowledged writes').toBe(0);
      // A pause loses nothing: every acknowledged heartbeat must be found again.
      expect(record.measured.rpo!.lostWrites).toBe(0);
      // The fault was seen to take effect (the pause itself reports the stopped processes).
      expect(record.disruption?.observed).toBe(true);
      // The probes watched through the fault: an outage longer than timeout + interval makes
      // an attempt fail, and the observed outage begins around T0 (a shorter pause shows only
      // slow answers: no attempt fails).
      if (outageMs > 500 + 250 + 50) {
        const seen = rto.observedOutage!;
        expect(seen, JSON.stringify(rto)).toBeTruthy();
        expect(Date.parse(seen.firstFailure)).toBeGreaterThanOrEqual(Date.parse(record.t0!.at) - 500 - 30);
        expect(Date.parse(seen.lastSuccessBefore!)).toBeLessThanOrEqual(Date.parse(record.t0!.at) + 50);
        expect(Date.parse(seen.lastSuccessBefore!)).toBeGreaterThanOrEqual(Date.parse(record.t0!.at) - 250 - 100);
      }
    }
    console.log(`RTO ground truth (interval 250 ms, timeout 500 ms):\n${trials.map((t) => `  truth ${t.outageMs.toFixed(0)} ms (writer ${t.writer.fromMs.toFixed(0)}–${t.writer.toMs.toFixed(0)} ms), measured ${t.measured.toFixed(0)} ms, error ${(t.measured - t.outageMs).toFixed(0)} ms, bound ${t.bound.toFixed(0)} ms`).join('\n')}`);
    for (const t of trials) {
      // Both figures are rounded to the millisecond in the record: 1 ms of rounding.
      expect(Math.abs(t.measured - t.outageMs), JSON.stringify(t)).toBeLessThanOrEqual(t.bound + 1);
      // The writer's own log: its last write sent while frozen, its first stable write's ack.
      expect(t.writer.toMs - t.writer.fromMs, `the writer brackets the SIGCONT tightly: ${JSON.stringify(t)}`).toBeLessThan(300);
      expect(meetsTruth(t.measured, t.bound, t.writer), `within the bound of the writer's truth: ${JSON.stringify(t)}`).toBe(true);
      // Overlapping probes: a frozen server makes attempts hang, yet one starts every
      // interval, so the bound is at most the interval plus the recovering attempt's latency
      // (≤ the timeout) — no longer up to two timeouts — and here the release makes it tighter.
      expect(t.bound, JSON.stringify(t)).toBeLessThanOrEqual(250 + 500 + 30);
    }
    // Most recoveries are seen by an attempt that was queued during the pause and answered
    // at once after SIGCONT: the error is far inside the bound.
    const errors = trials.map((t) => Math.abs(t.measured - t.outageMs)).sort((a, b) => a - b);
    expect(errors[Math.floor(errors.length / 2)]!).toBeLessThan(100);
  });
});
