/**
 * What a real cluster does that the first fake did not (issue 14, findings 1, 3, 8, 9): the
 * fake now deletes pods gracefully (Terminating pods keep serving), removes endpoints
 * asynchronously, closes watches, answers 410 Gone and ignores NetworkPolicies when its "CNI"
 * does not enforce them. Each test here failed on the code before the fix.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type * as k8s from '@kubernetes/client-node';
import { runDrill } from '../../../runners/engine.js';
import { connectCluster } from '../../../runners/drivers/kubernetes/client.js';
import { ObjectWatch } from '../../../runners/drivers/kubernetes/watch.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadScenario } from '../../../scenarios/load.js';
import { scenarioChecks } from '../../../runners/registry.js';
import { loadForRun } from '../../helpers/drill-files.js';
import { eventually, expectShopRestored, FAULTS, failoverScenario, useShopPerTest } from './setup.js';

const shops = useShopPerTest('drillbook-k8s-real-');
const { start } = shops;
const run = async (file: string) => runDrill(await loadForRun(file), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });

describe('finding 1: graceful deletion, asynchronous endpoints', () => {
  it('does not count the Terminating pods still serving as recovery: the RTO covers the whole outage', async () => {
    // Pods keep serving for 3 s after the DELETE; the endpoints controller drops them after
    // 400 ms; replacements are ready after 800 ms and in the endpoints 400 ms later.
    const s = await start({ terminationGraceMs: 3_000, endpointDelayMs: 400, readyDelayMs: 800 });
    let deletedAt = 0;
    s.api.onMutation = (r) => {
      if (!deletedAt && r.method === 'DELETE') deletedAt = performance.now();
    };
    const result = await run(failoverScenario(s, 'graceful', FAULTS['pod-delete']));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    // Ground truth from the fake: the app was down from the endpoint removal until the replacements were in.
    const after = s.api.appTransitions.filter((t) => t.at >= deletedAt);
    const down = after.find((t) => !t.healthy);
    const up = after.find((t) => t.healthy && t.at > (down?.at ?? Infinity));
    expect(down && up, JSON.stringify(after)).toBeTruthy();
    const rto = result.record.measured.rto!;
    const outageEnd = (up!.at - deletedAt) / 1000;
    expect(rto.seconds + rto.errorSeconds).toBeGreaterThanOrEqual(outageEnd - 0.05);
    expect(rto.seconds - rto.errorSeconds).toBeLessThanOrEqual(outageEnd + 1);
    // The wait is on record: the deleted pods left the endpoints before recovery was measured.
    const outOfService = result.record.timeline.find((e) => e.event.includes('deleted pod(s) out of service'));
    expect(outOfService).toBeDefined();
    expectShopRestored(s.api);
  });

  it('deployment-scale: the pods scaled away still serve while Terminating; recovery counts only after they left the endpoints', async () => {
    const s = await start({ terminationGraceMs: 3_000, endpointDelayMs: 400, readyDelayMs: 800 });
    let scaledAt = 0;
    s.api.onMutation = (r) => {
      if (!scaledAt && r.method === 'PATCH') scaledAt = performance.now();
    };
    const result = await run(failoverScenario(s, 'graceful-scale', { ...FAULTS['deployment-scale'], duration: '600ms' }));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const after = s.api.appTransitions.filter((t) => t.at >= scaledAt);
    const down = after.find((t) => !t.healthy);
    const up = after.find((t) => t.healthy && t.at > (down?.at ?? Infinity));
    expect(down && up, JSON.stringify(after)).toBeTruthy();
    const rto = result.record.measured.rto!;
    expect(rto.seconds + rto.errorSeconds).toBeGreaterThanOrEqual((up!.at - scaledAt) / 1000 - 0.05);
    expectShopRestored(s.api);
  });

  it('never asks for gracePeriodSeconds 0 when the grace period is under a second', async () => {
    const s = await start();
    const result = await run(failoverScenario(s, 'short-grace', { ...FAULTS['pod-delete'], gracePeriod: '300ms' }));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const deletes = s.api.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/pods/'));
    expect(deletes.length).toBe(3);
    for (const d of deletes) expect(new URLSearchParams(d.query).get('gracePeriodSeconds')).toBe('1');
  });
});

describe('finding 3: network-partition proves it took effect', () => {
  it('fails, saying so, when the CNI does not enforce the policy (the canary keeps answering)', async () => {
    const s = await start({ networkPolicyEnforced: false });
    const result = await run(failoverScenario(s, 'no-cni', { ...FAULTS['network-partition'], enforcementTimeout: '1s' }));
    expect(result.record.outcome).not.toBe('passed');
    expect(result.record.error).toMatch(/had no observable effect: canary .* still answered 200 after 1s .*CNI enforce NetworkPolicies/);
    expect(result.record.measured.rto).toBeNull();
    expectShopRestored(s.api);
  });

  it('records the canary failing once the policy is enforced (after a delay the API never reports)', async () => {
    const s = await start({ policyDelayMs: 400 });
    const result = await run(failoverScenario(s, 'cni', { ...FAULTS['network-partition'], duration: '1s' }));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const enforced = result.record.timeline.find((e) => e.event.startsWith('partition enforced: canary'));
    const t0 = result.record.timeline.find((e) => e.event.startsWith('T0: '))!;
    expect(enforced).toBeDefined();
    expect(enforced!.mono - t0.mono).toBeGreaterThanOrEqual(350);
    expectShopRestored(s.api);
  });

  it('refuses at validate an egress-only partition without a canary', async () => {
    const s = await start();
    const file = failoverScenario(s, 'egress-no-canary', { type: 'network-partition', selector: 'app=checkout', direction: 'egress', maxPods: 3, duration: '1s' });
    const diagnostics = new Diagnostics();
    expect(await loadScenario(file, diagnostics, { checks: [scenarioChecks] })).toBeFalsy();
    expect(diagnostics.format()).toMatch(/spec\.faults\[0\]\.canary: an egress-only partition leaves inbound requests answered/);
  });
});

describe('finding 8: node-drain as kubectl drain', () => {
  it('evicts other controller-owned pods within maxOtherPods, and waits for the evicted pods to terminate', async () => {
    const s = await start({ terminationGraceMs: 800 });
    s.api.addDeployment('kube-system', 'coredns', 1, { 'k8s-app': 'kube-dns' }, ['node-a']);
    const result = await run(failoverScenario(s, 'drain-coredns', { ...FAULTS['node-drain'], maxOtherPods: 1 }));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const evictions = s.api.requests.filter((r) => r.path.endsWith('/eviction'));
    expect(evictions.some((r) => r.path.startsWith('/api/v1/namespaces/kube-system/pods/coredns-'))).toBe(true);
    // DaemonSet and mirror pods stay.
    expect(s.api.pods.has('kube-system/log-agent-node-a')).toBe(true);
    expect(s.api.pods.has('kube-system/kube-proxy-node-a')).toBe(true);
    // The drain ended only once the evicted pods were gone (their 800 ms grace period).
    const t0 = result.record.timeline.find((e) => e.event.startsWith('T0: '))!;
    const terminated = result.record.timeline.find((e) => e.event.includes('evicted pod(s) terminated'));
    const injected = result.record.timeline.find((e) => e.event.startsWith('fault injected'))!;
    expect(terminated).toBeDefined();
    expect(terminated!.mono - t0.mono).toBeGreaterThanOrEqual(750);
    expect(injected.mono).toBeGreaterThanOrEqual(terminated!.mono);
    expectShopRestored(s.api);
  });

  it('refuses a node with a pod no controller manages unless force: true', async () => {
    const s = await start();
    s.api.addPod('shop', 'debug-shell', { app: 'checkout' }, 'node-a', 'bare');
    const refused = await run(failoverScenario(s, 'drain-bare', { ...FAULTS['node-drain'], maxPods: 3 }));
    expect(refused.record.error).toMatch(/runs 1 pod\(s\) no controller manages \(shop\/debug-shell\).*without force: true/);
    expect(s.api.mutations()).toEqual([]);
    const forced = await run(failoverScenario(s, 'drain-forced', { ...FAULTS['node-drain'], maxPods: 3, force: true }));
    expect(forced.record.outcome, forced.record.error ?? '').toBe('passed');
    expect(s.api.requests.some((r) => r.path === '/api/v1/namespaces/shop/pods/debug-shell/eviction')).toBe(true);
  });
});

describe('finding 9: deployment-scale without duration, watches', () => {
  it('refuses deployment-scale without duration when nothing would scale it back', async () => {
    const s = await start();
    const file = failoverScenario(s, 'scale-forever', { type: 'deployment-scale', selector: 'app=checkout', deployment: 'checkout', replicas: 1, maxPods: 3 });
    const diagnostics = new Diagnostics();
    expect(await loadScenario(file, diagnostics, { checks: [scenarioChecks] })).toBeFalsy();
    expect(diagnostics.format()).toMatch(/spec\.faults\[0\]\.duration: deployment-scale without duration keeps deployment checkout at 1 replicas until teardown/);
  });

  it('watches ask for bookmarks and a timeout, and survive server-side closes', async () => {
    const s = await start();
    const result = await run(failoverScenario(s, 'watch-flags', FAULTS['deployment-scale']));
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const watches = s.api.requests.filter((r) => r.query.includes('watch=true'));
    expect(watches.length).toBeGreaterThan(0);
    for (const w of watches) {
      const q = new URLSearchParams(w.query);
      expect(q.get('allowWatchBookmarks')).toBe('true');
      expect(Number(q.get('timeoutSeconds'))).toBeGreaterThan(0);
    }
  });

  for (const gone410 of ['event', 'http'] as const) {
    const change = gone410 === 'event' ? 'the deployment deleted' : 'the replica count changed';
    it(`lists again after a 410 Gone (${gone410 === 'event' ? 'an ERROR event' : 'HTTP 410'}) and sees ${change} in the gap`, async () => {
      const s = await start({ gone410 });
      const clients = await connectCluster({ kubeconfig: s.kubeconfig, context: null });
      const watch = new ObjectWatch<k8s.V1Deployment>(clients, '/apis/apps/v1/namespaces/shop/deployments', 'checkout');
      await watch.start();
      try {
        await watch.until((d) => (d.status?.readyReplicas ?? 0) === 3, 5_000, AbortSignal.timeout(6_000), 'ready');
        // While no event reaches the watch: its resourceVersion is compacted away, the object
        // changes, and the server closes the stream.
        s.api.compact();
        if (gone410 === 'event') s.api.deployments.delete('shop/checkout');
        else s.api.deployments.get('shop/checkout')!.replicas = 1;
        s.api.closeWatches();
        if (gone410 === 'event') expect(await eventually(() => watch.deleted, 5_000)).toBe(true);
        else await watch.until((d) => d.spec?.replicas === 1, 5_000, AbortSignal.timeout(6_000), 'replicas 1 seen after the 410');
        expect(watch.relists).toBeGreaterThanOrEqual(1);
        // The re-list is a plain GET of the list (the first one was at start).
        expect(s.api.requests.filter((r) => r.path.endsWith('/deployments') && !r.query.includes('watch=true')).length).toBeGreaterThanOrEqual(2);
      } finally {
        watch.stop();
      }
    });
  }
});
