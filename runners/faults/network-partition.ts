/**
 * `network-partition`: a deny-all NetworkPolicy on the selected pods; the undo deletes it.
 *
 * A NetworkPolicy does nothing without a CNI that enforces it, the API never says when it
 * takes effect, and traffic from the node (kubelet probes) is always allowed — so readiness
 * never shows it. The fault therefore proves enforcement itself: after creating the policy it
 * probes a canary (default target.probe) until the canary fails; if it still answers after
 * `enforcementTimeout`, the partition had no observable effect and the drill fails saying so
 * (the policy is deleted by the undo as always).
 */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import { parseDuration } from '../../scenarios/duration.js';
import { sleep } from '../clock.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, kubernetesFault, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { denyAllPolicy, networkPolicyName } from '../drivers/kubernetes/faults.js';
import { httpProbe } from '../probes/http.js';
import { nsGrant } from './types.js';

type NetworkPartitionFault = Extract<KubernetesFault, { type: 'network-partition' }>;

const denied = (direction: NetworkPartitionFault['direction']) => (direction === 'both' ? 'ingress and egress' : direction);

/** Thrown when the canary kept answering: the CNI did not enforce the policy (or not in time). */
export class PartitionNotEnforcedError extends Error {}

export const networkPartitionFault: KubernetesFaultModule<NetworkPartitionFault> = {
  ...kubernetesFault('network-partition', {
    why: 'create the deny NetworkPolicy on the selected pods and delete it as the undo',
    grants: [nsGrant('networking.k8s.io', 'networkpolicies', ['get', 'list', 'create', 'delete'])],
  }),
  validate(fault, { settings: { target }, report, at }) {
    if (fault.direction === 'egress' && !fault.canary)
      report(
        at('canary'),
        'an egress-only partition leaves inbound requests answered, so target.probe cannot show it took effect: declare a canary whose answer needs the pods’ egress (e.g. an endpoint that calls a dependency)',
      );
    else if (!fault.canary && !target.probe)
      report(at('canary'), 'network-partition needs a canary (or target.probe) that must start failing once the policy exists: a NetworkPolicy does nothing without a CNI that enforces it');
  },
  plan(fault, { namespace, touches }) {
    const { ns, radius, revert } = blastRadiusText(fault, namespace);
    return {
      action: `deny-all NetworkPolicy (${fault.direction}) on pods ${fault.selector} in ${ns} (blast radius ${radius}${revert}); then probe ${fault.canary ? fault.canary.url : 'target.probe'} until it fails (proof the CNI enforces it) within ${fault.enforcementTimeout}`,
      touches,
      undo: 'delete the NetworkPolicy (only if it carries this run’s label)',
    };
  },
  resolve(fault, { resolution }) {
    resolution.detail.pods = resolution.matched;
    resolution.podsTouched = resolution.matched.length;
    resolution.touches = resolution.matched.map((p) => `pod ${p.namespace}/${p.name}: ${denied(fault.direction)} denied`);
  },
  async inject(fault, { ctx, markT0, target }) {
    const { clients, cluster, resolution, index } = target;
    const namespace = resolution.namespace;
    const name = networkPolicyName(ctx.runId, index);
    const params = { cluster, namespace, name, runId: ctx.runId };
    const canary = fault.canary ? { url: fault.canary.url.replaceAll('{namespace}', namespace), expectStatus: fault.canary.expectStatus } : target.probe;
    if (!canary) throw new Error('network-partition needs a canary or target.probe to prove the partition took effect');
    const id = ctx.undo.push({ type: 'kubernetes.delete-network-policy', params }, `delete NetworkPolicy ${namespace}/${name}`);
    markT0(`deny-all NetworkPolicy ${name} on pods ${fault.selector} in ${namespace}`);
    await api(`creating NetworkPolicy ${namespace}/${name}`, () => clients.networking.createNamespacedNetworkPolicy({ namespace, body: denyAllPolicy(name, ctx.runId, fault.selector, fault.direction) }));
    // Enforcement is the CNI's and is never reported: the canary must start failing.
    const started = ctx.clock.elapsed();
    const timeoutMs = parseDuration(fault.enforcementTimeout) ?? 30_000;
    let enforced = '';
    for (let attempt = 1; ; attempt++) {
      ctx.signal.throwIfAborted();
      const failure = await httpProbe
        .check({ url: canary.url, status: canary.expectStatus }, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(target.probeTimeoutMs)]), timeoutMs: target.probeTimeoutMs, baseDir: '.', addSecret: ctx.addSecret })
        .then(
          () => null,
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
      if (failure !== null) {
        enforced = `canary ${canary.url} failed ${Math.round(ctx.clock.elapsed() - started)} ms after the policy was created (${failure})`;
        ctx.record(`partition enforced: ${enforced}`, { attempts: attempt });
        break;
      }
      if (ctx.clock.elapsed() - started > timeoutMs)
        throw new PartitionNotEnforcedError(
          `NetworkPolicy ${namespace}/${name} had no observable effect: canary ${canary.url} still answered ${canary.expectStatus} after ${fault.enforcementTimeout} (${attempt} attempts) — does the cluster's CNI enforce NetworkPolicies?`,
        );
      await sleep(Math.min(target.probeIntervalMs, 500), ctx.signal);
    }
    return {
      description: `NetworkPolicy ${namespace}/${name} denies ${denied(fault.direction)} of ${resolution.podsTouched} pod(s) ${fault.selector} (enforcement confirmed by the canary)`,
      // The canary failing is the fault's own proof of effect, also when target.probe never sees it (egress).
      observed: `partition enforced: ${enforced}`,
      ...target.revertAfter(fault.duration, id, 'kubernetes.delete-network-policy', params, 'policy deleted'),
    };
  },
};
