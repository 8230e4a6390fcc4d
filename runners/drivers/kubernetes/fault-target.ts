/** What a Kubernetes fault may act on (runners/faults/*.ts with driver 'kubernetes'). */
import type * as k8s from '@kubernetes/client-node';
import type { KubernetesFault, KubernetesTarget } from '../../../scenarios/schema-kubernetes.js';
import type { ScenarioSpec } from '../../../scenarios/schema.js';
import type { RunContext } from '../../context.js';
import type { FaultEffect } from '../types.js';
import { faultSchema } from '../../faults/schema.js';
import type { FaultModule, PermissionSet } from '../../faults/types.js';
import type { ClusterRef, KubeClients } from './client.js';
import type { FaultResolution, PodRef } from './faults.js';

export interface KubernetesFaultTarget {
  clients: KubeClients;
  cluster: ClusterRef;
  /** Resolved again right before the injection; not refused. */
  resolution: FaultResolution;
  /** The fault's index in spec.faults (names what it creates). */
  index: number;
  readyTimeoutMs: number;
  /** target.probe with its {namespace} filled in (the default canary of network-partition). */
  probe: { url: string; expectStatus: number } | undefined;
  /** The scenario's probe timeout and interval (ms), for a fault's own probing. */
  probeTimeoutMs: number;
  probeIntervalMs: number;
  /** A fault with a duration is reverted by its own undo, early; the journal entry is then settled. */
  revertAfter(duration: string | undefined, undoId: number, type: string, params: Record<string, unknown>, note: string): Pick<FaultEffect, 'ended'>;
  /** Evicts through the Eviction API (PodDisruptionBudgets honoured); returns the pods evicted. */
  evict(pods: PodRef[], timeoutMs: number, ctx: RunContext): Promise<PodRef[]>;
  /**
   * Waits until each pod no longer takes traffic: gone, or listed as ready in no EndpointSlice
   * of its namespace. A deleted pod keeps serving through its grace period until the endpoints
   * controller (asynchronously) takes it out; only then has the fault disrupted anything.
   */
  awaitOutOfService(pods: PodRef[], timeoutMs: number, ctx: RunContext): Promise<void>;
  /** Waits until each pod is gone (its grace period over), as `kubectl drain` does. */
  awaitGone(pods: PodRef[], timeoutMs: number, ctx: RunContext): Promise<void>;
}

export interface KubernetesPlanEnv {
  /** target.namespace, the default of the fault's own. */
  namespace: string | undefined;
  /** What the plan says the fault touches (the cluster). */
  touches: string;
}

/** Read-only resolution of what the fault would touch, against the live cluster. */
export interface KubernetesResolveEnv {
  clients: KubeClients;
  namespace: string;
  matchedPods: k8s.V1Pod[];
  matchedNames: Set<string>;
  resolution: FaultResolution;
  /** The first reason wins; the fault is then refused before any change. */
  refuse(why: string): void;
  /** `selector in namespace ns`, for messages. */
  scope: string;
}

/** What a Kubernetes fault's validate sees: the target and the drill around it (its type and recovery). */
export interface KubernetesValidateSettings {
  target: KubernetesTarget;
  spec: ScenarioSpec;
}

export interface KubernetesFaultModule<F extends KubernetesFault = KubernetesFault> extends FaultModule<F, KubernetesFaultTarget, KubernetesPlanEnv, KubernetesValidateSettings> {
  driver: 'kubernetes';
  rbac: PermissionSet;
  resolve(fault: F, env: KubernetesResolveEnv): Promise<void> | void;
}

/** What every Kubernetes fault module starts with: its type, driver, schema and the RBAC it needs. */
export function kubernetesFault<T extends KubernetesFault['type']>(type: T, rbac: PermissionSet) {
  return { type, driver: 'kubernetes' as const, schema: faultSchema(type), rbac };
}

/** The namespace, blast radius and timed revert of a fault, as the plan states them. */
export function blastRadiusText(fault: KubernetesFault, namespace: string | undefined): { ns: string; radius: string; revert: string } {
  const ns = fault.namespace ?? namespace ?? '(namespace?)';
  const radius = [fault.maxPods !== undefined ? `maxPods ${fault.maxPods}` : '', fault.maxPercent !== undefined ? `maxPercent ${fault.maxPercent}` : ''].filter(Boolean).join(', ');
  const revert = 'duration' in fault && fault.duration ? `, reverted after ${fault.duration}` : '';
  return { ns, radius, revert };
}
