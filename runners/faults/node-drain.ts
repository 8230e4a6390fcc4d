/** `node-drain`: cordon a node and evict its pods through the Eviction API; the undo uncordons it. */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import { parseDuration } from '../../scenarios/duration.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { live, podRef } from '../drivers/kubernetes/faults.js';
import { clusterGrant, nsGrant } from './types.js';
import { faultSchema } from './schema.js';

type NodeDrainFault = Extract<KubernetesFault, { type: 'node-drain' }>;

export const nodeDrainFault: KubernetesFaultModule<NodeDrainFault> = {
  type: 'node-drain',
  driver: 'kubernetes',
  schema: faultSchema('node-drain'),
  rbac: {
    why:
      'cordon the node (patch spec.unschedulable) and uncordon it as the undo; list the pods on the node (in every ' +
      'namespace, so that a pod outside the blast radius stops the drain before anything changes) and evict the ones ' +
      'in the declared namespace through the Eviction API, which honours PodDisruptionBudgets',
    grants: [
      clusterGrant('', 'nodes', ['get', 'list', 'patch']),
      clusterGrant('', 'pods', ['get', 'list']),
      nsGrant('', 'pods/eviction', ['create']),
      nsGrant('policy', 'poddisruptionbudgets', ['get', 'list']),
    ],
  },
  plan(fault, { namespace, touches }) {
    const { ns, radius, revert } = blastRadiusText(fault, namespace);
    return {
      action: `cordon node ${fault.node} and evict its pods, honouring PodDisruptionBudgets (only pods ${fault.selector} in ${ns}; blast radius ${radius}${revert})`,
      touches,
      undo: 'uncordon the node',
    };
  },
  async resolve(fault, { clients, matchedNames, resolution, refuse, scope }) {
    const node = await api(`reading node ${fault.node}`, () => clients.core.readNode({ name: fault.node }));
    if (node.spec?.unschedulable) refuse(`node ${fault.node} is already cordoned: drillbook would not know whether to leave it cordoned afterwards`);
    const onNode = await api(`listing pods on node ${fault.node}`, () => clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${fault.node}` }));
    const evictable = onNode.items.filter(live).filter((pod) => {
      // As `kubectl drain` does: DaemonSet pods would come straight back, mirror pods are the kubelet's.
      if (pod.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet')) return false;
      if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) return false;
      return true;
    });
    const outside = evictable.filter((p) => !matchedNames.has(`${p.metadata?.namespace}/${p.metadata?.name}`));
    if (outside.length > 0)
      refuse(
        `draining node ${fault.node} would evict ${outside.length} pod(s) outside the declared blast radius (${scope}): ${outside
          .slice(0, 5)
          .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)
          .join(', ')}${outside.length > 5 ? ', …' : ''}`,
      );
    resolution.detail.node = fault.node;
    resolution.detail.pods = evictable.map(podRef);
    resolution.podsTouched = evictable.length;
    resolution.touches = [`node ${fault.node}: cordoned`, ...evictable.map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}: evicted`)];
  },
  async inject(fault, { ctx, markT0, target }) {
    const { clients, cluster, resolution } = target;
    const node = fault.node;
    const params = { cluster, node };
    const id = ctx.undo.push({ type: 'kubernetes.uncordon', params }, `uncordon node ${node}`);
    markT0(`cordon and drain node ${node}`);
    await api(`cordoning node ${node}`, () => clients.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, clients.mergePatch));
    ctx.record(`node ${node} cordoned`);
    const evicted = await target.evict(resolution.detail.pods ?? [], parseDuration(fault.evictionTimeout) ?? 0, ctx);
    return {
      description: `node ${node} cordoned, ${evicted} pod(s) evicted`,
      // A drain that honours PodDisruptionBudgets is meant to cause no client-visible outage:
      // the evictions the API accepted are the fault's own evidence that it took effect.
      ...(evicted > 0 ? { observed: `${evicted} pod(s) evicted from node ${node} (evictions accepted by the API)` } : {}),
      ...target.revertAfter(fault.duration, id, 'kubernetes.uncordon', params, 'uncordoned'),
    };
  },
};
