/** `network-partition`: a deny-all NetworkPolicy on the selected pods; the undo deletes it. */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { denyAllPolicy, networkPolicyName } from '../drivers/kubernetes/faults.js';
import { faultSchema } from './schema.js';
import { nsGrant } from './types.js';

type NetworkPartitionFault = Extract<KubernetesFault, { type: 'network-partition' }>;

const denied = (direction: NetworkPartitionFault['direction']) => (direction === 'both' ? 'ingress and egress' : direction);

export const networkPartitionFault: KubernetesFaultModule<NetworkPartitionFault> = {
  type: 'network-partition',
  driver: 'kubernetes',
  schema: faultSchema('network-partition'),
  rbac: {
    why: 'create the deny NetworkPolicy on the selected pods and delete it as the undo',
    grants: [nsGrant('networking.k8s.io', 'networkpolicies', ['get', 'list', 'create', 'delete'])],
  },
  plan(fault, { namespace, touches }) {
    const { ns, radius, revert } = blastRadiusText(fault, namespace);
    return {
      action: `deny-all NetworkPolicy (${fault.direction}) on pods ${fault.selector} in ${ns} (blast radius ${radius}${revert})`,
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
    const id = ctx.undo.push({ type: 'kubernetes.delete-network-policy', params }, `delete NetworkPolicy ${namespace}/${name}`);
    markT0(`deny-all NetworkPolicy ${name} on pods ${fault.selector} in ${namespace}`);
    await api(`creating NetworkPolicy ${namespace}/${name}`, () => clients.networking.createNamespacedNetworkPolicy({ namespace, body: denyAllPolicy(name, ctx.runId, fault.selector, fault.direction) }));
    return {
      description: `NetworkPolicy ${namespace}/${name} denies ${denied(fault.direction)} of ${resolution.podsTouched} pod(s) ${fault.selector}`,
      ...target.revertAfter(fault.duration, id, 'kubernetes.delete-network-policy', params, 'policy deleted'),
    };
  },
};
