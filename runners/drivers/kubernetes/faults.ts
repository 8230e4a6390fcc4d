/**
 * The Kubernetes faults: what each would touch (resolved live, read-only), the blast-radius
 * check that refuses a selection larger than declared *before* any mutating call, and the
 * injection itself, which journals its undo first.
 */
import type * as k8s from '@kubernetes/client-node';
import type { KubernetesFault } from '../../../scenarios/schema-kubernetes.js';
import { api, type ClusterRef, type KubeClients } from './client.js';
import { matchesSelector, parseSelector, type StructuredSelector } from './selector.js';

export interface PodRef {
  namespace: string;
  name: string;
  ready: boolean;
}

export interface FaultResolution {
  fault: KubernetesFault;
  namespace: string;
  /** Pods the declared namespace + selector match now: the population the blast radius is measured against. */
  matched: PodRef[];
  /** What the fault would disrupt, one line each (pods, nodes, deployments). */
  touches: string[];
  /** How many pods it would disrupt (compared with maxPods / maxPercent). */
  podsTouched: number;
  /** Why it must not run; set when the selection breaks the declared blast radius or a safety rule. */
  refusal: string | null;
  /** Type-specific facts the injection needs (previous replica count, pods to evict, …). */
  detail: {
    pods?: PodRef[];
    previousReplicas?: number;
    node?: string;
  };
}

export function isPodReady(pod: k8s.V1Pod): boolean {
  return Boolean(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

function podRef(pod: k8s.V1Pod): PodRef {
  return { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', ready: isPodReady(pod) };
}

const live = (pod: k8s.V1Pod) => !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

export function selectorToString(selector: StructuredSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) {
    if (r.operator === 'In') parts.push(`${r.key} in (${(r.values ?? []).join(',')})`);
    if (r.operator === 'NotIn') parts.push(`${r.key} notin (${(r.values ?? []).join(',')})`);
    if (r.operator === 'Exists') parts.push(r.key);
    if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
  }
  return parts.join(',');
}

export async function listPods(clients: KubeClients, namespace: string, selector: string): Promise<k8s.V1Pod[]> {
  const list = await api(`listing pods ${selector} in namespace ${namespace}`, () => clients.core.listNamespacedPod({ namespace, labelSelector: selector }));
  return list.items.filter(live);
}

/** Resolves what the fault would touch, read-only, and whether the blast radius allows it. */
export async function resolveFault(clients: KubeClients, fault: KubernetesFault, defaultNamespace: string | undefined): Promise<FaultResolution> {
  const namespace = fault.namespace ?? defaultNamespace;
  if (!namespace) throw new Error(`${fault.type}: no namespace (set the fault's namespace or target.namespace)`);
  parseSelector(fault.selector); // a bad selector is an error before any call
  const matchedPods = await listPods(clients, namespace, fault.selector);
  const matched = matchedPods.map(podRef);
  const matchedNames = new Set(matched.map((p) => `${p.namespace}/${p.name}`));
  const resolution: FaultResolution = { fault, namespace, matched, touches: [], podsTouched: 0, refusal: null, detail: {} };
  const refuse = (why: string) => {
    resolution.refusal ??= why;
  };
  const scope = `${fault.selector} in namespace ${namespace}`;

  switch (fault.type) {
    case 'pod-delete': {
      const chosen = [...matchedPods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')).slice(0, fault.count ?? matchedPods.length);
      for (const pod of chosen) {
        // A pod without a controller is never re-created: deleting it cannot be undone.
        if (!pod.metadata?.ownerReferences?.some((o) => o.controller)) refuse(`pod ${namespace}/${pod.metadata?.name} has no controller (Deployment, StatefulSet, …): deleting it could not be undone`);
      }
      resolution.detail.pods = chosen.map(podRef);
      resolution.podsTouched = chosen.length;
      resolution.touches = chosen.map((p) => `pod ${namespace}/${p.metadata?.name}`);
      if (fault.count !== undefined && fault.count > matchedPods.length) refuse(`count ${fault.count} is more than the ${matchedPods.length} pods ${scope} matches`);
      break;
    }
    case 'deployment-scale': {
      const deployment = await api(`reading deployment ${namespace}/${fault.deployment}`, () => clients.apps.readNamespacedDeployment({ name: fault.deployment, namespace }));
      const scale = await api(`reading the scale of deployment ${namespace}/${fault.deployment}`, () => clients.apps.readNamespacedDeploymentScale({ name: fault.deployment, namespace }));
      const previous = scale.spec?.replicas ?? deployment.spec?.replicas ?? 0;
      resolution.detail.previousReplicas = previous;
      const ownSelector = selectorToString((deployment.spec?.selector ?? {}) as StructuredSelector);
      const ownPods = ownSelector ? await listPods(clients, namespace, ownSelector) : [];
      const outside = ownPods.filter((p) => !matchedNames.has(`${namespace}/${p.metadata?.name}`));
      if (outside.length > 0) refuse(`deployment ${fault.deployment} runs pods outside the declared selector ${fault.selector}: ${outside.map((p) => p.metadata?.name).join(', ')}`);
      resolution.podsTouched = Math.max(0, previous - fault.replicas);
      resolution.touches = [`deployment ${namespace}/${fault.deployment}: ${previous} → ${fault.replicas} replicas (${resolution.podsTouched} pods removed)`];
      break;
    }
    case 'node-drain': {
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
        refuse(`draining node ${fault.node} would evict ${outside.length} pod(s) outside the declared blast radius (${scope}): ${outside.slice(0, 5).map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).join(', ')}${outside.length > 5 ? ', …' : ''}`);
      resolution.detail.node = fault.node;
      resolution.detail.pods = evictable.map(podRef);
      resolution.podsTouched = evictable.length;
      resolution.touches = [`node ${fault.node}: cordoned`, ...evictable.map((p) => `pod ${p.metadata?.namespace}/${p.metadata?.name}: evicted`)];
      break;
    }
    case 'network-partition': {
      resolution.detail.pods = matched;
      resolution.podsTouched = matched.length;
      resolution.touches = matched.map((p) => `pod ${p.namespace}/${p.name}: ${fault.direction === 'both' ? 'ingress and egress' : fault.direction} denied`);
      break;
    }
  }

  if (matched.length === 0) refuse(`the selector ${scope} matches no pods: there is nothing to drill`);
  if (fault.maxPods !== undefined && resolution.podsTouched > fault.maxPods)
    refuse(`it would touch ${resolution.podsTouched} pods (${scope}), more than its blast radius maxPods ${fault.maxPods}`);
  if (fault.maxPercent !== undefined && matched.length > 0) {
    const percent = (resolution.podsTouched / matched.length) * 100;
    if (percent > fault.maxPercent)
      refuse(`it would touch ${resolution.podsTouched} of the ${matched.length} pods ${scope} matches (${Math.round(percent)} %), more than its blast radius maxPercent ${fault.maxPercent}`);
  }
  return resolution;
}

export function networkPolicyName(runId: string, index: number): string {
  return `drillbook-partition-${runId.slice(0, 8)}-${index}`;
}

export const RUN_LABEL = 'drillbook.dev/run-id';

export function denyAllPolicy(name: string, runId: string, selector: string, direction: 'ingress' | 'egress' | 'both'): k8s.V1NetworkPolicy {
  const policyTypes = direction === 'both' ? ['Ingress', 'Egress'] : direction === 'ingress' ? ['Ingress'] : ['Egress'];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, labels: { [RUN_LABEL]: runId, 'app.kubernetes.io/managed-by': 'drillbook' } },
    // No ingress/egress rules with these policyTypes: everything in those directions is denied.
    spec: { podSelector: parseSelector(selector), policyTypes, ingress: [], egress: [] },
  };
}

export { matchesSelector, type ClusterRef };
