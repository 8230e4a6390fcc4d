/**
 * The fault contract. A fault is one module (runners/faults/<type>.ts) plus one entry in
 * runners/faults/registry.ts: its scenario schema, its plan text, its injection (which
 * journals its undo before it changes anything), and the Kubernetes RBAC rules or IAM
 * actions it needs, from which infra/ derives the runner's permissions.
 *
 * A fault acts on one driver's target; what the injection may touch is that driver's
 * `FaultTarget` (process ids for postgres, API clients for RDS and Kubernetes), defined next
 * to the driver, so a fault never reaches into a driver session's private state.
 */
import type { z } from 'zod';
import type { Reporter } from '../../scenarios/load.js';
import type { Fault } from '../../scenarios/schema.js';
import type { Instant } from '../clock.js';
import type { RunContext } from '../context.js';
import type { FaultEffect, PlanItem } from '../drivers/types.js';

export type DriverName = 'postgres' | 'rds' | 'kubernetes';

/** One Kubernetes RBAC grant; '' is the core API group. */
export interface Grant {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  scope: 'namespace' | 'cluster';
}

export interface PermissionSet {
  /** Why these permissions exist, for docs and the `permissions` stack output. */
  why: string;
  grants: readonly Grant[];
}

export const nsGrant = (apiGroup: string, resource: string, verbs: string[]): Grant => ({ apiGroup, resource, verbs, scope: 'namespace' });
export const clusterGrant = (apiGroup: string, resource: string, verbs: string[]): Grant => ({ apiGroup, resource, verbs, scope: 'cluster' });

/** What an injection gets: the run, the T0 marker and the driver's fault target. */
export interface InjectEnv<Target> {
  ctx: RunContext;
  /** Call at the disruptive instant (after the undo is journaled, before the change). */
  markT0(action: string): Instant;
  target: Target;
}

/** Validation of one fault beyond its schema, with the driver's settings at hand. */
export interface FaultValidateEnv<Settings> {
  settings: Settings;
  report: Reporter;
  /** The located path of this fault: `at('type')` → spec.faults[i].type. */
  at(...path: (string | number)[]): (string | number)[];
}

export interface FaultModule<F extends Fault = Fault, Target = unknown, PlanEnv = unknown, Settings = unknown> {
  type: F['type'];
  driver: DriverName;
  /** The fault's shape in spec.faults (zod; JSON Schema for `drillbook schema` comes from it). */
  schema: z.ZodType;
  /** Checks that need the driver's settings (the schema checked the fault's own shape). */
  validate?(fault: F, env: FaultValidateEnv<Settings>): void;
  plan(fault: F, env: PlanEnv): PlanItem;
  /** Steady-state facts the fault needs before T0 (throws when they do not hold: nothing is disrupted). */
  preconditions?(fault: F, target: Target): string[];
  /**
   * Checks before T0 that need the network (e.g. that local processes belong to the server
   * behind the endpoint), run at steady state before heartbeats start so they add no gap
   * before T0; `inject` then only re-checks what may have changed. Returns facts for the evidence.
   */
  prepare?(fault: F, target: Target): Promise<string[]>;
  /** Journals the undo first (ctx.undo.push), then calls markT0 and makes the change. */
  inject(fault: F, env: InjectEnv<Target>): Promise<FaultEffect>;
  /** Kubernetes faults: the RBAC the runner's ServiceAccount needs (infra/rbac.ts). */
  rbac?: PermissionSet;
  /** RDS faults: the mutating IAM actions the fault and its undo call (infra/iam.ts). */
  iam?: readonly string[];
}
