/**
 * RDS faults and the paths that must still clean up: rds-stop's start-again undo after
 * success, a failed probe, an abort, and from `recover` after a crash; a restore RDS fails
 * (incompatible-restore); a copy that takes too long (maxDuration → aborted, exit 3); the
 * orphan sweep; cluster failover; and production refused without --confirm before any
 * mutating call. The RDS API is the stateful fake over aws-sdk-client-mock; SQL endpoints
 * are a real PostgreSQL behind gates the test controls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../bin/cli.js';
import { EvidenceBundle, runDirName, verifyBundle } from '../../../reports/evidence.js';
import { AbortReason } from '../../../runners/context.js';
import { createRdsDriver } from '../../../runners/drivers/rds/driver.js';
import type { Driver } from '../../../runners/drivers/types.js';
import { sweepOrphans } from '../../../runners/drivers/rds/sweep.js';
import { registerRdsUndos } from '../../../runners/drivers/rds/undo.js';
import { recordSkeleton, runDrill } from '../../../runners/engine.js';
import { JOURNAL_FILE, Journal } from '../../../runners/journal.js';
import { recoverRuns } from '../../../runners/recover.js';
import { drivers } from '../../../runners/registry.js';
import { defaultUndoRegistry } from '../../../runners/undo-handlers.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../../helpers/pg-cluster.js';
import { FakeRds, type Gate, startGate } from './fake-rds.js';

/** The built-in drivers with the RDS driver on the fake client (RunOptions.drivers). */
let testDrivers: Readonly<Record<string, Driver>> = drivers;
const withDriver = (rds: Driver) => ({ ...drivers, rds });

const SOURCE = 'orders-prod';
const COPY_NETWORK = { subnetGroup: 'drill-isolated', securityGroups: ['sg-0a1b2c3d4e'] };
const FAST_PROBES = { interval: '100ms', timeout: '1s', stableFor: 2, maxWait: '20s', heartbeat: { interval: '100ms', warmup: '300ms' } };

describe('RDS faults, failures and safety (mocked RDS API, real PostgreSQL endpoints)', () => {
  let cluster: TestCluster;
  let work: string;
  let fake: FakeRds | undefined;
  let gates: Gate[] = [];
  let n = 0;

  beforeAll(async () => {
    cluster = await startTestCluster();
    work = sharedTempDir('drillbook-rds-safety-');
  });
  afterAll(async () => {
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });
  afterEach(async () => {
    fake?.restore();
    fake = undefined;
    for (const gate of gates) await gate.stop();
    gates = [];
  });

  function setup() {
    const f = new FakeRds();
    fake = f;
    testDrivers = withDriver(createRdsDriver({ client: f.client, sleep: f.sleep }));
    const dir = path.join(work, `case-${++n}`);
    return { fake: f, dir, evidence: path.join(dir, 'evidence'), registry: registerRdsUndos(defaultUndoRegistry(), { client: f.client, sleep: f.sleep }) };
  }

  async function gate(open = true): Promise<Gate> {
    const g = await startGate(cluster.primary.port, open);
    gates.push(g);
    return g;
  }

  const sqlUser = () => ({ user: 'postgres', database: 'postgres', password: { env: cluster.passwordEnv } });

  /** A failover drill that stops the instance; the service is expected on the standby endpoint. */
  async function stopScenario(dir: string, production: Gate, standbyPort: number, extra: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) {
    return writeScenario(
      dir,
      'rds-stop',
      {
        type: 'failover',
        target: { driver: 'rds', instance: SOURCE, production: { host: '127.0.0.1', port: production.port, ...sqlUser() }, standby: { host: '127.0.0.1', port: standbyPort, ...sqlUser() } },
        faults: [{ type: 'rds-stop' }],
        recovery: { action: 'none' },
        probes: { ...FAST_PROBES, endpoint: 'standby' },
        ...extra,
      },
      metadata,
    );
  }

  describe('rds-stop: the instance is started again on every path', () => {
    it('after success', async () => {
      const { fake, dir, evidence, registry } = setup();
      fake.addInstance(SOURCE);
      const production = await gate();
      fake.onFault = () => production.close();
      fake.onStart = () => production.open();
      const { record } = await runDrill(await loadForRun(await stopScenario(dir, production, cluster.primary.port)), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
      expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
      expect(fake.calls('StopDBInstanceCommand')).toEqual([{ DBInstanceIdentifier: SOURCE }]);
      expect(fake.calls('StartDBInstanceCommand').length).toBeGreaterThanOrEqual(1);
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
      expect(record.teardown.undos.find((u) => u.description.startsWith(`start DB instance ${SOURCE}`))?.status).toBe('done');
    });

    it('after a failed probe (the standby never answers)', async () => {
      const { fake, dir, evidence, registry } = setup();
      fake.addInstance(SOURCE);
      const production = await gate();
      const deadStandby = await gate(false);
      fake.onFault = () => production.close();
      fake.onStart = () => production.open();
      const file = await stopScenario(dir, production, deadStandby.port, { probes: { ...FAST_PROBES, endpoint: 'standby', maxWait: '1s' } });
      const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
      expect(record.outcome).toBe('failed');
      expect(exitCode).toBe(1);
      expect(record.error).toContain('standby did not accept the write probe');
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
      expect(record.teardown.complete).toBe(true);
    });

    it('after an abort (Ctrl+C during recovery)', async () => {
      const { fake, dir, evidence, registry } = setup();
      fake.addInstance(SOURCE);
      const production = await gate();
      const deadStandby = await gate(false);
      const interrupt = new AbortController();
      fake.onStart = () => production.open();
      fake.onFault = () => {
        production.close();
        setTimeout(() => interrupt.abort(new AbortReason('interrupted', 'interrupted by SIGINT')), 600);
      };
      const file = await stopScenario(dir, production, deadStandby.port);
      const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work, signal: interrupt.signal });
      expect(record.outcome).toBe('aborted');
      expect(exitCode).toBe(3);
      expect(fake.calls('StartDBInstanceCommand').length).toBeGreaterThanOrEqual(1);
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
    });

    it('after a guardrail abort (maxDuration while recovery is awaited)', async () => {
      const { fake, dir, evidence, registry } = setup();
      fake.addInstance(SOURCE);
      const production = await gate();
      const deadStandby = await gate(false);
      fake.onStart = () => production.open();
      fake.onFault = () => production.close();
      const file = await stopScenario(dir, production, deadStandby.port, { guardrails: { maxDuration: '2s' } });
      const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
      expect([record.outcome, exitCode]).toEqual(['aborted', 3]);
      expect(record.abort!.reason).toContain('maxDuration');
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
      expect(record.teardown.complete).toBe(true);
    });

    it('after a guardrails.abortIf condition trips (what must stay healthy stops answering)', async () => {
      const { fake, dir, evidence, registry } = setup();
      fake.addInstance(SOURCE);
      const production = await gate();
      const deadStandby = await gate(false);
      const reporting = await gate(); // another service that must stay up during the drill
      fake.onStart = () => production.open();
      fake.onFault = () => {
        production.close();
        reporting.close();
      };
      const file = await stopScenario(dir, production, deadStandby.port, {
        guardrails: { abortIf: [{ name: 'reporting-replica', sql: { host: '127.0.0.1', port: reporting.port, ...sqlUser() }, failures: 2, timeout: '1s' }] },
      });
      const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
      expect([record.outcome, exitCode]).toEqual(['aborted', 3]);
      expect(record.abort!.reason).toMatch(/abort condition reporting-replica tripped after 2 consecutive failures/);
      expect(fake.calls('StartDBInstanceCommand').length).toBeGreaterThanOrEqual(1);
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
      expect(record.teardown.complete).toBe(true);
    });

    it('from recover after a crash, which also sweeps a copy the crashed run left behind', async () => {
      const { fake, dir, evidence } = setup();
      fake.addInstance(SOURCE, { DBInstanceStatus: 'stopped' });
      const loaded = await loadForRun(await stopScenario(dir, await gate(), cluster.primary.port));
      // What a SIGKILLed drill leaves: a journal whose owner is gone, with its undos pending.
      const runId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
      const started = new Date().toISOString();
      const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(started), loaded.scenario.metadata.name, runId));
      const journal = Journal.open(bundle.dir, { runId, scenarioFile: loaded.file, scenarioName: loaded.scenario.metadata.name, skeleton: recordSkeleton(loaded, runId, started, {}) });
      journal.registerUndo({ type: 'rds.delete-copy', params: { kind: 'instance', id: 'drillbook-orders-prod-7c9e6679', instances: [], keepUntil: null, runId } }, 'delete the restored copy');
      journal.registerUndo({ type: 'rds.start', params: { kind: 'instance', id: SOURCE } }, `start DB instance ${SOURCE} again`);
      journal.close();
      const journalFile = path.join(bundle.dir, JOURNAL_FILE);
      const lines = fs.readFileSync(journalFile, 'utf8').split('\n');
      lines[0] = JSON.stringify({ ...JSON.parse(lines[0]!), pid: 2 ** 22 + 17, processStart: null });
      fs.writeFileSync(journalFile, lines.join('\n'));
      // A copy of that run, tagged, that the journal's deletion never reached (created under another id).
      fake.addInstance('drillbook-orders-prod-7c9e6679-b', { MultiAZ: false, TagList: [{ Key: 'drillbook:run-id', Value: runId }, { Key: 'drillbook:drill', Value: 'true' }] });

      const runs = await recoverRuns(evidence, { registry: registerRdsUndos(defaultUndoRegistry(), { client: fake.client, sleep: fake.sleep }), rds: { client: fake.client, sleep: fake.sleep } });
      expect(runs.find((r) => r.runId === runId)?.status).toBe('recovered');
      expect(fake.calls('StartDBInstanceCommand')).toEqual([{ DBInstanceIdentifier: SOURCE }]);
      expect(fake.instances.get(SOURCE)!.DBInstanceStatus).toBe('available');
      expect(runs.find((r) => r.runId === 'rds-orphan-sweep')).toMatchObject({ status: 'recovered', undone: 1 });
      expect(fake.instances.has('drillbook-orders-prod-7c9e6679-b')).toBe(false);
      expect((await verifyBundle(bundle.dir)).ok).toBe(true);
    });
  });

  it('a restore RDS fails (incompatible-restore) ends failed, and the copy is still deleted', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addInstance(SOURCE);
    // The copy never answers: the tunnel the user declared leads nowhere.
    const tunnel = await gate(false);
    fake.copyScript = { endpointAfterMs: 100, availableAfterMs: 200, failsWith: 'incompatible-restore', endpoint: { host: '127.0.0.1', port: tunnel.port } };
    const file = writeScenario(dir, 'rds-bad-restore', {
      type: 'parallel-restore',
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, probe: { ...sqlUser(), host: '127.0.0.1', port: tunnel.port } } },
      probes: { ...FAST_PROBES, maxWait: '2s' },
    });
    const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome).toBe('failed');
    expect(exitCode).toBe(1);
    expect(record.timeline.some((e) => e.event.includes('incompatible-restore'))).toBe(true);
    const copyId = fake.calls('RestoreDBInstanceToPointInTimeCommand')[0]!.TargetDBInstanceIdentifier as string;
    expect(fake.calls('DeleteDBInstanceCommand')[0]).toMatchObject({ DBInstanceIdentifier: copyId, SkipFinalSnapshot: true, DeleteAutomatedBackups: true });
    expect(fake.instances.has(copyId)).toBe(false);
    expect(record.teardown.complete).toBe(true);
  });

  it('a restore request RDS refuses fails the run with its message; teardown finds no copy and says so', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addInstance(SOURCE);
    fake.onRestore = () => {
      throw Object.assign(new Error('The restore time is outside the backup retention window.'), { name: 'InvalidRestoreFault', $metadata: { httpStatusCode: 400 } });
    };
    const file = writeScenario(dir, 'rds-refused-restore', {
      type: 'parallel-restore',
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, probe: sqlUser() } },
      probes: FAST_PROBES,
    });
    const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect([record.outcome, exitCode]).toEqual(['failed', 1]);
    expect(record.error).toContain('outside the backup retention window');
    expect(record.teardown.complete).toBe(true);
    expect(record.teardown.deletions[0]!.verification[0]!.check).toContain('never created');
  });

  it('a copy that takes too long trips maxDuration: teardown deletes it, aborted, exit 3', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addInstance(SOURCE);
    fake.copyScript = { endpointAfterMs: 0, availableAfterMs: 0, never: true, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    const file = writeScenario(dir, 'rds-slow-restore', {
      type: 'parallel-restore',
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, probe: sqlUser() } },
      probes: FAST_PROBES,
      guardrails: { maxDuration: '2s' },
    });
    const { record, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome).toBe('aborted');
    expect(exitCode).toBe(3);
    expect(record.abort!.reason).toContain('maxDuration');
    const copyId = fake.calls('RestoreDBInstanceToPointInTimeCommand')[0]!.TargetDBInstanceIdentifier as string;
    expect(fake.instances.has(copyId)).toBe(false);
    expect(record.restoredCopy!.deletion!.verification.every((v) => v.passed)).toBe(true);
  });

  it('cluster failover: FailoverDBCluster to the declared reader, RTO from the client probe, events in the timeline', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addCluster('orders-aurora', ['orders-aurora-1', 'orders-aurora-2']);
    const writer = await gate();
    let reopenedAt = 0;
    fake.onFault = () => {
      const start = Date.now();
      writer.close();
      fake.event('orders-aurora', 'db-cluster', 'Started cross AZ failover to DB instance: orders-aurora-2', new Date(start + 1_000), ['failover']);
      fake.event('orders-aurora', 'db-cluster', 'Completed failover to DB instance: orders-aurora-2', new Date(start + 30_000), ['failover']);
      setTimeout(() => {
        writer.open();
        reopenedAt = Date.now();
      }, 700);
    };
    const file = writeScenario(dir, 'rds-cluster-failover', {
      type: 'failover',
      target: { driver: 'rds', cluster: 'orders-aurora', production: { host: '127.0.0.1', port: writer.port, ...sqlUser() } },
      faults: [{ type: 'rds-failover', targetInstance: 'orders-aurora-2' }],
      recovery: { action: 'none' },
      probes: FAST_PROBES,
    });
    const { record, runDir } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(fake.calls('FailoverDBClusterCommand')).toEqual([{ DBClusterIdentifier: 'orders-aurora', TargetDBInstanceIdentifier: 'orders-aurora-2' }]);
    expect(Date.parse(record.measured.rto!.recoveredAt)).toBeGreaterThanOrEqual(reopenedAt - 5);
    expect(record.timeline.some((e) => e.event.includes('Completed failover to DB instance: orders-aurora-2'))).toBe(true);
    expect(record.measured.rpo!.lostWrites).toBe(0);
    expect((await verifyBundle(runDir)).ok).toBe(true);
  });

  it('rds-reboot of a cluster reboots its writer without failover; teardown waits until it is available', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addCluster('orders-aurora', ['orders-aurora-1', 'orders-aurora-2']);
    const writer = await gate();
    fake.onFault = () => {
      writer.close();
      setTimeout(() => writer.open(), 500);
    };
    const file = writeScenario(dir, 'rds-reboot', {
      type: 'failover',
      target: { driver: 'rds', cluster: 'orders-aurora', production: { host: '127.0.0.1', port: writer.port, ...sqlUser() } },
      faults: [{ type: 'rds-reboot' }],
      recovery: { action: 'none' },
      probes: FAST_PROBES,
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(fake.calls('RebootDBInstanceCommand')).toEqual([{ DBInstanceIdentifier: 'orders-aurora-1', ForceFailover: false }]);
    expect(record.teardown.undos.find((u) => u.description.includes('orders-aurora-1 is available'))?.status).toBe('done');
    expect(fake.instances.get('orders-aurora-1')!.DBInstanceStatus).toBe('available');
  });

  it('rds-reboot of a Multi-AZ DB cluster (not Aurora) uses RebootDBCluster, the only reboot RDS allows it (finding 14)', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addCluster('orders-maz', ['orders-maz-1', 'orders-maz-2', 'orders-maz-3'], { multiAz: true });
    const writer = await gate();
    fake.onFault = () => {
      writer.close();
      setTimeout(() => writer.open(), 500);
    };
    const file = writeScenario(dir, 'rds-maz-reboot', {
      type: 'failover',
      target: { driver: 'rds', cluster: 'orders-maz', production: { host: '127.0.0.1', port: writer.port, ...sqlUser() } },
      faults: [{ type: 'rds-reboot' }],
      recovery: { action: 'none' },
      probes: FAST_PROBES,
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(fake.calls('RebootDBClusterCommand')).toEqual([{ DBClusterIdentifier: 'orders-maz' }]);
    expect(fake.calls('RebootDBInstanceCommand')).toEqual([]);
    expect(record.teardown.undos.find((u) => u.description.includes('DB cluster orders-maz is available'))?.status).toBe('done');
    expect(fake.clusters.get('orders-maz')!.Status).toBe('available');
  });

  it('sweeps tagged copies of finished runs only', async () => {
    const { fake, dir, evidence, registry } = setup();
    fake.addInstance(SOURCE);
    fake.copyScript = { endpointAfterMs: 0, availableAfterMs: 50, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    const file = writeScenario(dir, 'rds-restore', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '10m' },
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, probe: sqlUser() } },
      probes: FAST_PROBES,
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? '').toBe('passed');
    const tags = (runId: string) => [{ Key: 'drillbook:run-id', Value: runId }, { Key: 'drillbook:drill', Value: 'true' }];
    // The finished run's copy came back (e.g. a deletion that RDS rolled back); another
    // evidence directory's copy; an untagged production instance.
    fake.addInstance('drillbook-orders-prod-leftover', { TagList: tags(record.runId) });
    fake.addInstance('drillbook-orders-prod-elsewhere', { TagList: tags('00000000-0000-4000-8000-000000000000') });
    const swept = await sweepOrphans(evidence, { client: fake.client, sleep: fake.sleep });
    expect(swept.find((s) => s.id === 'drillbook-orders-prod-leftover')).toMatchObject({ status: 'deleted' });
    expect(swept.find((s) => s.id === 'drillbook-orders-prod-elsewhere')).toMatchObject({ status: 'left' });
    expect(swept.some((s) => s.id === SOURCE)).toBe(false);
    expect([...fake.instances.keys()].sort()).toEqual(['drillbook-orders-prod-elsewhere', SOURCE].sort());
    // The orphan's deletion is on record beside the evidence, with how it was verified.
    const sweepLog = fs.readFileSync(path.join(evidence, 'rds-sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sweepLog).toEqual([expect.objectContaining({ id: 'drillbook-orders-prod-leftover', runId: record.runId, status: 'deleted', deletion: expect.objectContaining({ what: 'orphaned restored copy' }) })]);
    // An evidence directory with no RDS runs makes no AWS call at all.
    const before = fake.log.length;
    expect(await sweepOrphans(path.join(dir, 'empty'), { client: fake.client })).toEqual([]);
    expect(fake.log.length).toBe(before);
  });

  it('production without --confirm is refused by the CLI before any RDS call; with it, the drill runs', async () => {
    const { fake, dir } = setup();
    // The CLI builds its own driver with the real sleep: the fake's minutes become real milliseconds.
    fake.durations = { deleteMs: 200, stopMs: 200, startMs: 200, rebootMs: 200, failoverMs: 200 };
    fake.addInstance(SOURCE);
    const production = await gate();
    fake.onFault = () => production.close();
    fake.onStart = () => production.open();
    const file = await stopScenario(dir, production, cluster.primary.port, {}, { environment: 'production', name: 'rds-stop' });
    const evidence = path.join(dir, 'evidence');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const refused = await main(['run', file, '--evidence', evidence]);
      expect(refused).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('--confirm rds-stop');
      expect(fake.log).toEqual([]); // not even a Describe: the driver was never opened
      expect(fs.existsSync(evidence)).toBe(false);

      const confirmed = await main(['run', file, '--evidence', evidence, '--confirm', 'rds-stop', '--approver', 'Dana Lee']);
      expect(confirmed).toBe(0);
      expect(fake.mutatingCalls()).toEqual(['StopDBInstanceCommand', 'StartDBInstanceCommand']);
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  });
});
