/**
 * Ground truth for RPO: the test cuts replication between a real primary and its standby
 * (a TCP proxy it holds) partway through the heartbeat warm-up, so every write the primary
 * acknowledges after the cut cannot reach the standby. After the failover the test restarts
 * the killed primary from its data directory and counts, in the databases themselves, the
 * heartbeat rows the promoted standby lacks: measured lostWrites must equal that count, and
 * the measured RPO must lie within its bound of the known window (T0 − cut).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../runners/drivers/postgres/server.js';
import { runDrill } from '../../runners/engine.js';
import { defaultUndoRegistry } from '../../runners/undo-handlers.js';
import { loadForRun, writeScenario } from '../helpers/drill-files.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';
import { type TcpProxy, startTcpProxy } from '../helpers/tcp-proxy.js';

async function heartbeatRows(server: { host: string; port: number; user: string; database: string; password: string }, runId: string): Promise<Map<number, number>> {
  const client = await connect(server, 5_000);
  try {
    const { rows } = await client.query<{ seq: number; ms: string }>('SELECT seq, (extract(epoch FROM client_time) * 1000)::bigint::text AS ms FROM drillbook.heartbeat WHERE run_id = $1', [runId]);
    return new Map(rows.map((r) => [r.seq, Number(r.ms)]));
  } finally {
    await client.end();
  }
}

describe('measured RPO against a data-loss window of known size', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy | undefined;
  let work: string;

  beforeAll(async () => {
    cluster = await startTestCluster({
      withStandby: true,
      standbyPrimaryPort: async (primaryPort) => {
        proxy = await startTcpProxy(primaryPort);
        return proxy.port;
      },
    });
    work = sharedTempDir('drillbook-rpo-');
  });
  afterAll(async () => {
    await proxy?.close();
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('counts exactly the acknowledged writes the standby never received', async () => {
    const file = writeScenario(work, 'partitioned-failover', {
      type: 'failover',
      target: {
        driver: 'postgres',
        primary: { port: cluster.primary.port, password: { env: cluster.passwordEnv }, dataDir: cluster.primary.dataDir },
        standby: { port: cluster.standby!.port, password: { env: cluster.passwordEnv } },
      },
      // The kill lands 0.6 s after T0 (a fault command that takes its time, as over ssh): the
      // heartbeats the doomed primary acknowledges in between are lost too and must be counted.
      faults: [{ type: 'command', command: 'sleep 0.6' }, { type: 'kill-primary' }],
      recovery: { action: 'promote' },
      probes: { interval: '100ms', timeout: '1s', stableFor: 2, maxWait: '60s', heartbeat: { interval: '100ms', warmup: '2s' } },
    });

    // The test needs the rows the drill would delete at teardown: keep them.
    const registry = defaultUndoRegistry().register('postgres.delete-run-rows', async () => undefined);
    let cutAtRunMono: number | undefined;
    let runOriginOffset = 0;
    const result = await runDrill(await loadForRun(file), {
      evidenceDir: path.join(work, 'evidence'),
      scratchRoot: work,
      registry,
      listener: {
        event(event) {
          if (event.event === 'drill started') runOriginOffset = performance.now() - event.mono;
          if (event.event === 'phase: steady-state') {
            // Heartbeats start once steady state is confirmed; cut ~1.2 s into the warm-up.
            setTimeout(() => {
              proxy!.cut();
              cutAtRunMono = performance.now() - runOriginOffset;
            }, 1_700);
          }
        },
      },
    });

    expect(cutAtRunMono, 'the replication cut happened before T0').toBeLessThan(result.record.t0!.mono);
    const rpo = result.record.measured.rpo!;
    expect(result.record.measured.rto).not.toBeNull();

    // Ground truth from the databases themselves.
    const oldPrimary = await cluster.start(cluster.primary.dataDir, cluster.primary.port);
    const onPrimary = await heartbeatRows(oldPrimary, result.record.runId);
    const onStandby = await heartbeatRows(cluster.standby!, result.record.runId);
    const lostInTruth = [...onPrimary.keys()].filter((seq) => !onStandby.has(seq)).length;
    const t0Wall = Date.parse(result.record.t0!.at);
    const afterT0InTruth = [...onPrimary.values()].filter((ms) => ms > t0Wall).length;

    expect(lostInTruth, 'the cut must have lost some writes').toBeGreaterThan(3);
    expect(afterT0InTruth, 'the old primary took heartbeats after T0').toBeGreaterThan(2);
    expect(rpo.acknowledged).toBe(onPrimary.size);
    expect(rpo.lostWrites).toBe(lostInTruth);
    // Heartbeats are sent every 100 ms and acknowledged within a few ms: the ones sent after
    // T0 are the ones acknowledged after it (one in flight at T0 may fall either side).
    expect(Math.abs(rpo.acknowledgedAfterT0! - afterT0InTruth)).toBeLessThanOrEqual(1);
    // The window in truth: from the replication cut (the test's own clock) to the last write
    // the old primary holds, on the run's time line.
    const runOriginWall = t0Wall - result.record.t0!.mono;
    const lastOnPrimaryMono = Math.max(...onPrimary.values()) - runOriginWall;
    const windowSeconds = (lastOnPrimaryMono - cutAtRunMono!) / 1000;
    expect(Date.parse(rpo.cutAt!) - runOriginWall).toBeCloseTo(lastOnPrimaryMono, -1);
    console.log(`RPO ground truth: window ${windowSeconds.toFixed(3)} s, measured ${rpo.seconds} ± ${rpo.errorSeconds} s; lost ${rpo.lostWrites} (truth ${lostInTruth}); acknowledged after T0 ${rpo.acknowledgedAfterT0} (truth ${afterT0InTruth})`);
    expect(Math.abs(rpo.seconds - windowSeconds), JSON.stringify({ rpo, windowSeconds })).toBeLessThanOrEqual(rpo.errorSeconds);
    // The evidence names the leader change: the old primary (timeline 1) to the promoted standby
    // (same system identifier, next timeline).
    const change = result.record.measured.rto!.identityChanges?.find((c) => c.probe.includes('→'));
    expect(change, JSON.stringify(result.record.measured.rto!.identityChanges)).toBeTruthy();
    expect(change!.to.systemIdentifier).toBe(change!.from.systemIdentifier);
    expect(change!.to.timeline).toBe(change!.from.timeline! + 1);
    expect(change!.to.server).toBe(`127.0.0.1:${cluster.standby!.port}`);
    expect(result.record.verdict.rpo).toBe(rpo.seconds <= 5 ? 'met' : 'missed');
  });
});
