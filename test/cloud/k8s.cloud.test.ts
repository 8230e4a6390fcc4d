/**
 * The Kubernetes samples against a real cluster (opt-in: docs/cloud-e2e.md): a kind or k3d
 * cluster with a policy-enforcing CNI (Calico or Cilium), Velero, and the orders-api sample
 * app in namespace `orders` labelled drillbook.dev/drill=true (checked before anything runs).
 * Runs only with DRILLBOOK_CLOUD_K8S=1 and the variables test/cloud/gate.ts lists; otherwise
 * every test is skipped. Always ends with `drillbook recover` (journals, orphan sweeps).
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { k8sGate } from './gate.js';
import { runSample, sweep } from './run-sample.js';

const gate = k8sGate(process.env);
const env = process.env;

describe.skipIf(!gate.enabled)('Kubernetes samples on a real cluster', () => {
  const adapt = (spec: Record<string, unknown>) => {
    const target = spec.target as Record<string, unknown>;
    spec.target = { ...target, context: env.DRILLBOOK_CLOUD_K8S_CONTEXT, probe: { ...(target.probe as object), url: env.DRILLBOOK_CLOUD_K8S_PROBE_URL } };
    if (env.DRILLBOOK_CLOUD_VELERO_BACKUP && (spec.target as { velero?: object }).velero)
      (spec.target as { velero: Record<string, unknown> }).velero = { ...(spec.target as { velero: object }).velero, backup: env.DRILLBOOK_CLOUD_VELERO_BACKUP };
  };

  beforeAll(async () => {
    const config = new k8s.KubeConfig();
    config.loadFromFile(env.KUBECONFIG!);
    config.setCurrentContext(env.DRILLBOOK_CLOUD_K8S_CONTEXT!);
    const namespace = await config.makeApiClient(k8s.CoreV1Api).readNamespace({ name: 'orders' });
    if (namespace.metadata?.labels?.['drillbook.dev/drill'] !== 'true') throw new Error('namespace orders is not labelled drillbook.dev/drill=true: the cloud suite drills only resources marked for drills');
  });

  afterAll(async () => {
    expect(await sweep()).toEqual([]);
  }, 30 * 60_000);

  it('checkout-k8s-failover.yaml: pod-delete, RTO from the client', async () => {
    const { record } = await runSample('checkout-k8s-failover.yaml', adapt);
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(record.teardown.complete).toBe(true);
  }, 20 * 60_000);

  it('checkout-k8s-restore.yaml: Velero restore into a scratch namespace, deleted and verified', async () => {
    const { record } = await runSample('checkout-k8s-restore.yaml', adapt);
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(record.restoredCopy?.deletion?.verification.every((v) => v.passed)).toBe(true);
    expect(record.teardown.complete).toBe(true);
  }, 70 * 60_000);
});
