/**
 * Safety of the Kubernetes driver against the local API server: a selection larger than the
 * declared blast radius is refused before any mutating request (the server's request log is
 * the proof); a drain honours PodDisruptionBudgets (429 → retry) and skips DaemonSet and
 * mirror pods; `planLive` resolves exactly what would be touched with GETs only; and the
 * protocol paths the driver relies on (415 without a merge-patch type, 409 on a duplicate).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDrill } from '../../../runners/engine.js';
import { connectCluster, describeApiError, statusOf } from '../../../runners/drivers/kubernetes/client.js';
import { kubernetesDriver } from '../../../runners/drivers/kubernetes/driver.js';
import { denyAllPolicy } from '../../../runners/drivers/kubernetes/faults.js';
import { loadForRun } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { expectShopRestored, FAULTS, failoverScenario, type Shop, startShop } from './setup.js';

describe('kubernetes driver safety', () => {
  let shop: Shop;
  let work: string;

  beforeEach(async () => {
    work = sharedTempDir('drillbook-k8s-safety-');
    shop = await startShop(work);
  });
  afterEach(async () => {
    await shop.api.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['pod-delete over maxPods', { type: 'pod-delete', selector: 'app=checkout', maxPods: 2 }, /would touch 3 pods .*maxPods 2/],
    ['pod-delete over maxPercent', { type: 'pod-delete', selector: 'app=checkout', count: 2, maxPercent: 50 }, /2 of the 3 pods .*67 %.*maxPercent 50/],
    ['deployment-scale over maxPods', { type: 'deployment-scale', selector: 'app=checkout', deployment: 'checkout', replicas: 0, maxPods: 1, duration: '1m' }, /would touch 3 pods .*maxPods 1/],
    ['node-drain over maxPods', { type: 'node-drain', selector: 'app=checkout', node: 'node-a', maxPods: 1 }, /would touch 2 pods .*maxPods 1/],
    ['network-partition over maxPercent', { type: 'network-partition', selector: 'app=checkout', maxPercent: 50 }, /3 of the 3 pods .*maxPercent 50/],
    ['a selector matching nothing', { type: 'pod-delete', selector: 'app=nothing', maxPods: 1 }, /matches no pods/],
  ];
  it.each(refusals)('refuses %s before any mutating request', async (_name, fault, message) => {
    const file = failoverScenario(shop, 'refused', fault);
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.error).toMatch(/refused before any change/);
    expect(result.record.error).toMatch(message);
    expect(result.record.t0).toBeNull();
    expect(shop.api.mutations()).toEqual([]);
    expectShopRestored(shop.api);
    expect(shop.api.readyPods('shop', 'checkout')).toBe(3);
  });

  it('refuses a drain that would evict more pods outside the namespace and selector than maxOtherPods', async () => {
    shop.api.addDeployment('billing', 'invoices', 1, { app: 'invoices' }, ['node-a']);
    const file = failoverScenario(shop, 'drain-outside', { ...FAULTS['node-drain'], maxPods: 10 });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.error).toMatch(/would also evict 1 pod\(s\) outside app=checkout \(billing\/invoices-.*more than maxOtherPods 0/);
    expect(shop.api.mutations()).toEqual([]);
  });

  it('drains through the Eviction API: retries a PodDisruptionBudget 429, skips DaemonSet and mirror pods', async () => {
    const file = failoverScenario(shop, 'drain', FAULTS['node-drain']);
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const evictions = shop.api.requests.filter((r) => r.path.endsWith('/eviction'));
    expect(evictions.some((r) => r.status === 429)).toBe(true);
    expect(evictions.every((r) => r.path.startsWith('/api/v1/namespaces/shop/pods/checkout-'))).toBe(true);
    expect(shop.api.pods.has('kube-system/log-agent-node-a')).toBe(true);
    expect(shop.api.pods.has('kube-system/kube-proxy-node-a')).toBe(true);
    // No pod of the workload was deleted directly: only evicted.
    expect(shop.api.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(result.record.timeline.some((e) => e.event.includes('refused by a PodDisruptionBudget (429)'))).toBe(true);
    expectShopRestored(shop.api);
  });

  it('a timed fault still in place when the drill ends is undone by teardown, once', async () => {
    // Egress only: the app keeps answering (the fake app checks ingress), so the drill ends long
    // before the hour. The canary stands in for an endpoint that needs the pods' egress.
    const canary = http.createServer((_req, res) => res.writeHead(shop.api.policies.size > 0 ? 503 : 200).end());
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}/needs-egress`;
    const file = failoverScenario(shop, 'egress', { type: 'network-partition', selector: 'app=checkout', direction: 'egress', maxPods: 3, duration: '1h', canary: { url: canaryUrl } });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work }).finally(() => canary.close());
    // The canary proved the partition took effect: the fault's own evidence, so not inconclusive.
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    expect(result.record.disruption?.observed).toBe(true);
    expect(result.record.teardown.undos.map((u) => [u.description, u.status])).toEqual([[expect.stringMatching(/^delete NetworkPolicy shop\/drillbook-partition-/), 'done']]);
    await new Promise((r) => setTimeout(r, 200));
    expect(shop.api.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/networkpolicies/'))).toHaveLength(1);
    expectShopRestored(shop.api);
  });

  it('refuses to delete pods no controller would re-create', async () => {
    shop.api.addPod('shop', 'debug-shell', { app: 'checkout' }, 'node-b', 'bare');
    const file = failoverScenario(shop, 'bare', { type: 'pod-delete', selector: 'app=checkout', maxPods: 4 });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.error).toMatch(/debug-shell has no controller/);
    expect(shop.api.mutations()).toEqual([]);
  });

  it('planLive lists exactly what each fault would touch, with read-only requests', async () => {
    const file = failoverScenario(shop, 'plan-drain', FAULTS['node-drain']);
    const loaded = await loadForRun(file);
    const items = await kubernetesDriver.planLive!(loaded);
    const checkoutOnA = shop.api.podsOf('shop', 'checkout').filter((p) => p.nodeName === 'node-a').map((p) => `pod shop/${p.name}: evicted`);
    expect(items).toHaveLength(1);
    expect(items[0]!.touches).toContain('node node-a: cordoned');
    for (const line of checkoutOnA) expect(items[0]!.touches).toContain(line);
    expect(items[0]!.touches).not.toContain('log-agent');
    expect(items[0]!.touches).toContain('(2 of 3 matched pods)');
    const refused = await kubernetesDriver.planLive!(await loadForRun(failoverScenario(shop, 'plan-refused', { ...FAULTS['pod-delete'], maxPods: 1 })));
    expect(refused[0]!.action).toMatch(/WOULD BE REFUSED/);
    expect(shop.api.requests.length).toBeGreaterThan(0);
    expect(shop.api.mutations()).toEqual([]);
  });

  it('speaks the protocol: 415 for a PATCH without merge-patch type, 409 for a duplicate policy', async () => {
    const clients = await connectCluster({ kubeconfig: shop.kubeconfig, context: null });
    // client-node's default patch Content-Type is JSON Patch; the body is a merge patch.
    const error = await clients.core.patchNode({ name: 'node-a', body: { spec: { unschedulable: true } } }).catch((e: unknown) => e);
    expect(statusOf(error)).toBe(415);
    expect(shop.api.nodes.get('node-a')!.unschedulable).toBe(false);
    await clients.core.patchNode({ name: 'node-a', body: { spec: { unschedulable: true } } }, clients.mergePatch);
    expect(shop.api.nodes.get('node-a')!.unschedulable).toBe(true);

    const policy = denyAllPolicy('drillbook-partition-test-0', 'test-run', 'app=checkout', 'both');
    await clients.networking.createNamespacedNetworkPolicy({ namespace: 'shop', body: policy });
    const duplicate = await clients.networking.createNamespacedNetworkPolicy({ namespace: 'shop', body: policy }).catch((e: unknown) => e);
    expect(statusOf(duplicate)).toBe(409);
    expect(describeApiError(duplicate, 'creating the policy')).toMatch(/^creating the policy: the API server answered 409 \(.*already exists\)$/);
  });
});
