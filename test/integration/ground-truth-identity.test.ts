/**
 * Ground truth for "a recovery must hold on one server": the drill's endpoint is a TCP proxy
 * the test holds, in front of server A. At a known instant after T0 the test points the proxy
 * at server B (another cluster: another system identifier), without a single refused or
 * failed connection, as a switchover behind a proxy looks to a client. Server A answered
 * stably before that, so the drill first sees a "recovery" on A; the change of server must
 * re-open it, the RTO must come from B, within its bound of the switch instant, and the
 * evidence must name the change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../runners/drivers/postgres/server.js';
import { runDrill } from '../../runners/engine.js';
import { loadForRun, writeScenario } from '../helpers/drill-files.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';
import { type TcpProxy, startTcpProxy } from '../helpers/tcp-proxy.js';

async function systemIdentifier(server: TestCluster['primary']): Promise<string> {
  const client = await connect(server, 5_000);
  try {
    return (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
  } finally {
    await client.end();
  }
}

describe('a recovery that moves to another server', () => {
  let a: TestCluster;
  let b: TestCluster;
  let proxy: TcpProxy | undefined;
  let work: string;

  beforeAll(async () => {
    a = await startTestCluster();
    b = await startTestCluster();
    proxy = await startTcpProxy(a.primary.port);
    work = sharedTempDir('drillbook-identity-');
    // One password for both, and B already holds the drill's tables (as a promoted replica would).
    const admin = await connect(b.primary, 5_000);
    try {
      await admin.query(`ALTER USER postgres PASSWORD '${a.password}'`);
      await admin.query('CREATE SCHEMA drillbook; CREATE TABLE drillbook.probe (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now()); CREATE TABLE drillbook.heartbeat (run_id text NOT NULL, seq integer NOT NULL, client_time timestamptz NOT NULL, PRIMARY KEY (run_id, seq))');
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await proxy?.close();
    await a?.destroy();
    await b?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('re-opens the recovery on a change of server and measures it from the switch', async () => {
    const file = writeScenario(work, 'moving-leader', {
      type: 'failover',
      target: { driver: 'postgres', primary: { host: '127.0.0.1', port: proxy!.port, password: { env: a.passwordEnv } } },
      faults: [{ type: 'command', command: 'true' }],
      recovery: { action: 'none' },
      // The data checks take 1.5 s: the recovery on A must hold through them, and does not.
      checks: [{ type: 'sql', name: 'slow check', query: 'SELECT 1 FROM pg_sleep(1.5)', expect: 1 }],
      probes: { interval: '100ms', timeout: '500ms', stableFor: 2, maxWait: '20s', heartbeat: { interval: '100ms', warmup: '300ms' } },
    });
    const SWITCH_AFTER_MS = 700;
    let switchedAtRunMono: number | undefined;
    let runOriginOffset = 0;
    const { record } = await runDrill(await loadForRun(file), {
      evidenceDir: path.join(work, 'evidence'),
      scratchRoot: work,
      listener: {
        event(event) {
          if (event.event === 'drill started') runOriginOffset = performance.now() - event.mono;
          if (event.event.startsWith('T0:'))
            setTimeout(() => {
              proxy!.retarget(b.primary.port);
              switchedAtRunMono = performance.now() - runOriginOffset;
            }, SWITCH_AFTER_MS);
        },
      },
    });
    const rto = record.measured.rto!;
    expect(rto, record.error ?? '').toBeTruthy();
    const [idA, idB] = [await systemIdentifier(a.primary), await systemIdentifier({ ...b.primary, password: a.password })];
    expect(idA).not.toBe(idB);

    // The change is in the evidence, from A to B.
    const change = rto.identityChanges?.find((c) => c.from.systemIdentifier === idA && c.to.systemIdentifier === idB);
    expect(change, JSON.stringify(rto.identityChanges)).toBeTruthy();
    // A had held for stableFor before the switch: that recovery was re-opened.
    expect(rto.reopened?.length ?? 0, JSON.stringify(rto)).toBeGreaterThanOrEqual(1);
    // No attempt failed, yet the fault's effect was seen (another server answered).
    expect(record.disruption?.observed).toBe(true);
    // Measured from T0 to B's first stable success: within its bound of the true switch.
    const truthMs = switchedAtRunMono! - record.t0!.mono;
    const measuredMs = rto.seconds * 1000;
    console.log(`identity ground truth: switch ${truthMs.toFixed(0)} ms after T0, measured ${measuredMs.toFixed(0)} ms, error ${(measuredMs - truthMs).toFixed(0)} ms, bound ${(rto.errorSeconds * 1000).toFixed(0)} ms`);
    expect(Math.abs(measuredMs - truthMs)).toBeLessThanOrEqual(rto.errorSeconds * 1000);
    expect(rto.errorSeconds * 1000).toBeLessThanOrEqual(100 + 500 + 30);
  });
});
