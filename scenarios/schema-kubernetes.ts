/**
 * The Kubernetes driver's part of the Scenario language: its target settings and its faults.
 *
 * Every fault declares its blast radius — a namespace, a label selector and `maxPods` or
 * `maxPercent` (of the pods that selector matches) — and the driver counts what it would
 * touch before its first mutating call, refusing when that is more than declared.
 */
import { z } from 'zod';
import { Duration, Timeout } from './primitives.js';

const K8sName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a Kubernetes object name (lowercase a-z, 0-9, - and .)');

const LabelSelector = z
  .string()
  .min(1, 'a label selector is required (e.g. app=checkout): an empty selector would match every pod')
  .describe('Label selector, as kubectl -l takes it (app=checkout,tier in (web))');

const HttpProbe = z.strictObject({
  url: z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').describe('GET this URL; `{namespace}` is replaced by the namespace probed'),
  expectStatus: z.number().int().min(100).max(599).default(200),
});

export const KubernetesTarget = z.strictObject({
  driver: z.literal('kubernetes'),
  kubeconfig: z.string().optional().describe('Kubeconfig file, relative to the scenario; default: $KUBECONFIG, ~/.kube/config or in-cluster'),
  context: z.string().optional().describe('Kubeconfig context; default: its current context'),
  namespace: K8sName.optional().describe('Namespace of the workload (and default of the faults)'),
  workload: z
    .strictObject({
      deployment: K8sName.describe('Deployment whose ready replicas must come back to their count before the drill'),
      readyTimeout: Timeout.default('2m').describe('How long to wait (watching) for the ready replicas after the service answers again'),
    })
    .optional(),
  probe: HttpProbe.optional().describe('The user-level recovery probe: its first stable success after T0 stops the RTO clock'),
  velero: z
    .strictObject({
      backup: K8sName.optional().describe('Velero Backup to restore (or schedule)'),
      schedule: K8sName.optional().describe('Velero Schedule whose newest Completed backup to restore (spec.scheduleName); the backup restored is recorded'),
      namespace: K8sName.default('velero').describe('Namespace Velero runs in'),
      sourceNamespace: K8sName.describe('Namespace of the backup to restore'),
      restoreNamespace: K8sName.optional().describe('Scratch namespace for the copy; default drillbook-<run id>'),
      probe: HttpProbe.describe('Probe of the restored copy (`{namespace}` is the scratch namespace)'),
      timeout: Timeout.default('15m').describe('Give up waiting for a terminal Velero phase after this long'),
    })
    .refine((v) => (v.backup === undefined) !== (v.schedule === undefined), {
      message: 'name exactly one of backup (a Backup) or schedule (a Schedule: its newest Completed backup is restored — scheduled backups are named <schedule>-<timestamp>)',
    })
    .optional()
    .describe('parallel-restore: a Velero restore into a scratch namespace'),
});
export type KubernetesTarget = z.infer<typeof KubernetesTarget>;

const blastRadius = {
  namespace: K8sName.optional().describe('Default: target.namespace'),
  selector: LabelSelector,
  maxPods: z.number().int().min(1).optional().describe('Refuse when the fault would touch more pods than this'),
  maxPercent: z.number().min(0).max(100).optional().describe('Refuse when the fault would touch more than this % of the pods the selector matches'),
};
const hasLimit = (f: { maxPods?: number | undefined; maxPercent?: number | undefined }) => f.maxPods !== undefined || f.maxPercent !== undefined;
const limitMessage = { message: 'declare the blast radius: maxPods or maxPercent (or both) — more than declared is never touched' };
const duration = Duration.optional().describe('Revert the fault after this long (its undo runs early); default: at teardown');

const PodDeleteFault = z
  .strictObject({
    type: z.literal('pod-delete'),
    ...blastRadius,
    count: z.number().int().min(1).optional().describe('Delete this many of the matched pods (default: all of them)'),
    gracePeriod: Duration.optional().describe('Grace period of the deletion (default: the pod’s own)'),
  })
  .refine(hasLimit, limitMessage);

const DeploymentScaleFault = z
  .strictObject({
    type: z.literal('deployment-scale'),
    ...blastRadius,
    deployment: K8sName,
    replicas: z.number().int().min(0),
    duration,
  })
  .refine(hasLimit, limitMessage);

const NodeDrainFault = z
  .strictObject({
    type: z.literal('node-drain'),
    ...blastRadius,
    node: K8sName.describe('Node to cordon and drain as `kubectl drain` does: DaemonSet and mirror pods stay, every other pod is evicted'),
    maxOtherPods: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Pods outside namespace + selector the drain may also evict (coredns, other teams’ pods); more than this and the drain is refused'),
    force: z.boolean().default(false).describe('Also evict pods no controller manages (lost for good, as with `kubectl drain --force`)'),
    evictionTimeout: Duration.default('2m').describe('Keep retrying evictions a PodDisruptionBudget refuses (429) this long, then wait this long for the evicted pods to terminate'),
    duration,
  })
  .refine(hasLimit, limitMessage);

const NetworkPartitionFault = z
  .strictObject({
    type: z.literal('network-partition'),
    ...blastRadius,
    direction: z.enum(['ingress', 'egress', 'both']).default('both'),
    canary: HttpProbe.optional().describe(
      'A probe that must start failing once the policy exists — the proof the CNI enforces it (default: target.probe; required for egress-only partitions)',
    ),
    enforcementTimeout: Timeout.default('30s').describe('Give up (the drill fails: the partition had no observable effect) when the canary still answers after this long'),
    duration,
  })
  .refine(hasLimit, limitMessage);

/** Fault shapes this driver adds to spec.faults (discriminated by `type`). */
export const KubernetesFaults = [PodDeleteFault, DeploymentScaleFault, NodeDrainFault, NetworkPartitionFault] as const;
export type KubernetesFault = z.infer<(typeof KubernetesFaults)[number]>;
