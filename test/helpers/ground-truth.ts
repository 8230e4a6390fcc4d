/**
 * One ground-truth RTO trial: a drill that freezes a real server for `declaredMs` (SIGSTOP …
 * SIGCONT), graded two ways that do not depend on drillbook's measurement:
 * - the pause itself, from the SIGSTOP (T0) to the SIGCONT as the fault recorded them;
 * - an independent writer beside the drill (its own connections, one write every 50 ms) whose
 *   own log says when writes were served promptly again.
 * Shared by the ground-truth test and `npm run bench`.
 */
import path from 'node:path';
import type { RunRecord } from '../../reports/run-record.js';
import { runDrill } from '../../runners/engine.js';
import { loadForRun, writeScenario } from './drill-files.js';
import type { TestCluster } from './pg-cluster.js';
import { IndependentWriter } from './real/independent-writer.js';

export interface PauseTrial {
  declaredMs: number;
  /** From the SIGSTOP (T0) to the SIGCONT, as recorded in the timeline. */
  outageMs: number;
  /**
   * The writer's truth, from T0: the resumption lies after the last write the freeze held (held
   * past 100 ms and released with the others) was sent, and before the first of them was
   * acknowledged.
   */
  writer: { fromMs: number; toMs: number; lost: number };
  record: RunRecord;
}

/** A write on an established local session takes a few ms; one held past this was held by the freeze. */
const WRITER_PROMPT_MS = 100;

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
  const { host, port, user, password, database } = cluster.primary;
  // Writes are never abandoned during a pause (timeout above the longest one), the writer
  // never stops sending (in flight: timeout / interval), and held writes wait on sessions
  // opened beforehand (a resume is not a storm of new connections), so its log brackets the
  // SIGCONT.
  const writer = await IndependentWriter.create({ connection: { host, port, user, password, database }, intervalMs: 50, writeTimeoutMs: 5_000, maxInFlight: 110, maxIdle: 110 });
  await writer.openPool(80);
  writer.start();
  let record: RunRecord;
  try {
    await writer.waitForAcks(10);
    ({ record } = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work }));
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await writer.stop();
  }
  const resumed = record.timeline.find((e) => e.event.startsWith('fault ended'));
  const t0Ms = record.t0 ? Date.parse(record.t0.at) : Number.NaN;
  const truth = writer.release(t0Ms, WRITER_PROMPT_MS);
  const { missing } = await writer.missingAcknowledged({ host, port, user, password, database });
  await writer.dropSchema({ host, port, user, password, database });
  return {
    declaredMs,
    outageMs: Number(resumed?.detail?.pausedMs),
    writer: { fromMs: (truth?.fromMs ?? Number.NaN) - t0Ms, toMs: (truth?.toMs ?? Number.NaN) - t0Ms, lost: missing.length },
    record,
  };
}
