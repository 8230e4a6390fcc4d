/**
 * Ground truth for RTO: the drill freezes every process of a real PostgreSQL server for a
 * known D (SIGSTOP … SIGCONT) and the measured RTO must lie within its own reported error
 * bound of the outage that really happened, on every trial.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../runners/engine.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';
import { loadForRun, writeScenario } from '../helpers/drill-files.js';

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
    if (!process.env.KEEP) fs.rmSync(work, { recursive: true, force: true });
  });

  it(`stays within its error bound over ${OUTAGES_MS.length} trials`, async () => {
    const trials: { outageMs: number; measured: number; bound: number }[] = [];
    for (const declaredMs of OUTAGES_MS) {
      const file = writeScenario(path.join(work, `d${declaredMs}`), `pause-${declaredMs}`, {
        type: 'failover',
        target: {
          driver: 'postgres',
          primary: { host: '127.0.0.1', port: cluster.primary.port, password: { env: cluster.passwordEnv }, dataDir: cluster.primary.dataDir },
        },
        faults: [{ type: 'pause-primary', duration: `${declaredMs}ms` }],
        recovery: { action: 'none' },
        probes: { interval: '250ms', timeout: '500ms', stableFor: 2, maxWait: '30s', heartbeat: { interval: '100ms', warmup: '300ms' } },
      });
      const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
      expect(result.record.outcome).toBe('passed');
      // The outage that really happened: from the SIGSTOP (T0) to the SIGCONT, as recorded.
      const resumed = result.record.timeline.find((e) => e.event.startsWith('fault ended'));
      const outageMs = Number(resumed?.detail?.pausedMs);
      expect(Math.abs(outageMs - declaredMs)).toBeLessThan(100);
      const rto = result.record.measured.rto!;
      trials.push({ outageMs, measured: rto.seconds * 1000, bound: rto.errorSeconds * 1000 });
      // A pause loses nothing: every acknowledged heartbeat must be found again.
      expect(result.record.measured.rpo!.lostWrites).toBe(0);
    }
    for (const t of trials) {
      expect(Math.abs(t.measured - t.outageMs), JSON.stringify(t)).toBeLessThanOrEqual(t.bound);
      // A frozen server makes attempts hang, so the bound is at most timeout + interval + latency.
      expect(t.bound, JSON.stringify(t)).toBeLessThan(500 + 250 + 250);
    }
  });
});
