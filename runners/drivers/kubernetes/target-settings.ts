/** What the Kubernetes driver reads from the scenario's target: the cluster, its faults. */
import path from 'node:path';
import { parseDuration } from '../../../scenarios/duration.js';
import type { LoadedScenario } from '../../../scenarios/load.js';
import type { Fault } from '../../../scenarios/schema.js';
import type { KubernetesFault, KubernetesTarget } from '../../../scenarios/schema-kubernetes.js';
import { driverFault } from '../../faults/registry.js';
import type { ClusterRef } from './client.js';

export const ms = (text: string) => parseDuration(text) ?? 0;

export function kubernetesTarget(loaded: LoadedScenario): KubernetesTarget {
  return loaded.scenario.spec.target as KubernetesTarget;
}

export function isKubernetesFault(fault: Fault): fault is Fault & KubernetesFault {
  return driverFault('kubernetes', fault.type) !== undefined;
}

export function clusterRefOf(loaded: LoadedScenario): ClusterRef {
  const target = kubernetesTarget(loaded);
  return {
    kubeconfig: target.kubeconfig ? path.resolve(path.dirname(loaded.file), target.kubeconfig) : null,
    context: target.context ?? null,
  };
}
