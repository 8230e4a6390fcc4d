/**
 * RDS drills end to end through runDrill: the RDS API is aws-sdk-client-mock behind a small
 * stateful fake (fake-rds.ts); the SQL endpoints RDS reports are a real PostgreSQL started
 * by the test, behind a TCP gate the test opens and closes to create outages of known
 * instants. What is proven here: the calls drillbook makes (isolation, tags, order, undo),
 * and that RTO comes from the client-side probe, not from RDS states or events. What is not:
 * the behaviour of the real RDS service (see docs/rds.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import { connect } from '../../../runners/drivers/postgres/server.js';
import { createRdsDriver } from '../../../runners/drivers/rds/driver.js';
import type { Driver, FaultEffect } from '../../../runners/drivers/types.js';
import { registerRdsUndos } from '../../../runners/drivers/rds/undo.js';
import { runDrill } from '../../../runners/engine.js';
import { JOURNAL_FILE } from '../../../runners/journal.js';
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

function journalText(evidenceDir: string): string {
  if (!fs.existsSync(evidenceDir)) return '';
  return fs
    .readdirSync(evidenceDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(evidenceDir, e.name, JOURNAL_FILE))
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}

describe('RDS drills (mocked RDS API, real PostgreSQL endpoints)', () => {
  let cluster: TestCluster;
  let work: string;
  let fake: FakeRds;
  let gates: Gate[] = [];
  let n = 0;

  beforeAll(async () => {
    cluster = await startTestCluster();
    work = sharedTempDir('drillbook-rds-');
    const admin = await connect(cluster.primary);
    try {
      await admin.query('CREATE TABLE orders (id bigserial PRIMARY KEY, amount_cents integer NOT NULL)');
      await admin.query('INSERT INTO orders (amount_cents) SELECT 100 + g FROM generate_series(1, 50) g');
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });
  afterEach(async () => {
    fake?.restore();
    for (const gate of gates) await gate.stop();
    gates = [];
  });

  async function setup(): Promise<{ dir: string; evidence: string; registry: ReturnType<typeof defaultUndoRegistry> }> {
    fake = new FakeRds();
    testDrivers = withDriver(createRdsDriver({ client: fake.client, sleep: fake.sleep }));
    const dir = path.join(work, `case-${++n}`);
    return { dir, evidence: path.join(dir, 'evidence'), registry: registerRdsUndos(defaultUndoRegistry(), { client: fake.client, sleep: fake.sleep }) };
  }

  async function gate(open = true): Promise<Gate> {
    const g = await startGate(cluster.primary.port, open);
    gates.push(g);
    return g;
  }

  const sqlUser = () => ({ user: 'postgres', database: 'postgres', password: { env: cluster.passwordEnv } });

  it('point-in-time restore of an instance: isolated, tagged copy; RTO from the first client probe, not from RDS "available"; copy deleted and verified', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addInstance(SOURCE);
    const copyGate = await gate(false);
    fake.copyScript = { endpointAfterMs: 100, availableAfterMs: 300, endpoint: { host: '127.0.0.1', port: copyGate.port } };
    let undoJournaledBeforeRestore = false;
    let gateOpenedAt = 0;
    fake.onRestore = () => {
      undoJournaledBeforeRestore = journalText(evidence).includes('"rds.delete-copy"');
      // The database answers clients well after RDS first calls the copy available.
      setTimeout(() => {
        gateOpenedAt = Date.now();
        copyGate.open();
      }, 1_200);
    };
    const file = writeScenario(dir, 'rds-pitr', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '10m' },
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, instanceClass: 'db.t4g.medium', probe: sqlUser() } },
      restore: { restoreTo: 'latest', access: 'drill VPC only', masking: 'none (synthetic data)' },
      probes: FAST_PROBES,
      checks: [
        { type: 'row-count', name: 'orders restored', table: 'orders', min: 50 },
        { type: 'sql', name: 'no non-positive amounts', query: 'SELECT count(*) FROM orders WHERE amount_cents <= 0', expect: 0 },
      ],
    });
    const { record, runDir, exitCode } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(exitCode).toBe(0);

    const [restore] = fake.calls('RestoreDBInstanceToPointInTimeCommand');
    expect(restore).toMatchObject({ SourceDBInstanceIdentifier: SOURCE, UseLatestRestorableTime: true, PubliclyAccessible: false, DBSubnetGroupName: 'drill-isolated', VpcSecurityGroupIds: ['sg-0a1b2c3d4e'] });
    expect(restore!.Tags).toEqual(expect.arrayContaining([{ Key: 'drillbook:run-id', Value: record.runId }, { Key: 'drillbook:drill', Value: 'true' }]));
    expect(undoJournaledBeforeRestore).toBe(true);
    // Finding 13: the copy runs with the source's parameter and option groups, not RDS's defaults.
    expect(restore).toMatchObject({ DBParameterGroupName: 'orders-pg16', OptionGroupName: 'orders-og16', CopyTagsToSnapshot: true });
    const carried = record.timeline.find((e) => e.event.startsWith('restore carries the source settings'));
    expect(carried?.detail).toMatchObject({ engineVersion: '16.4', parameterGroup: 'orders-pg16', optionGroup: 'orders-og16' });
    expect(record.dataIntegrity.notes.join(' ')).toContain('parameterGroup orders-pg16');

    // RDS said "available" soon after the request; clients could connect only at ~1.2 s.
    const t0 = Date.parse(record.t0!.at);
    const availableEvent = record.timeline.find((e) => /RDS reports the copy .*: available/.test(e.event));
    expect(availableEvent).toBeDefined();
    expect(gateOpenedAt).toBeGreaterThan(Date.parse(availableEvent!.at));
    expect(Date.parse(record.measured.rto!.recoveredAt)).toBeGreaterThanOrEqual(gateOpenedAt - 5);
    expect(record.measured.rto!.seconds * 1000).toBeGreaterThanOrEqual(gateOpenedAt - t0 - 5);

    // RPO from the restore point: T0 − LatestRestorableTime read at T0.
    const lrt = fake.instances.get(SOURCE)!.LatestRestorableTime!.getTime();
    expect(record.measured.rpo!.method).toContain('LatestRestorableTime');
    expect(Math.abs(record.measured.rpo!.seconds - (t0 - lrt) / 1000)).toBeLessThan(1);

    const [deletion] = fake.calls('DeleteDBInstanceCommand');
    expect(deletion).toMatchObject({ DBInstanceIdentifier: restore!.TargetDBInstanceIdentifier, SkipFinalSnapshot: true, DeleteAutomatedBackups: true });
    expect(fake.instances.has(restore!.TargetDBInstanceIdentifier as string)).toBe(false);
    expect(record.restoredCopy!.deletion!.verification.every((v) => v.passed)).toBe(true);
    expect(record.restoredCopy!.deletion!.verification.map((v) => v.check).join(' ')).toContain('DBInstanceNotFound');
    expect(record.teardown.complete).toBe(true);
    expect((await verifyBundle(runDir)).ok).toBe(true);
    // The same report checks as a PostgreSQL bundle: self-contained, key figures, controls, the copy's life.
    const html = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/(src|href)=["']https?:/);
    expect(html).toContain(String(record.measured.rto!.seconds));
    expect(html).toMatch(/A1\.3/);
    expect(html).toContain(restore!.TargetDBInstanceIdentifier as string);
    expect(html).toContain('DBInstanceNotFound');
    expect(fs.readFileSync(path.join(runDir, 'report.md'), 'utf8')).toContain('LatestRestorableTime');
    for (const f of fs.readdirSync(evidence, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()))
      expect(fs.readFileSync(path.join(f.parentPath, f.name), 'utf8'), f.name).not.toContain(cluster.password);
  });

  it('restores the latest snapshot through throttling, and measures the RPO from the snapshot time', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addInstance(SOURCE);
    const snapshotAt = new Date(Date.now() - 3_600_000);
    fake.snapshots.push({ id: 'rds:orders-prod-2026-11-26-03-10', source: SOURCE, createdAt: snapshotAt, cluster: false });
    fake.snapshots.push({ id: 'rds:orders-prod-2026-11-25-03-10', source: SOURCE, createdAt: new Date(snapshotAt.getTime() - 86_400_000), cluster: false });
    fake.copyScript = { endpointAfterMs: 50, availableAfterMs: 100, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    fake.throttle.set('RestoreDBInstanceFromDBSnapshotCommand', 2);
    fake.throttle.set('DescribeDBInstancesCommand', 3);
    fake.throttle.set('DeleteDBInstanceCommand', 1);
    fake.deleteRefusals = 1; // "not in available state": retried until accepted
    const file = writeScenario(dir, 'rds-snapshot', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '2h' },
      target: { driver: 'rds', instance: SOURCE, copy: { ...COPY_NETWORK, snapshot: 'latest', probe: sqlUser() } },
      probes: FAST_PROBES,
      checks: [{ type: 'row-count', name: 'orders restored', table: 'orders', min: 50 }],
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? '').toBe('passed');
    const restores = fake.calls('RestoreDBInstanceFromDBSnapshotCommand');
    expect(restores).toHaveLength(3); // two throttled, one accepted
    expect(restores[2]).toMatchObject({ DBSnapshotIdentifier: 'rds:orders-prod-2026-11-26-03-10', PubliclyAccessible: false, DBSubnetGroupName: 'drill-isolated' });
    expect(record.measured.rpo!.method).toContain('snapshot rds:orders-prod-2026-11-26-03-10');
    expect(Math.abs(record.measured.rpo!.seconds - (Date.parse(record.t0!.at) - snapshotAt.getTime()) / 1000)).toBeLessThan(1);
    expect(record.dataIntegrity.backup).toContain('rds:orders-prod-2026-11-26-03-10');
    expect(fake.calls('DeleteDBInstanceCommand').length).toBeGreaterThanOrEqual(3);
    expect(fake.instances.size).toBe(1);
    expect(record.teardown.complete).toBe(true);
  });

  it('restores an Aurora cluster with a member instance, measures RPO by heartbeats on production, deletes member then cluster', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addCluster('orders-aurora', ['orders-aurora-1', 'orders-aurora-2']);
    // The cluster copy is `creating` for eight simulated minutes.
    fake.copyScript = { endpointAfterMs: 60_000, availableAfterMs: 8 * 60_000, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    const file = writeScenario(dir, 'rds-aurora', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '10m' },
      target: {
        driver: 'rds',
        cluster: 'orders-aurora',
        production: { host: '127.0.0.1', port: cluster.primary.port, ...sqlUser() },
        copy: { ...COPY_NETWORK, instanceClass: 'db.r6g.large', probe: sqlUser() },
      },
      probes: FAST_PROBES,
      checks: [{ type: 'row-count', name: 'orders match the source', table: 'orders', key: 'id', compareWithSource: true, min: 50 }],
    });
    const { record, runDir } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    const [restore] = fake.calls('RestoreDBClusterToPointInTimeCommand');
    expect(restore).toMatchObject({ SourceDBClusterIdentifier: 'orders-aurora', UseLatestRestorableTime: true, DBSubnetGroupName: 'drill-isolated' });
    const [member] = fake.calls('CreateDBInstanceCommand');
    expect(member).toMatchObject({ DBClusterIdentifier: restore!.DBClusterIdentifier, Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large', PubliclyAccessible: false });
    // Finding 10: CreateDBInstance only once the cluster copy is available (the fake refuses it before, as RDS does).
    expect(fake.calls('CreateDBInstanceCommand')).toHaveLength(1);
    expect(record.timeline.some((e) => e.event.includes(`${restore!.DBClusterIdentifier as string} available: creating its member instance`))).toBe(true);
    // Finding 13: the cluster parameter group, and the writer's DB parameter group for the member.
    expect(restore).toMatchObject({ DBClusterParameterGroupName: 'orders-aurora-cpg16', CopyTagsToSnapshot: true });
    expect(member).toMatchObject({ DBParameterGroupName: 'orders-aurora-pg16' });
    expect(record.measured.rpo!.method).toContain('heartbeat');
    expect(record.measured.rpo!.lostWrites).toBe(0);
    // Member instance first, then the cluster (RDS refuses a cluster that still has members).
    const order = fake.log.filter((c) => c.command.startsWith('DeleteDB')).map((c) => c.command);
    expect(order.indexOf('DeleteDBInstanceCommand')).toBeLessThan(order.lastIndexOf('DeleteDBClusterCommand'));
    expect(fake.calls('DeleteDBClusterCommand').at(-1)).toMatchObject({ DBClusterIdentifier: restore!.DBClusterIdentifier, SkipFinalSnapshot: true });
    expect(fake.clusters.has(restore!.DBClusterIdentifier as string)).toBe(false);
    expect(fake.instances.has(member!.DBInstanceIdentifier as string)).toBe(false);
    expect((await verifyBundle(runDir)).ok).toBe(true);
  });

  it('restores an Aurora cluster snapshot with the snapshot\'s engine version and the source\'s groups (finding 13)', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addCluster('orders-aurora', ['orders-aurora-1', 'orders-aurora-2']);
    fake.snapshots.push({ id: 'rds:orders-aurora-2026-11-26-03-10', source: 'orders-aurora', createdAt: new Date(Date.now() - 3_600_000), cluster: true, engineVersion: '16.2' });
    fake.copyScript = { endpointAfterMs: 60_000, availableAfterMs: 5 * 60_000, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    const file = writeScenario(dir, 'rds-aurora-snapshot', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '2h' },
      target: { driver: 'rds', cluster: 'orders-aurora', copy: { ...COPY_NETWORK, snapshot: 'latest', instanceClass: 'db.r6g.large', probe: sqlUser() } },
      probes: FAST_PROBES,
      checks: [{ type: 'row-count', name: 'orders restored', table: 'orders', min: 50 }],
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    const [restore] = fake.calls('RestoreDBClusterFromSnapshotCommand');
    expect(restore).toMatchObject({ SnapshotIdentifier: 'rds:orders-aurora-2026-11-26-03-10', Engine: 'aurora-postgresql', EngineVersion: '16.2', DBClusterParameterGroupName: 'orders-aurora-cpg16' });
    // Without EngineVersion the copy would have run the region's default version.
    expect(record.timeline.find((e) => e.event.startsWith('restore carries the source settings'))?.detail).toMatchObject({ engineVersion: '16.2', clusterParameterGroup: 'orders-aurora-cpg16', memberParameterGroup: 'orders-aurora-pg16' });
    expect(fake.calls('CreateDBInstanceCommand')[0]).toMatchObject({ DBParameterGroupName: 'orders-aurora-pg16' });
    expect(fake.clusters.size).toBe(1);
  });

  it('restores a Multi-AZ DB cluster (not Aurora) with DBClusterInstanceClass, no CreateDBInstance, and deletes it as a whole (finding 14)', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addCluster('orders-maz', ['orders-maz-1', 'orders-maz-2', 'orders-maz-3'], { multiAz: true });
    fake.copyScript = { endpointAfterMs: 60_000, availableAfterMs: 6 * 60_000, endpoint: { host: '127.0.0.1', port: cluster.primary.port } };
    const file = writeScenario(dir, 'rds-maz', {
      type: 'parallel-restore',
      targets: { rto: '5m', rpo: '10m' },
      target: { driver: 'rds', cluster: 'orders-maz', copy: { ...COPY_NETWORK, instanceClass: 'db.m6gd.large', probe: sqlUser() } },
      probes: FAST_PROBES,
      checks: [{ type: 'row-count', name: 'orders restored', table: 'orders', min: 50 }],
    });
    const { record } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: testDrivers, scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    const [restore] = fake.calls('RestoreDBClusterToPointInTimeCommand');
    expect(restore).toMatchObject({ SourceDBClusterIdentifier: 'orders-maz', DBClusterInstanceClass: 'db.m6gd.large', StorageType: 'io1', Iops: 1000, DBClusterParameterGroupName: 'orders-maz-cpg16' });
    expect(fake.calls('CreateDBInstanceCommand')).toEqual([]);
    expect(fake.calls('DeleteDBInstanceCommand')).toEqual([]);
    expect(fake.calls('DeleteDBClusterCommand')[0]).toMatchObject({ DBClusterIdentifier: restore!.DBClusterIdentifier, SkipFinalSnapshot: true });
    // The cluster and the three instances RDS made for it are gone, and verified so.
    expect(fake.clusters.has(restore!.DBClusterIdentifier as string)).toBe(false);
    expect([...fake.instances.keys()].filter((id) => id.startsWith('drillbook-'))).toEqual([]);
    expect(record.restoredCopy!.deletion!.verification.filter((v) => v.check.includes('DBInstanceNotFound'))).toHaveLength(3);
  });

  it('Multi-AZ instance failover: RTO from the client probe; RDS events kept in the timeline as secondary evidence', async () => {
    const { dir, evidence, registry } = await setup();
    fake.addInstance(SOURCE);
    const writer = await gate(true);
    let outage: { start: number; end: number } | undefined;
    fake.onFault = (command, input) => {
      const start = Date.now();
      writer.close();
      // Recorded, realistic payloads: RDS says "completed" long after clients are back.
      fake.event(SOURCE, 'db-instance', 'Multi-AZ instance failover started.', new Date(start + 2_000), ['failover']);
      fake.event(SOURCE, 'db-instance', 'DB instance restarted', new Date(start + 20_000), ['availability']);
      fake.event(SOURCE, 'db-instance', 'Multi-AZ instance failover completed.', new Date(start + 40_000), ['failover']);
      // A busy window: more events than one DescribeEvents page holds (100).
      for (let i = 0; i < 120; i++) fake.event(SOURCE, 'db-instance', `Finished applying parameter change ${i}`, new Date(start + 3_000 + i), ['configuration change']);
      // Another source's events are not this drill's.
      fake.event('orders-other', 'db-instance', 'Multi-AZ instance failover started.', new Date(start + 2_000), ['failover']);
      expect(command).toBe('RebootDBInstanceCommand');
      expect(input.ForceFailover).toBe(true);
      setTimeout(() => {
        writer.open();
        outage = { start, end: Date.now() };
      }, 1_000);
    };
    const file = writeScenario(dir, 'rds-failover', {
      type: 'failover',
      target: { driver: 'rds', instance: SOURCE, production: { host: '127.0.0.1', port: writer.port, ...sqlUser() } },
      faults: [{ type: 'rds-failover' }],
      recovery: { action: 'none' },
      probes: FAST_PROBES,
    });
    // What the fault reports of its own effect (FaultEffect.observedEffect), seen through the session.
    const effects: FaultEffect[] = [];
    const rds = testDrivers.rds!;
    const observing: Driver = {
      ...rds,
      open: async (ctx) => {
        const session = await rds.open(ctx);
        const inject = session.injectFault.bind(session);
        session.injectFault = async (...args) => {
          const effect = await inject(...args);
          effects.push(effect);
          return effect;
        };
        return session;
      },
    };
    const { record, runDir } = await runDrill(await loadForRun(file), { evidenceDir: evidence, registry, drivers: withDriver(observing), scratchRoot: work });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    const rto = record.measured.rto!;
    const trueOutageMs = outage!.end - Date.parse(record.t0!.at);
    expect(Math.abs(rto.seconds * 1000 - trueOutageMs)).toBeLessThanOrEqual(rto.errorSeconds * 1000 + 50);
    const completed = fake.events.find((e) => e.Message === 'Multi-AZ instance failover completed.')!.Date!.getTime();
    expect(Date.parse(rto.recoveredAt)).toBeLessThan(completed);
    expect(record.timeline.some((e) => e.event.includes('outage observed by the client'))).toBe(true);
    // The fault's own evidence: the first failed client write after T0 and the status RDS reported.
    expect(effects).toHaveLength(1);
    const observed = effects[0]!.observedEffect!;
    expect(Date.parse(observed.at)).toBeGreaterThanOrEqual(Date.parse(record.t0!.at) - 5);
    expect(Date.parse(observed.at)).toBeLessThan(outage!.end);
    expect(observed.how).toContain('first failed write through the production endpoint');
    expect(effects[0]!.observed).toContain(observed.how);
    expect(record.disruption?.observed).toBe(true);
    expect(observed.how).toContain(`RDS status of DB instance ${SOURCE} afterwards: rebooting`);
    for (const message of ['Multi-AZ instance failover started.', 'Multi-AZ instance failover completed.'])
      expect(record.timeline.some((e) => e.event.includes(message) && e.event.includes('secondary evidence'))).toBe(true);
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toContain('Multi-AZ instance failover completed.');
    // Finding 16: every page of DescribeEvents is read.
    const attached = JSON.parse(fs.readFileSync(path.join(runDir, 'attachments', 'rds-events.json'), 'utf8')) as { SourceIdentifier: string }[];
    expect(attached).toHaveLength(123);
    expect(attached.every((e) => e.SourceIdentifier === SOURCE)).toBe(true);
    expect(fake.calls('DescribeEventsCommand').filter((c) => c.SourceIdentifier === SOURCE).length).toBeGreaterThanOrEqual(2);
    expect((await verifyBundle(runDir)).ok).toBe(true);
  });
});
