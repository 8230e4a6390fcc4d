/** A small "production" on the fake API server, and scenario files that drill it. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { type FakeKubeApi, type FakeKubeOptions, startFakeKubeApi } from '../../helpers/fake-kube-api.js';
import { writeScenario } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';

export interface Shop {
  api: FakeKubeApi;
  kubeconfig: string;
  dir: string;
}

/**
 * Two nodes; deployment shop/checkout with 3 ready pods (2 on node-a, 1 on node-b); a
 * DaemonSet pod and a mirror pod on node-a (a drain skips both); a Velero backup of shop.
 */
export async function startShop(dir: string, options: FakeKubeOptions = {}): Promise<Shop> {
  const api = await startFakeKubeApi(options);
  api.addNode('node-a');
  api.addNode('node-b');
  api.addDeployment('shop', 'checkout', 3, { app: 'checkout' }, ['node-a', 'node-a', 'node-b']);
  api.addPod('kube-system', 'log-agent-node-a', { app: 'log-agent' }, 'node-a', 'DaemonSet');
  api.addPod('kube-system', 'kube-proxy-node-a', { component: 'kube-proxy' }, 'node-a', 'mirror');
  api.addPdb('shop', 'checkout-pdb', 'app=checkout', 2);
  api.addBackup('shop-nightly', ['shop']);
  fs.mkdirSync(dir, { recursive: true });
  return { api, kubeconfig: api.writeKubeconfig(dir), dir };
}

/**
 * A fresh work directory for each test (made with `prefix`) and the shop a test starts in it; after
 * each test the shop's API server is closed and the directory removed. Read `work` inside tests only.
 */
export function useShopPerTest(prefix: string): { start(options?: FakeKubeOptions): Promise<Shop>; readonly work: string } {
  let shop: Shop | undefined;
  let work: string | undefined;
  beforeEach(() => {
    work = sharedTempDir(prefix);
  });
  afterEach(async () => {
    await shop?.api.close();
    shop = undefined;
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  return {
    async start(options: FakeKubeOptions = {}): Promise<Shop> {
      if (!work) throw new Error('start a shop inside a test');
      shop = await startShop(work, options);
      return shop;
    },
    get work(): string {
      if (!work) throw new Error('the work directory exists inside a test only');
      return work;
    },
  };
}

export const FAULTS = {
  // Every pod at once: the app is down until the controller's replacements are ready.
  'pod-delete': { type: 'pod-delete', selector: 'app=checkout', maxPods: 3 },
  'deployment-scale': { type: 'deployment-scale', selector: 'app=checkout', deployment: 'checkout', replicas: 0, maxPods: 3, duration: '300ms' },
  // node-a holds 2 of the 3 pods; the PodDisruptionBudget (minAvailable 2) makes the second eviction wait (429).
  'node-drain': { type: 'node-drain', selector: 'app=checkout', node: 'node-a', maxPods: 2, evictionTimeout: '10s' },
  'network-partition': { type: 'network-partition', selector: 'app=checkout', maxPercent: 100, duration: '300ms' },
} as const;
export type FaultName = keyof typeof FAULTS;

/**
 * The fault left in place until teardown (no early revert). deployment-scale keeps a long
 * duration: without one (and recovery none) validate refuses it, since nothing would scale it back.
 */
export function persistent(name: FaultName): Record<string, unknown> {
  const { duration: _duration, ...rest } = FAULTS[name] as Record<string, unknown>;
  return name === 'deployment-scale' ? { ...rest, duration: '1h' } : rest;
}

export function k8sTarget(shop: Shop, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    driver: 'kubernetes',
    kubeconfig: shop.kubeconfig,
    namespace: 'shop',
    workload: { deployment: 'checkout', readyTimeout: '10s' },
    probe: { url: `${shop.api.url}/_app/shop/checkout/healthz` },
    ...extra,
  };
}

export function failoverScenario(shop: Shop, name: string, fault: Record<string, unknown>, probes: Record<string, unknown> = {}): string {
  return writeScenario(path.join(shop.dir, name), name, {
    type: 'failover',
    target: k8sTarget(shop),
    faults: [fault],
    probes: { interval: '50ms', timeout: '1s', stableFor: 1, maxWait: '10s', ...probes },
  });
}

/** No path may leave a cordoned node, a deny policy or a scaled-down deployment behind. */
export function expectShopRestored(api: FakeKubeApi): void {
  for (const node of api.nodes.values()) expect(node.unschedulable, `node ${node.name} cordoned`).toBe(false);
  expect([...api.policies.keys()]).toEqual([]);
  expect(api.deployments.get('shop/checkout')?.replicas).toBe(3);
}

/** Waits (briefly) until the condition holds; returns false on timeout. */
export async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}
