/**
 * What the Kubernetes faults share: pod references, live pod listing, selectors as strings,
 * the deny-all NetworkPolicy. Each fault is its own module in runners/faults/; the
 * blast-radius check is in blast-radius.ts.
 */
import type * as k8s from '@kubernetes/client-node';
import type { KubernetesFault } from '../../../scenarios/schema-kubernetes.js';
import { api, type ClusterRef, type KubeClients } from './client.js';
import { matchesSelector, parseSelector, type StructuredSelector } from './selector.js';

export interface PodRef {
  namespace: string;
  name: string;
  ready: boolean;
  /** Tells the pod from a replacement of the same name (StatefulSets reuse names). */
  uid?: string;
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

export function podRef(pod: k8s.V1Pod): PodRef {
  return { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', ready: isPodReady(pod), ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) };
}

export const live = (pod: k8s.V1Pod) => !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';

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
