/**
 * Ground truth for RTO: the drill freezes every process of a real PostgreSQL server for a
 * known D (SIGSTOP … SIGCONT) and the measured RTO must lie within its own reported error
 * bound of the outage that really happened, on every trial.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseTrial } from '../helpers/ground-truth.js';
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
    const trials: { outageMs: number; measured: number; bound: number }[] = [];
    for (const declaredMs of OUTAGES_MS) {
      const { outageMs, record } = await pauseTrial(cluster, work, declaredMs);
      expect(record.outcome).toBe('passed');
      expect(Math.abs(outageMs - declaredMs)).toBeLessThan(100);
      const rto = record.measured.rto!;
      trials.push({ outageMs, measured: rto.seconds * 1000, bound: rto.errorSeconds * 1000 });
      // A pause loses nothing: every acknowledged heartbeat must be found again.
      expect(record.measured.rpo!.lostWrites).toBe(0);
    }
    for (const t of trials) {
      expect(Math.abs(t.measured - t.outageMs), JSON.stringify(t)).toBeLessThanOrEqual(t.bound);
      // A frozen server makes attempts hang: the last timed-out attempt's start is the best
      // evidence of outage, so the bound stays under two timeouts plus the probe's latency.
      expect(t.bound, JSON.stringify(t)).toBeLessThan(2 * 500 + 500);
    }
  });
});
