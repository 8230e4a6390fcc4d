/**
 * The RDS driver's language and plan: the sample scenarios load clean through the same
 * checks `validate` and `run` use; mistakes are reported at their path with a hint; `plan`
 * lists what each action touches and its undo; `planLive` resolves them with read-only
 * calls; throttled calls are retried; the copy identifier stays a valid RDS identifier.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { copyIdentifier, createRdsDriver, rdsDriver } from '../../../runners/drivers/rds/driver.js';
import * as sdk from '@aws-sdk/client-rds';
import { call, isNotFound, isThrottling } from '../../../runners/drivers/rds/api.js';
import { findSnapshot } from '../../../runners/drivers/rds/plan.js';
import { scenarioChecks } from '../../../runners/registry.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadScenario } from '../../../scenarios/load.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { FakeRds, MUTATING, fastSleep } from '../../integration/rds/fake-rds.js';

const SAMPLES = path.join(import.meta.dirname, '../../../scenarios/samples');

async function diagnose(file: string): Promise<{ path: string; message: string; hint?: string; severity: string }[]> {
  const diagnostics = new Diagnostics();
  await loadScenario(file, diagnostics, { checks: [scenarioChecks] });
  return diagnostics.all.map((d) => ({ path: d.path, message: d.message, hint: d.hint, severity: d.severity }));
}

describe('RDS scenarios', () => {
  let fake: FakeRds | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-rds-unit-'));
  afterEach(() => {
    fake?.restore();
    fake = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(['orders-rds-restore.yaml', 'orders-rds-failover.yaml'])('sample %s is valid, driver checks included', async (name) => {
    expect(await diagnose(path.join(SAMPLES, name))).toEqual([]);
  });

  it('reports each RDS mistake at its path, all at once', async () => {
    const file = writeScenario(path.join(dir, 'bad'), 'bad-rds', {
      type: 'failover',
      target: { driver: 'rds', instance: 'orders-prod', cluster: 'orders-aurora' },
      faults: [{ type: 'kill-primary' }, { type: 'rds-failover', targetInstance: 'x' }],
      recovery: { action: 'promote' },
    });
    const problems = await diagnose(file);
    const paths = problems.map((p) => `${p.path}: ${p.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'spec.target: declare exactly one of target.instance or target.cluster',
        'spec.faults[0].type: fault kill-primary does not apply to the rds driver',
        expect.stringMatching(/^spec\.target: a failover drill needs target\.production/),
        expect.stringMatching(/^spec\.recovery\.action: promote is a postgres action/),
      ]),
    );
    expect(problems.find((p) => p.path === 'spec.faults[0].type')!.hint).toBe('rds faults: rds-failover, rds-reboot, rds-stop');
  });

  it('refuses inline secrets, public-looking security groups and a restore with no isolated network', async () => {
    const file = writeScenario(path.join(dir, 'bad-restore'), 'bad-restore', {
      type: 'parallel-restore',
      target: { driver: 'rds', cluster: 'orders-aurora', copy: { subnetGroup: 'drill', securityGroups: ['default'], probe: { password: 'hunter2' } } },
    });
    const paths = (await diagnose(file)).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['spec.target.copy.securityGroups[0]', 'spec.target.copy.probe.password']));
    const noCopy = writeScenario(path.join(dir, 'no-copy'), 'no-copy', { type: 'parallel-restore', target: { driver: 'rds', instance: 'orders-prod' } });
    expect((await diagnose(noCopy)).map((p) => p.message)).toContain('parallel-restore needs target.copy (subnetGroup, securityGroups, probe)');
  });

  it('plan names what each action touches and its undo, for faults and restores', async () => {
    const failover = rdsDriver.plan(await loadForRun(path.join(SAMPLES, 'orders-rds-failover.yaml')));
    expect(failover.map((i) => i.action)).toEqual(expect.arrayContaining(['RebootDBInstance orders-prod with ForceFailover: true (Multi-AZ failover)']));
    const restore = rdsDriver.plan(await loadForRun(path.join(SAMPLES, 'orders-rds-restore.yaml')));
    const copy = restore.find((i) => i.action.startsWith('restore orders-prod'))!;
    expect(copy.touches).toContain('subnet group drill-isolated');
    expect(copy.touches).toContain('not publicly accessible');
    expect(copy.undo).toContain('SkipFinalSnapshot');
    const stop = writeScenario(path.join(dir, 'stop'), 'stop', {
      type: 'failover',
      target: { driver: 'rds', instance: 'orders-prod', production: { host: 'db.example', port: 5432 } },
      faults: [{ type: 'rds-stop' }],
      recovery: { action: 'command', command: 'aws rds start-db-instance --db-instance-identifier orders-prod' },
    });
    const stopPlan = rdsDriver.plan(await loadForRun(stop));
    expect(stopPlan.find((i) => i.action === 'StopDBInstance orders-prod')!.undo).toContain('StartDBInstance orders-prod');
  });

  it('planLive resolves the plan with read-only calls only', async () => {
    fake = new FakeRds();
    fake.addInstance('orders-prod');
    fake.snapshots.push({ id: 'rds:orders-prod-2026-11-26-03-10', source: 'orders-prod', createdAt: new Date('2026-11-26T03:10:00Z'), cluster: false });
    const driver = createRdsDriver({ client: fake.client, sleep: fastSleep });
    const file = writeScenario(path.join(dir, 'live'), 'live', {
      type: 'parallel-restore',
      target: { driver: 'rds', instance: 'orders-prod', copy: { subnetGroup: 'drill-isolated', securityGroups: ['sg-0abc'], snapshot: 'latest', probe: {} } },
    });
    const items = await driver.planLive!(await loadForRun(file));
    const text = JSON.stringify(items);
    expect(text).toContain('Multi-AZ yes: us-east-1a');
    expect(text).toContain('snapshot rds:orders-prod-2026-11-26-03-10');
    expect(text).toContain('VPC vpc-0drill');
    expect(fake.log.length).toBeGreaterThan(0);
    expect(fake.log.filter((c) => MUTATING.includes(c.command))).toEqual([]);
    // A Multi-AZ DB cluster source: the plan says RDS makes its instances (finding 14).
    fake.addCluster('orders-maz', ['orders-maz-1', 'orders-maz-2', 'orders-maz-3'], { multiAz: true });
    const maz = writeScenario(path.join(dir, 'live-maz'), 'live-maz', {
      type: 'parallel-restore',
      target: { driver: 'rds', cluster: 'orders-maz', copy: { subnetGroup: 'drill-isolated', securityGroups: ['sg-0abc'], instanceClass: 'db.m6gd.large', probe: {} } },
    });
    const mazText = JSON.stringify(await driver.planLive!(await loadForRun(maz)));
    expect(mazText).toContain('a Multi-AZ DB cluster: RDS creates its three db.m6gd.large instances, no CreateDBInstance');
    expect(mazText).not.toContain('member instance');
  });

  it('retries throttled calls with backoff and passes other errors through', async () => {
    let attempts = 0;
    const deps = { client: undefined as never, sdk: undefined as never, sleep: fastSleep };
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    expect(isThrottling(throttled)).toBe(true);
    const value = await call(deps, undefined, async () => {
      if (++attempts < 4) throw throttled;
      return 'ok';
    });
    expect([value, attempts]).toEqual(['ok', 4]);
    const notFound = Object.assign(new Error('DBInstance x not found.'), { name: 'DBInstanceNotFoundFault' });
    expect(isNotFound(notFound)).toBe(true);
    await expect(call(deps, undefined, async () => Promise.reject(notFound))).rejects.toBe(notFound);
    let forever = 0;
    await expect(call(deps, undefined, async () => {
      forever++;
      throw throttled;
    })).rejects.toBe(throttled);
    expect(forever).toBe(7); // gives up after six retries: a throttled drill fails, it does not hang
  });

  it('copy identifiers are valid RDS identifiers for any source name', () => {
    const sourceName = fc.stringMatching(/^[a-z][a-z0-9]{0,20}(-[a-z0-9]{1,10}){0,4}$/);
    fc.assert(
      fc.property(sourceName, fc.uuid(), (source, runId) => {
        const id = copyIdentifier(source, runId);
        return /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/.test(id) && !id.includes('--') && !id.endsWith('-');
      }),
    );
  });

  it('rds-stop with recovery: none and the probe on the stopped database is refused at spec.recovery.action (finding 12)', async () => {
    const stop = (extra: Record<string, unknown>) =>
      writeScenario(path.join(dir, `stop-none-${Object.keys(extra).join('-') || 'plain'}`), 'stop-none', {
        type: 'failover',
        target: { driver: 'rds', instance: 'orders-prod', production: { host: 'db.example', port: 5432 }, standby: { host: 'dr.example', port: 5432 } },
        faults: [{ type: 'rds-stop' }],
        recovery: { action: 'none' },
        ...extra,
      });
    const refused = (await diagnose(await stop({}))).find((p) => p.path === 'spec.recovery.action');
    expect(refused?.message).toMatch(/rds-stop with recovery: none cannot recover.*7 days/);
    expect(refused?.hint).toContain('aws rds start-db-instance --db-instance-identifier orders-prod');
    // A command that starts it, or a probe on the endpoint the service fails over to, can recover.
    expect(await diagnose(await stop({ recovery: { action: 'command', command: 'aws rds start-db-instance --db-instance-identifier orders-prod' } }))).toEqual([]);
    expect(await diagnose(await stop({ probes: { endpoint: 'standby' } }))).toEqual([]);
  });

  it('latest is the newest available snapshot across every page of DescribeDBSnapshots and DescribeDBClusterSnapshots (finding 16)', async () => {
    fake = new FakeRds();
    fake.pageSize = 20;
    const base = Date.parse('2026-10-01T03:10:00Z');
    // 45 snapshots, oldest first: the newest is on the third page.
    for (let day = 0; day < 45; day++) {
      fake.snapshots.push({ id: `rds:orders-prod-${day}`, source: 'orders-prod', createdAt: new Date(base + day * 86_400_000), cluster: false });
      fake.snapshots.push({ id: `rds:orders-aurora-${day}`, source: 'orders-aurora', createdAt: new Date(base + day * 86_400_000), cluster: true, engineVersion: '16.2' });
    }
    fake.snapshots.push({ id: 'rds:orders-prod-creating', source: 'orders-prod', createdAt: new Date(base + 50 * 86_400_000), cluster: false, status: 'creating' });
    const deps = { client: fake.client, sleep: fastSleep, sdk };
    expect((await findSnapshot(deps, 'instance', 'orders-prod', 'latest')).id).toBe('rds:orders-prod-44');
    expect(await findSnapshot(deps, 'cluster', 'orders-aurora', 'latest')).toMatchObject({ id: 'rds:orders-aurora-44', engineVersion: '16.2' });
    expect(fake.calls('DescribeDBSnapshotsCommand').length).toBeGreaterThanOrEqual(3);
    await expect(findSnapshot(deps, 'instance', 'orders-prod', 'rds:nope')).rejects.toThrow(/snapshot rds:nope was not found.*DBSnapshotNotFoundFault/);
  });

  it('the fake refuses what RDS refuses: invalid states, unknown names, events without a source type, CreateDBInstance into a cluster not yet available', async () => {
    fake = new FakeRds();
    fake.addInstance('orders-prod');
    const send = (command: object) => fake!.client.send(command as never);
    await send(new sdk.StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod' }));
    await expect(send(new sdk.StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod' }))).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    await expect(send(new sdk.RebootDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod' }))).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    await expect(send(new sdk.StartDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod' }))).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' }); // still stopping
    await fake.sleep(3 * 60_000); // two simulated minutes later it is stopped
    await send(new sdk.StartDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod' }));
    await expect(send(new sdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' }))).rejects.toMatchObject({ name: 'DBInstanceNotFoundFault' });
    await expect(send(new sdk.DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'nope' }))).rejects.toMatchObject({ name: 'DBSnapshotNotFoundFault' });
    await expect(send(new sdk.DescribeEventsCommand({ SourceIdentifier: 'orders-prod' }))).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    await expect(send(new sdk.RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: 'orders-prod', TargetDBInstanceIdentifier: 'copy', UseLatestRestorableTime: true, DBParameterGroupName: 'missing' }))).rejects.toMatchObject({ name: 'DBParameterGroupNotFoundFault' });
    fake.addCluster('orders-aurora', ['orders-aurora-1']);
    fake.copyScript = { endpointAfterMs: 0, availableAfterMs: 60_000, endpoint: { host: '127.0.0.1', port: 1 } };
    await send(new sdk.RestoreDBClusterToPointInTimeCommand({ SourceDBClusterIdentifier: 'orders-aurora', DBClusterIdentifier: 'copy-cluster', UseLatestRestorableTime: true }));
    await expect(send(new sdk.CreateDBInstanceCommand({ DBInstanceIdentifier: 'copy-1', DBClusterIdentifier: 'copy-cluster', Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }))).rejects.toMatchObject({ name: 'InvalidDBClusterStateFault' });
    await expect(send(new sdk.RestoreDBClusterToPointInTimeCommand({ SourceDBClusterIdentifier: 'nope', DBClusterIdentifier: 'copy-2', UseLatestRestorableTime: true }))).rejects.toMatchObject({ name: 'DBClusterNotFoundFault' });
    // A delete takes simulated minutes: still there (deleting) until the fake's clock has moved on.
    await send(new sdk.DeleteDBInstanceCommand({ DBInstanceIdentifier: 'orders-prod', SkipFinalSnapshot: true }));
    expect((await send(new sdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-prod' })) as sdk.DescribeDBInstancesCommandOutput).DBInstances?.[0]?.DBInstanceStatus).toBe('deleting');
    await fake.sleep(6 * 60_000);
    await expect(send(new sdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-prod' }))).rejects.toMatchObject({ name: 'DBInstanceNotFoundFault' });
  });
});
