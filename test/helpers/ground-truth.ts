/**
 * One ground-truth RTO trial: a drill that freezes a real server for `declaredMs` (SIGSTOP …
 * SIGCONT) and the outage that really happened, as the drill recorded it. Shared by the
 * ground-truth test and `npm run bench`.
 */
import path from 'node:path';
import type { RunRecord } from '../../reports/run-record.js';
import { runDrill } from '../../runners/engine.js';
import { loadForRun, writeScenario } from './drill-files.js';
import type { TestCluster } from './pg-cluster.js';

export interface PauseTrial {
  declaredMs: number;
  /** From the SIGSTOP (T0) to the SIGCONT, as recorded in the timeline. */
  outageMs: number;
  record: RunRecord;
}

export async function pauseTrial(cluster: TestCluster, work: string, declaredMs: number, name = `pause-${declaredMs}`): Promise<PauseTrial> {
  const file = writeScenario(path.join(work, name), name, {
    type: 'failover',
    target: {
      driver: 'postgres',
      primary: { host: '127.0.0.1', port: cluster.primary.port, password: { env: cluster.passwordEnv }, dataDir: cluster.primary.dataDir },
    },
    faults: [{ type: 'pause-primary', duration: `${declaredMs}ms` }],
    recovery: { action: 'none' },
    probes: { interval: '250ms', timeout: '500ms', stableFor: 2, maxWait: '30s', heartbeat: { interval: '100ms', warmup: '300ms' } },
  });
  const { record } = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
  const resumed = record.timeline.find((e) => e.event.startsWith('fault ended'));
  return { declaredMs, outageMs: Number(resumed?.detail?.pausedMs), record };
}
