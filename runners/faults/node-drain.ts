/**
 * `node-drain`: cordon a node and evict its pods through the Eviction API, as `kubectl drain`
 * does; the undo uncordons it.
 *
 * Like `kubectl drain`: DaemonSet pods (they would come straight back) and mirror pods (the
 * kubelet's) are left alone, finished pods are ignored, a pod no controller manages is
 * refused unless `force: true` (it would be lost for good), and the drain waits until the
 * evicted pods have terminated. The blast radius (`maxPods`, `maxPercent`) counts the pods of
 * namespace + selector; the drain evicts every other evictable pod on the node too, so those
 * are counted apart and refused beyond `maxOtherPods` (default 0: a node that runs anything
 * else is refused until the scenario says how much collateral it accepts). A node that runs
 * drillbook itself is always refused: the drain would evict the run.
 */
import os from 'node:os';
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import { parseDuration } from '../../scenarios/duration.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, kubernetesFault, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { podRef } from '../drivers/kubernetes/faults.js';
import { clusterGrant, nsGrant } from './types.js';

type NodeDrainFault = Extract<KubernetesFault, { type: 'node-drain' }>;

const names = (pods: { metadata?: { namespace?: string; name?: string } }[]) =>
  `${pods
    .slice(0, 5)
    .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)
    .join(', ')}${pods.length > 5 ? ', …' : ''}`;

export const nodeDrainFault: KubernetesFaultModule<NodeDrainFault> = {
  ...kubernetesFault('node-drain', {
    why:
      'cordon the node (patch spec.unschedulable) and uncordon it as the undo; list the pods on the node (in every ' +
      'namespace: the drain evicts them all, so those outside the blast radius are counted against maxOtherPods before ' +
      'anything changes), evict them through the Eviction API, which honours PodDisruptionBudgets, and watch them terminate',
    grants: [
      clusterGrant('', 'nodes', ['get', 'list', 'patch']),
      clusterGrant('', 'pods', ['get', 'list']),
      // Namespaced: a scheduled drain evicts in its declared namespace; evicting others
      // (maxOtherPods) needs pods/eviction granted in their namespaces by hand.
      nsGrant('', 'pods/eviction', ['create']),
      nsGrant('policy', 'poddisruptionbudgets', ['get', 'list']),
    ],
  }),
  plan(fault, { namespace, touches }) {
    const { ns, radius, revert } = blastRadiusText(fault, namespace);
    return {
      action: `cordon node ${fault.node} and evict its pods as kubectl drain does, honouring PodDisruptionBudgets, and wait for them to terminate (pods ${fault.selector} in ${ns}: blast radius ${radius}; at most ${fault.maxOtherPods} other pod(s)${fault.force ? '; pods without a controller too (force)' : ''}${revert})`,
      touches,
      undo: 'uncordon the node',
    };
  },
  async resolve(fault, { clients, matchedNames, resolution, refuse }) {
    const node = await api(`reading node ${fault.node}`, () => clients.core.readNode({ name: fault.node }));
    if (node.spec?.unschedulable) refuse(`node ${fault.node} is already cordoned: drillbook would not know whether to leave it cordoned afterwards`);
    const onNode = await api(`listing pods on node ${fault.node}`, () => clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${fault.node}` }));
    const evictable = onNode.items.filter((pod) => {
      if (pod.metadata?.deletionTimestamp) return false; // already on its way out
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false; // finished: nothing to disrupt
      if (pod.metadata?.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet')) return false;
      if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) return false;
      return true;
    });
    // Running in the cluster, drillbook's own pod is named after the host.
    if (process.env.KUBERNETES_SERVICE_HOST) {
      const self = evictable.find((p) => p.metadata?.name === os.hostname());
      if (self) refuse(`drillbook itself runs on node ${fault.node} (pod ${self.metadata?.namespace}/${self.metadata?.name}): draining it would evict this run; schedule the drillbook Job away from the node`);
    }
    const unmanaged = evictable.filter((p) => !p.metadata?.ownerReferences?.some((o) => o.controller));
    if (unmanaged.length > 0 && !fault.force)
      refuse(`node ${fault.node} runs ${unmanaged.length} pod(s) no controller manages (${names(unmanaged)}): evicted, they are lost for good; kubectl drain refuses them without --force, and so does drillbook without force: true`);
    const selected = evictable.filter((p) => matchedNames.has(`${p.metadata?.namespace}/${p.metadata?.name}`));
    const others = evictable.filter((p) => !matchedNames.has(`${p.metadata?.namespace}/${p.metadata?.name}`));
    if (others.length > fault.maxOtherPods)
      refuse(
        `draining node ${fault.node} would also evict ${others.length} pod(s) outside ${fault.selector} (${names(others)}), more than maxOtherPods ${fault.maxOtherPods}: declare maxOtherPods to accept them, or pick a node that runs fewer`,
      );
    resolution.detail.node = fault.node;
    resolution.detail.pods = evictable.map(podRef);
    resolution.podsTouched = selected.length;
    resolution.touches = [
      `node ${fault.node}: cordoned`,
      ...selected.map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}: evicted`),
      ...others.map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}: evicted (outside the selector; counted against maxOtherPods)`),
    ];
  },
  async inject(fault, { ctx, markT0, target }) {
    const { clients, cluster, resolution } = target;
    const node = fault.node;
    const params = { cluster, node };
    const id = ctx.undo.push({ type: 'kubernetes.uncordon', params }, `uncordon node ${node}`);
    markT0(`cordon and drain node ${node}`);
    await api(`cordoning node ${node}`, () => clients.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, clients.mergePatch));
    ctx.record(`node ${node} cordoned`);
    const timeoutMs = parseDuration(fault.evictionTimeout) ?? 0;
    const evicted = await target.evict(resolution.detail.pods ?? [], timeoutMs, ctx);
    // As kubectl drain: the drain is done when the evicted pods have terminated (their grace period).
    await target.awaitGone(evicted, timeoutMs, ctx);
    return {
      description: `node ${node} cordoned, ${evicted.length} pod(s) evicted and terminated`,
      // A drain that honours PodDisruptionBudgets is meant to cause no client-visible outage:
      // the evictions the API accepted are the fault's own evidence that it took effect.
      ...(evicted.length > 0 ? { observed: `${evicted.length} pod(s) evicted from node ${node} and terminated (evictions accepted by the API)` } : {}),
      ...target.revertAfter(fault.duration, id, 'kubernetes.uncordon', params, 'uncordoned'),
    };
  },
};
