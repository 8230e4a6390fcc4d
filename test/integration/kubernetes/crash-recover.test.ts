/**
 * The built CLI against the local API server: a drill SIGKILLed with its fault in place
 * (journal written, process gone) is finished by `recoverRuns` — the same code as
 * `drillbook recover` — from the journal alone, for every fault and for a Velero restore;
 * and a production scenario without --confirm exits 2 without a single API request.
 * Run `npx tsc -p tsconfig.json` first: the CLI runs from dist/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { recoverRuns } from '../../../runners/recover.js';
import { runCli, startCli } from '../../helpers/cli.js';
import { writeScenario } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { eventually, expectShopRestored, FAULTS, type FaultName, failoverScenario, k8sTarget, persistent, type Shop, startShop } from './setup.js';

function onlyRunDir(evidence: string): string {
  const dirs = fs.readdirSync(evidence).filter((d) => fs.statSync(path.join(evidence, d)).isDirectory());
  expect(dirs).toHaveLength(1);
  return path.join(evidence, dirs[0]!);
}

/** The fault is visibly in place on the server. */
const inPlace: Record<FaultName, (shop: Shop) => boolean> = {
  'pod-delete': (shop) => shop.api.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/pods/')).length === 3,
  'deployment-scale': (shop) => shop.api.deployments.get('shop/checkout')!.replicas === 0,
  'node-drain': (shop) => shop.api.nodes.get('node-a')!.unschedulable,
  'network-partition': (shop) => shop.api.policies.size === 1,
};

describe('crash, then recover (kubernetes)', () => {
  let shop: Shop;
  let work: string;
  let evidence: string;

  beforeEach(async () => {
    work = sharedTempDir('drillbook-k8s-crash-');
    evidence = path.join(work, 'evidence');
    shop = await startShop(work);
    // The app stays broken once the fault lands: the drill is mid-recovery when it is killed.
    shop.api.onMutation = () => shop.api.appStatus.set('shop/checkout', 503);
  });
  afterEach(async () => {
    await shop.api.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it.each(Object.keys(FAULTS) as FaultName[])('%s: the journal alone lets recover undo it', async (name) => {
    const file = failoverScenario(shop, `${name}-crash`, persistent(name), { maxWait: '60s' });
    const drill = startCli(['run', file, '--evidence', evidence]);
    await drill.waitFor('fault injected', 60_000);
    expect(inPlace[name](shop)).toBe(true);
    drill.child.kill('SIGKILL');
    await drill.done;
    const runDir = onlyRunDir(evidence);
    expect(fs.existsSync(path.join(runDir, 'manifest.json'))).toBe(false);
    if (name !== 'pod-delete') expect(inPlace[name](shop), 'the killed drill left its fault in place').toBe(true);

    shop.api.appStatus.clear();
    const recovered = await recoverRuns(evidence);
    expect(recovered.map((r) => r.status)).toEqual(['recovered']);
    expectShopRestored(shop.api);
    expect(await eventually(() => shop.api.readyPods('shop', 'checkout') === 3)).toBe(true);

    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    expect(record.outcome).toBe('aborted');
    expect(record.teardown.complete).toBe(true);
    expect(record.teardown.undos.some((u) => u.by === 'recover' && u.status === 'done')).toBe(true);
    expect((await verifyBundle(runDir)).ok).toBe(true);
  });

  it('velero: recover deletes the scratch namespace and records the deletion', async () => {
    const file = writeScenario(path.join(work, 'restore-crash'), 'restore-crash', {
      type: 'parallel-restore',
      target: k8sTarget(shop, { velero: { backup: 'shop-nightly', sourceNamespace: 'shop', probe: { url: `${shop.api.url}/_app/{namespace}/no-such-app/healthz` } } }),
      probes: { interval: '50ms', maxWait: '60s' },
    });
    const drill = startCli(['run', file, '--evidence', evidence]);
    await drill.waitFor('phase Completed', 60_000);
    drill.child.kill('SIGKILL');
    await drill.done;
    const scratch = [...shop.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'));
    expect(scratch).toHaveLength(1);

    const recovered = await recoverRuns(evidence);
    expect(recovered.map((r) => r.status)).toEqual(['recovered']);
    expect(shop.api.namespaces.has(scratch[0]!)).toBe(false);
    expect(shop.api.restores.size).toBe(0);
    const record = JSON.parse(fs.readFileSync(path.join(onlyRunDir(evidence), 'run.json'), 'utf8')) as RunRecord;
    expect(record.teardown.deletions.map((d) => d.location)).toEqual([expect.stringContaining(`namespace ${scratch[0]}`)]);
    expect(record.teardown.deletions[0]!.verification.every((v) => v.passed)).toBe(true);
  });

  it('a production scenario without --confirm exits 2 and calls no API at all', async () => {
    const file = writeScenario(
      path.join(work, 'prod'),
      'checkout-prod',
      { type: 'failover', target: k8sTarget(shop), faults: [FAULTS['pod-delete']], probes: { interval: '50ms', maxWait: '5s' } },
      { environment: 'production' },
    );
    const result = await runCli(['run', file, '--evidence', evidence]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('--confirm');
    expect(shop.api.requests).toEqual([]);
    expectShopRestored(shop.api);
  });
});
