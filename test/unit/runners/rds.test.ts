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
import { call, isNotFound, isThrottling } from '../../../runners/drivers/rds/api.js';
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
      recovery: { action: 'none' },
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
});
