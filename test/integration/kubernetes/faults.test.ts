/**
 * The Kubernetes faults against a real local API server (test/helpers/fake-kube-api.ts):
 * for every fault the undo runs after success, after a failed recovery probe and after an
 * abortIf condition trips, and none of those paths leaves a cordoned node, a deny policy or a scaled-down
 * deployment behind. The evidence bundles verify like the PostgreSQL ones.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import { runDrill } from '../../../runners/engine.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { expectShopRestored, FAULTS, type FaultName, failoverScenario, k8sTarget, persistent, type Shop, startShop } from './setup.js';

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

  it('undoes the fault when a guardrails.abortIf condition trips', async () => {
    shop.api.onMutation = () => shop.api.appStatus.set('shop/checkout', 503);
    // What must stay healthy during the drill: a payments API (a real local server) that
    // starts failing once the fault is in.
    let healthy = true;
    const payments = http.createServer((_req, res) => res.writeHead(healthy ? 200 : 500).end());
    await new Promise<void>((resolve) => payments.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(payments.address() as AddressInfo).port}/health`;
    try {
      const file = writeScenario(path.join(shop.dir, `${name}-abort`), `${name}-abort`, {
        type: 'failover',
        target: k8sTarget(shop),
        faults: [persistent(name)],
        probes: { interval: '50ms', timeout: '1s', stableFor: 1, maxWait: '30s' },
        guardrails: { abortIf: [{ name: 'payments-api', http: { url }, failures: 2 }] },
      });
      const result = await runDrill(await loadForRun(file), {
        evidenceDir: path.join(work, 'evidence'),
        scratchRoot: work,
        listener: {
          event(event) {
            if (event.event.startsWith('fault injected')) healthy = false;
          },
        },
      });
      expect(result.record.outcome).toBe('aborted');
      expect(result.exitCode).toBe(3);
      expect(result.record.abort?.reason).toMatch(/abort condition payments-api tripped after 2 consecutive failures: HTTP 500/);
      expect(result.record.teardown.complete, JSON.stringify(result.record.teardown)).toBe(true);
      expectShopRestored(shop.api);
      expect((await verifyBundle(result.runDir)).ok).toBe(true);
    } finally {
      await new Promise<void>((resolve) => payments.close(() => resolve()));
    }
  });
});
