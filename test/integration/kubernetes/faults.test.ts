/**
 * The Kubernetes faults against a real local API server (test/helpers/fake-kube-api.ts):
 * for every fault the undo runs after success, after a failed recovery probe and after an
 * abort, and none of those paths leaves a cordoned node, a deny policy or a scaled-down
 * deployment behind. The evidence bundles verify like the PostgreSQL ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import { AbortReason } from '../../../runners/context.js';
import { runDrill } from '../../../runners/engine.js';
import { loadForRun } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { expectShopRestored, FAULTS, type FaultName, failoverScenario, persistent, type Shop, startShop } from './setup.js';

const NAMES = Object.keys(FAULTS) as FaultName[];

describe.each(NAMES)('fault %s', (name) => {
  let shop: Shop;
  let work: string;

  beforeEach(async () => {
    work = sharedTempDir('drillbook-k8s-');
    shop = await startShop(work);
  });
  afterEach(async () => {
    await shop.api.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs, measures the RTO from the HTTP probe, and undoes itself after success', async () => {
    const file = failoverScenario(shop, `${name}-ok`, FAULTS[name]);
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome, result.record.error ?? JSON.stringify(result.record.checks)).toBe('passed');
    expect(result.exitCode).toBe(0);
    expect(result.record.measured.rto).not.toBeNull();
    expect(result.record.measured.rpo).toBeNull();
    expect(result.record.verdict.rpo).toBe('not-measured');
    expect(result.record.checks).toContainEqual(expect.objectContaining({ type: 'ready-replicas', passed: true }));
    expect(result.record.teardown.complete).toBe(true);
    expectShopRestored(shop.api);
    // Every PATCH carried a merge-patch Content-Type (the server answers 415 otherwise).
    for (const r of shop.api.requests.filter((r) => r.method === 'PATCH')) expect(r.contentType).toBe('application/merge-patch+json');
    // Readiness came from the watch stream and reached the timeline.
    expect(shop.api.requests.some((r) => r.path.endsWith('/deployments') && r.query.includes('watch=true'))).toBe(true);
    expect(result.record.timeline.some((e) => e.event.startsWith('readiness: deployment checkout'))).toBe(true);
    const verification = await verifyBundle(result.runDir);
    expect(verification.ok, JSON.stringify(verification)).toBe(true);
    for (const file of ['report.html', 'report.md', 'run.json', 'timeline.jsonl', 'probes.csv', 'manifest.json']) expect(fs.existsSync(path.join(result.runDir, file)), file).toBe(true);
  });

  it('undoes the fault when the recovery probe never succeeds', async () => {
    // The app breaks with the first mutating call and stays broken: recovery is never observed.
    shop.api.onMutation = () => shop.api.appStatus.set('shop/checkout', 503);
    const file = failoverScenario(shop, `${name}-noprobe`, persistent(name), { maxWait: '600ms' });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome).toBe('failed');
    expect(result.exitCode).toBe(1);
    expect(result.record.error).toMatch(/did not accept the write probe|did not/);
    expect(result.record.teardown.complete, JSON.stringify(result.record.teardown)).toBe(true);
    expect(result.record.teardown.undos.length).toBeGreaterThan(0);
    expectShopRestored(shop.api);
    expect((await verifyBundle(result.runDir)).ok).toBe(true);
  });

  it('undoes the fault when an abort condition trips', async () => {
    shop.api.onMutation = () => shop.api.appStatus.set('shop/checkout', 503);
    const abort = new AbortController();
    const file = failoverScenario(shop, `${name}-abort`, persistent(name), { maxWait: '30s' });
    const result = await runDrill(await loadForRun(file), {
      evidenceDir: path.join(work, 'evidence'),
      scratchRoot: work,
      signal: abort.signal,
      listener: {
        event(event) {
          if (event.event.startsWith('fault injected')) abort.abort(new AbortReason('guardrail', 'abort condition checkout-api tripped (2 consecutive failures)'));
        },
      },
    });
    expect(result.record.outcome).toBe('aborted');
    expect(result.exitCode).toBe(3);
    expect(result.record.abort?.reason).toContain('checkout-api');
    expect(result.record.teardown.complete, JSON.stringify(result.record.teardown)).toBe(true);
    expectShopRestored(shop.api);
    expect((await verifyBundle(result.runDir)).ok).toBe(true);
  });
});
