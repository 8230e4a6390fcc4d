/**
 * The Kubernetes driver: chaos faults against workloads (pod-delete, deployment-scale,
 * node-drain, network-partition) with a declared blast radius, and parallel restores through
 * Velero into a scratch namespace. The RTO clock is the user-level HTTP probe; the workload's
 * readiness (watched, not polled) and Velero's phases go to the timeline as secondary evidence.
 * Stateless workloads have no heartbeat: this driver measures no RPO.
 */
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type * as k8s from '@kubernetes/client-node';
import type { CheckResult } from '../../../reports/run-record.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { describeMasking } from '../../../scenarios/masking.js';
import type { LoadedScenario } from '../../../scenarios/load.js';
import type { Check, Fault, Recovery, Scenario } from '../../../scenarios/schema.js';
import type { KubernetesFault, KubernetesTarget } from '../../../scenarios/schema-kubernetes.js';
import { driverFault, faultsOf } from '../../faults/registry.js';
import { runRecoveryCommand } from '../../recovery-command.js';
import { sleep, type Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import { httpProbe } from '../../probes/http.js';
import type { ProbeFn } from '../../probes/probe-loop.js';
import { specAt, type Driver, type DriverSession, type EndpointName, type FaultEffect, type PlanItem, type RestoredCopy } from '../types.js';
import { api, type ClusterRef, clusterLabel, connectCluster, KubeApiError, type KubeClients, statusOf } from './client.js';
import { resolveFault } from './blast-radius.js';
import { type FaultResolution, isPodReady, listPods, type PodRef, RUN_LABEL } from './faults.js';
import { parseSelector } from './selector.js';
import { kubernetesUndoHandlers } from './undo.js';
import { ObjectWatch } from './watch.js';
import { preparedSession } from '../prepared.js';

const ms = (text: string) => parseDuration(text) ?? 0;
const VELERO_TERMINAL = new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']);

function kubernetesTarget(loaded: LoadedScenario): KubernetesTarget {
  return loaded.scenario.spec.target as KubernetesTarget;
}

function isKubernetesFault(fault: Fault): fault is Fault & KubernetesFault {
  return driverFault('kubernetes', fault.type) !== undefined;
}

function faultPlan(fault: KubernetesFault, namespace: string | undefined, touches: string): PlanItem {
  return driverFault('kubernetes', fault.type)!.plan(fault, { namespace, touches });
}

export function clusterRefOf(loaded: LoadedScenario): ClusterRef {
  const target = kubernetesTarget(loaded);
  return {
    kubeconfig: target.kubeconfig ? path.resolve(path.dirname(loaded.file), target.kubeconfig) : null,
    context: target.context ?? null,
  };
}

/** A fault refused by its blast radius (or a safety rule) before anything was changed. */
export class BlastRadiusError extends Error {}

function refusalMessage(resolutions: FaultResolution[]): string | null {
  const refused = resolutions.map((r, i) => ({ r, i })).filter(({ r }) => r.refusal);
  if (refused.length === 0) return null;
  return `refused before any change: ${refused.map(({ r, i }) => `faults[${i}] ${r.fault.type}: ${r.refusal}`).join('; ')}`;
}

export const kubernetesDriver: Driver = {
  name: 'kubernetes',

  registerUndos: (registry) => registry.registerAll(kubernetesUndoHandlers),

  validate(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = kubernetesTarget(loaded);
    const at = specAt;
    if (!target.probe)
      report(at('target'), 'the kubernetes driver needs target.probe: the user-level HTTP probe that measures the RTO (and confirms the steady state)', {
        hint: 'probe: { url: http://checkout.shop.svc/healthz, expectStatus: 200 }',
      });
    for (const [index, fault] of spec.faults.entries()) {
      if (!isKubernetesFault(fault)) {
        report(at('faults', index, 'type'), `fault ${fault.type} is not a kubernetes fault`, { hint: `use one of ${faultsOf('kubernetes').map((m) => m.type).join(', ')}` });
        continue;
      }
      if (!fault.namespace && !target.namespace) report(at('faults', index), `${fault.type} needs a namespace (on the fault or target.namespace)`);
      driverFault('kubernetes', fault.type)!.validate?.(fault, { settings: { target, spec }, report, at: (...p) => at('faults', index, ...p) });
      try {
        parseSelector(fault.selector);
      } catch (error) {
        report(at('faults', index, 'selector'), error instanceof Error ? error.message : String(error));
      }
    }
    if (spec.type === 'failover') {
      if (spec.faults.length === 0) report(at('faults'), 'a failover drill needs at least one fault', { hint: 'e.g. faults: [ { type: pod-delete, selector: app=checkout, maxPods: 1 } ]' });
      if (spec.recovery?.action === 'promote') report(at('recovery', 'action'), 'promote is a PostgreSQL recovery: use none (Kubernetes heals itself) or command');
      if (spec.recovery?.action === 'command' && !spec.recovery.command) report(at('recovery', 'command'), 'recovery.action command needs recovery.command');
    }
    if (spec.type === 'parallel-restore') {
      if (!target.velero) report(at('target'), 'a parallel-restore drill on Kubernetes needs target.velero (backup, sourceNamespace, probe)');
      if (spec.faults.length > 0) report(at('faults'), 'a parallel-restore drill leaves production running: it takes no faults');
      if (spec.restore && spec.restore.restoreTo !== 'latest') report(at('restore', 'restoreTo'), 'a Velero restore restores its named backup: restoreTo must be latest');
      if (spec.restore?.keep && !spec.restore.reason) report(at('restore', 'reason'), 'keep needs a reason (recorded in the evidence)');
    }
    for (const [index, check] of spec.checks.entries())
      report(at('checks', index), `${check.type} checks need a database: the kubernetes driver checks the workload's ready replicas (target.workload) and the Velero phase itself`);
    if (spec.probes.endpoint === 'standby') report(at('probes', 'endpoint'), 'the kubernetes driver has no standby endpoint');
  },

  plan(loaded) {
    const spec = loaded.scenario.spec;
    const target = kubernetesTarget(loaded);
    const items: PlanItem[] = [];
    const cluster = target.kubeconfig ? `cluster of ${target.kubeconfig}${target.context ? ` (context ${target.context})` : ''}` : `cluster of the default kubeconfig${target.context ? ` (context ${target.context})` : ''}`;
    if (target.probe) items.push({ action: `probe GET ${target.probe.url} (expect ${target.probe.expectStatus}) every ${spec.probes.interval}`, touches: 'nothing (read-only)', undo: 'none needed' });
    if (target.workload) items.push({ action: `watch deployment ${target.namespace ?? '?'}/${target.workload.deployment} readiness`, touches: 'nothing (read-only)', undo: 'none needed' });
    for (const fault of spec.faults) if (isKubernetesFault(fault)) items.push(faultPlan(fault, target.namespace, `${cluster}; \`drillbook plan\` resolves the exact pods live`));
    if (spec.type === 'parallel-restore' && target.velero) {
      const v = target.velero;
      items.push({
        action: `create Velero Restore of ${veleroSource(v)} (${v.sourceNamespace} → ${v.restoreNamespace ?? 'drillbook-<run id>'}) in namespace ${v.namespace}; attach its log and results to the evidence before it is deleted`,
        touches: `${cluster}: a new scratch namespace and the objects of the backup in it`,
        undo: spec.restore?.keep
          ? `kept ${spec.restore.keep} (${spec.restore.reason ?? 'no reason'}); then \`drillbook recover\` deletes it and verifies`
          : 'delete the Restore and the scratch namespace; wait until the namespace is gone; delete the PersistentVolumes and VolumeSnapshotContents the restore left (cluster-scoped) and verify they are gone; record the deletion',
      });
    }
    return items;
  },

  async planLive(loaded, signal) {
    const target = kubernetesTarget(loaded);
    const ref = clusterRefOf(loaded);
    const clients = await connectCluster(ref);
    const items: PlanItem[] = [];
    for (const [index, fault] of loaded.scenario.spec.faults.entries()) {
      signal?.throwIfAborted();
      if (!isKubernetesFault(fault)) continue;
      const resolution = await resolveFault(clients, fault, target.namespace);
      const planned = faultPlan(fault, target.namespace, '');
      items.push({
        action: `faults[${index}] ${planned.action}${resolution.refusal ? ` — WOULD BE REFUSED: ${resolution.refusal}` : ''}`,
        touches: `${clusterLabel(clients, ref)}: ${resolution.touches.length > 0 ? resolution.touches.join('; ') : 'nothing'} (${resolution.podsTouched} of ${resolution.matched.length} matched pods)`,
        undo: planned.undo,
      });
    }
    if (loaded.scenario.spec.type === 'parallel-restore' && target.velero) {
      const v = target.velero;
      const backup = await resolveBackup(clients, v).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
      items.push({
        action: `restore ${'error' in backup ? `${veleroSource(v)} — ${backup.error}` : `Velero backup ${backup.name}${v.schedule ? ` (newest Completed of schedule ${v.schedule})` : ''} (phase ${backup.phase ?? 'unknown'})`}`,
        touches: `${clusterLabel(clients, ref)}: new namespace ${v.restoreNamespace ?? 'drillbook-<run id>'} (mapped from ${v.sourceNamespace})`,
        undo: 'delete the Restore and the namespace; verify the namespace, and the volumes the restore made, are gone',
      });
    }
    return items;
  },

  open(ctx) {
    return preparedSession(new KubernetesSession(ctx));
  },
};

/** The undo registry entries this driver journals (Driver.registerUndos). */
export { kubernetesUndoHandlers };

class KubernetesSession implements DriverSession {
  readonly probeNoun = 'HTTP request';
  description = '';
  private readonly target: KubernetesTarget;
  private readonly ref: ClusterRef;
  private clients!: KubeClients;
  private expectedReady: number | undefined;
  private readiness: ObjectWatch<k8s.V1Deployment> | undefined;
  private restoredReadiness: ObjectWatch<k8s.V1Deployment> | undefined;
  private faultIndex = 0;
  private scratchNamespace: string | undefined;
  private restore: { name: string; phase: string | null; object: VeleroRestore | undefined } | undefined;
  /** The backup prepare expects Velero to restore; the one it did restore is in the Restore's spec.backupName. */
  private expectedBackup: string | undefined;
  private restoredBackup: string | undefined;
  private readonly notes: string[] = [];
  /** Ends the timers of timed faults when the session closes: teardown's undo takes over. */
  private readonly closing = new AbortController();

  constructor(private readonly ctx: RunContext) {
    this.target = kubernetesTarget(ctx.loaded);
    this.ref = clusterRefOf(ctx.loaded);
  }

  private get params() {
    return { cluster: this.ref };
  }

  async prepare(): Promise<void> {
    this.clients = await connectCluster(this.ref);
    const cluster = clusterLabel(this.clients, this.ref);
    this.description = `Kubernetes ${cluster}${this.target.namespace ? `, namespace ${this.target.namespace}` : ''}${this.target.workload ? `, deployment ${this.target.workload.deployment}` : ''}`;
    if (this.target.workload) {
      const namespace = this.requireNamespace();
      const deployment = await api(`reading deployment ${namespace}/${this.target.workload.deployment}`, () =>
        this.clients.apps.readNamespacedDeployment({ name: this.target.workload!.deployment, namespace }),
      );
      this.expectedReady = deployment.spec?.replicas ?? 0;
    }
    // Refuse the whole drill up front when a fault's selection is larger than declared: a
    // refusal after the first fault would already have disrupted something.
    const resolutions: FaultResolution[] = [];
    for (const fault of this.ctx.loaded.scenario.spec.faults) if (isKubernetesFault(fault)) resolutions.push(await resolveFault(this.clients, fault, this.target.namespace));
    const refusal = refusalMessage(resolutions);
    if (refusal) throw new BlastRadiusError(refusal);
    for (const r of resolutions) this.ctx.record(`blast radius checked: ${r.fault.type} would touch ${r.podsTouched} of ${r.matched.length} pods (${r.fault.selector} in ${r.namespace})`, { touches: r.touches });
    if (this.ctx.loaded.scenario.spec.type === 'parallel-restore' && this.target.velero) {
      const v = this.target.velero;
      this.scratchNamespace = v.restoreNamespace ?? `drillbook-${this.ctx.runId.slice(0, 8)}`;
      try {
        await this.clients.core.readNamespace({ name: this.scratchNamespace });
        throw new BlastRadiusError(`the scratch namespace ${this.scratchNamespace} already exists: drillbook deletes it at teardown, so it must be new`);
      } catch (error) {
        if (error instanceof BlastRadiusError) throw error;
        if (statusOf(error) !== 404) throw new Error(`checking that namespace ${this.scratchNamespace} does not exist: ${statusOf(error) ?? String(error)}`);
      }
      const backup = await resolveBackup(this.clients, v).catch((error: unknown) => {
        throw new BlastRadiusError(`refused before any change: ${error instanceof Error ? error.message : String(error)}`);
      });
      this.expectedBackup = backup.name;
      this.notes.push(`Velero backup ${backup.name}${v.schedule ? ` (newest Completed backup of schedule ${v.schedule} before the restore)` : ''} (namespace ${v.sourceNamespace}), phase ${backup.phase ?? 'unknown'}, completed ${backup.completed ?? 'unknown'}`);
    }
  }

  private requireNamespace(fault?: KubernetesFault): string {
    const namespace = fault?.namespace ?? this.target.namespace;
    if (!namespace) throw new Error('no namespace: set target.namespace');
    return namespace;
  }

  endpoints(): Partial<Record<EndpointName, string>> {
    const endpoints: Partial<Record<EndpointName, string>> = {};
    if (this.target.probe) endpoints.primary = this.url('primary');
    if (this.scratchNamespace && this.target.velero) endpoints.restored = this.url('restored');
    return endpoints;
  }

  private url(endpoint: EndpointName): string {
    if (endpoint === 'restored') {
      if (!this.target.velero || !this.scratchNamespace) throw new Error('no restored endpoint in this drill');
      return this.target.velero.probe.url.replaceAll('{namespace}', this.scratchNamespace);
    }
    if (!this.target.probe) throw new Error('no target.probe declared');
    return this.target.probe.url.replaceAll('{namespace}', this.target.namespace ?? '');
  }

  async confirmSteadyState(ctx: RunContext): Promise<string[]> {
    if (!this.target.workload || this.expectedReady === undefined) return [];
    await this.watchReadiness(ctx);
    const deployment = await this.readiness!.until(() => true, 30_000, ctx.signal, `deployment ${this.target.workload.deployment} readiness`);
    const ready = deployment.status?.readyReplicas ?? 0;
    if (ready < this.expectedReady) throw new Error(`deployment ${this.target.workload.deployment} has ${ready} of ${this.expectedReady} replicas ready before the drill: steady state not reached, nothing was disrupted`);
    return [`deployment ${this.target.workload.deployment}: ${ready}/${this.expectedReady} replicas ready`];
  }

  /** Readiness changes of the workload go to the timeline as they happen (watch stream). */
  private async watchReadiness(ctx: RunContext): Promise<void> {
    if (this.readiness || !this.target.workload) return;
    const namespace = this.requireNamespace();
    const name = this.target.workload.deployment;
    let last: number | undefined;
    this.readiness = new ObjectWatch<k8s.V1Deployment>(this.clients, `/apis/apps/v1/namespaces/${namespace}/deployments`, name, (d, type) => {
      const ready = d.status?.readyReplicas ?? 0;
      if (ready === last && type !== 'DELETED') return;
      last = ready;
      ctx.record(`readiness: deployment ${name} ${ready}/${d.spec?.replicas ?? '?'} ready`, { readyReplicas: ready, replicas: d.spec?.replicas ?? null, source: 'watch', resourceVersion: d.metadata?.resourceVersion ?? null });
    });
    await this.readiness.start();
  }

  writeProbe(endpoint: EndpointName): ProbeFn {
    const expect = endpoint === 'restored' ? this.target.velero!.probe.expectStatus : (this.target.probe?.expectStatus ?? 200);
    const timeoutMs = ms(this.ctx.loaded.scenario.spec.probes.timeout);
    return (_attempt, signal) => httpProbe.check({ url: this.url(endpoint), status: expect }, { signal, timeoutMs, baseDir: path.dirname(this.ctx.loaded.file), addSecret: this.ctx.addSecret });
  }

  async injectFault(fault: Fault, ctx: RunContext, markT0: (action: string) => Instant): Promise<FaultEffect> {
    if (!isKubernetesFault(fault)) throw new Error(`fault ${fault.type} is not a kubernetes fault`);
    const index = this.faultIndex++;
    await this.watchReadiness(ctx);
    // The selection may have changed since prepare: resolve again, right before acting.
    const resolution = await resolveFault(this.clients, fault, this.target.namespace);
    if (resolution.refusal) throw new BlastRadiusError(`refused before any change: faults[${index}] ${fault.type}: ${resolution.refusal}`);
    return driverFault('kubernetes', fault.type)!.inject(fault, {
      ctx,
      markT0,
      target: {
        clients: this.clients,
        cluster: this.params.cluster,
        resolution,
        index,
        readyTimeoutMs: this.readyTimeoutMs(),
        probe: this.target.probe ? { url: this.url('primary'), expectStatus: this.target.probe.expectStatus } : undefined,
        probeTimeoutMs: ms(this.ctx.loaded.scenario.spec.probes.timeout),
        probeIntervalMs: ms(this.ctx.loaded.scenario.spec.probes.interval),
        revertAfter: (duration, id, type, params, note) => this.revertAfter(duration, id, type, params, note),
        evict: (pods, timeoutMs, c) => this.evict(pods, timeoutMs, c),
        awaitOutOfService: (pods, timeoutMs, c) => this.awaitPods(pods, timeoutMs, c, 'out-of-service'),
        awaitGone: (pods, timeoutMs, c) => this.awaitPods(pods, timeoutMs, c, 'gone'),
      },
    });
  }

  private readyTimeoutMs(): number {
    return this.target.workload ? ms(this.target.workload.readyTimeout) : 120_000;
  }

  /** Evicts each pod through the Eviction API so PodDisruptionBudgets are honoured; 429 means try again later. */
  private async evict(pods: PodRef[], timeoutMs: number, ctx: RunContext): Promise<PodRef[]> {
    const deadline = ctx.clock.elapsed() + timeoutMs;
    const evicted: PodRef[] = [];
    for (const pod of pods) {
      for (let attempt = 1; ; attempt++) {
        ctx.signal.throwIfAborted();
        try {
          await this.clients.core.createNamespacedPodEviction({
            name: pod.name,
            namespace: pod.namespace,
            body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } },
          });
          evicted.push(pod);
          ctx.record(`evicted pod ${pod.namespace}/${pod.name}`, attempt > 1 ? { attempts: attempt } : undefined);
          break;
        } catch (error) {
          const status = statusOf(error);
          if (status === 404) break; // gone already
          if (status !== 429) throw new Error(`evicting pod ${pod.namespace}/${pod.name}: the API server answered ${status ?? String(error)}`);
          if (attempt === 1) ctx.record(`eviction of ${pod.namespace}/${pod.name} refused by a PodDisruptionBudget (429): retrying`);
          if (ctx.clock.elapsed() > deadline) throw new Error(`evicting pod ${pod.namespace}/${pod.name}: a PodDisruptionBudget kept refusing it (429) for ${Math.round(timeoutMs / 1000)} s`);
          await sleep(500, ctx.signal);
        }
      }
    }
    return evicted;
  }

  /**
   * Polls (read-only) until every pod is gone — or, for 'out-of-service', listed as ready in no
   * EndpointSlice of its namespace — and records when. A pod counts as gone when its name
   * answers 404 or now belongs to another pod (uid).
   */
  private async awaitPods(pods: PodRef[], timeoutMs: number, ctx: RunContext, until: 'gone' | 'out-of-service'): Promise<void> {
    if (pods.length === 0) return;
    const started = ctx.clock.elapsed();
    const pending = new Map(pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    let noSlices = false;
    for (;;) {
      ctx.signal.throwIfAborted();
      for (const namespace of new Set([...pending.values()].map((p) => p.namespace))) {
        const present = new Map<string, string | undefined>();
        const list = await api(`listing pods in namespace ${namespace}`, () => this.clients.core.listNamespacedPod({ namespace }));
        for (const pod of list.items) present.set(pod.metadata?.name ?? '', pod.metadata?.uid);
        let serving = new Set<string>();
        if (until === 'out-of-service' && !noSlices) {
          try {
            const slices = await this.clients.discovery.listNamespacedEndpointSlice({ namespace });
            serving = new Set(
              slices.items.flatMap((slice) => (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false && e.targetRef?.kind === 'Pod').map((e) => e.targetRef?.uid ?? e.targetRef?.name ?? '')),
            );
          } catch (error) {
            if (statusOf(error) !== 404) throw new Error(`listing EndpointSlices in namespace ${namespace}: ${statusOf(error) ?? String(error)}`);
            noSlices = true; // no discovery API: only a pod that is gone is out of service
          }
        }
        for (const [key, pod] of pending) {
          if (pod.namespace !== namespace) continue;
          const gone = !present.has(pod.name) || (pod.uid !== undefined && present.get(pod.name) !== pod.uid);
          const inService = serving.has(pod.uid ?? pod.name) || serving.has(pod.name);
          if (gone || (until === 'out-of-service' && !noSlices && !inService)) pending.delete(key);
        }
      }
      if (pending.size === 0) break;
      if (ctx.clock.elapsed() - started > timeoutMs)
        throw new Error(
          `${[...pending.keys()].join(', ')} ${until === 'gone' ? 'still exist' : 'still take traffic (ready in an EndpointSlice, or not yet gone)'} ${Math.round(timeoutMs / 1000)} s after the fault: its effect could not be confirmed`,
        );
      await sleep(100, ctx.signal);
    }
    const waited = Math.round(ctx.clock.elapsed() - started);
    ctx.record(
      until === 'gone' ? `${pods.length} evicted pod(s) terminated (gone after ${waited} ms)` : `${pods.length} deleted pod(s) out of service (gone or out of every EndpointSlice after ${waited} ms)`,
      { pods: pods.map((p) => `${p.namespace}/${p.name}`), waitedMs: waited },
    );
  }

  /** A fault with a duration is reverted by its own undo, early; the journal entry is then settled. */
  private revertAfter(duration: string | undefined, id: number, type: string, params: Record<string, unknown>, note: string): Pick<FaultEffect, 'ended'> {
    if (!duration) return {};
    const ctx = this.ctx;
    const ended = sleep(ms(duration), AbortSignal.any([ctx.signal, this.closing.signal]))
      .then(async () => {
        await kubernetesUndoHandlers[type]!(params, { signal: AbortSignal.timeout(60_000), log: ctx.log });
        ctx.record(`fault ended after ${duration}: ${note}`);
        ctx.undo.settle(id, `${note} after ${duration}`);
      })
      .catch((error: unknown) => {
        // Left pending: teardown runs the undo again.
        if (!ctx.signal.aborted && !this.closing.signal.aborted) ctx.record(`fault revert after ${duration} failed (teardown retries): ${error instanceof Error ? error.message : String(error)}`);
      });
    return { ended };
  }

  async recover(recovery: Recovery, ctx: RunContext): Promise<string> {
    if (recovery.action === 'command') return runRecoveryCommand(recovery, ctx);
    return 'no recovery action: Kubernetes is expected to heal the workload itself';
  }

  async requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant): Promise<RestoredCopy> {
    const v = this.target.velero;
    if (!v || !this.scratchNamespace) throw new Error('parallel-restore needs target.velero');
    const scratch = this.scratchNamespace;
    const name = `drillbook-${ctx.runId.slice(0, 8)}`;
    const cluster = this.params.cluster;
    const keepUntil = restore.keep ? new Date(ctx.clock.wallMs() + ms(restore.keep)).toISOString() : null;
    // Undos first: the namespace (deleted last), then the Restore object (deleted first).
    ctx.undo.push(
      { type: 'kubernetes.delete-namespace', params: { cluster, namespace: scratch, keepUntil, timeoutMs: 5 * 60_000, restoreName: name } },
      keepUntil ? `delete the scratch namespace ${scratch} after ${restore.keep} (${restore.reason}) and verify it is gone` : `delete the scratch namespace ${scratch} and verify it is gone`,
    );
    ctx.undo.push({ type: 'kubernetes.delete-velero-restore', params: { cluster, namespace: v.namespace, name } }, `delete Velero Restore ${v.namespace}/${name}`);
    this.restore = { name, phase: null, object: undefined };
    const watch = new ObjectWatch<VeleroRestore>(this.clients, `/apis/velero.io/v1/namespaces/${v.namespace}/restores`, name, (object) => {
      const phase = object.status?.phase ?? 'New';
      if (phase === this.restore!.phase) return;
      this.restore!.phase = phase;
      this.restore!.object = object;
      // Velero's own timestamps are secondary evidence: they are not the RTO clock.
      ctx.record(`velero restore ${name}: phase ${phase}`, {
        source: 'watch',
        startTimestamp: object.status?.startTimestamp ?? null,
        completionTimestamp: object.status?.completionTimestamp ?? null,
        warnings: object.status?.warnings ?? 0,
        errors: object.status?.errors ?? 0,
      });
    });
    const body: VeleroRestore = {
      apiVersion: 'velero.io/v1',
      kind: 'Restore',
      metadata: { name, namespace: v.namespace, labels: { [RUN_LABEL]: ctx.runId, 'app.kubernetes.io/managed-by': 'drillbook' } },
      spec: { ...(v.backup ? { backupName: v.backup } : { scheduleName: v.schedule }), includedNamespaces: [v.sourceNamespace], namespaceMapping: { [v.sourceNamespace]: scratch } },
    };
    markT0(`Velero restore of ${veleroSource(v)} requested (${v.sourceNamespace} → ${scratch})`);
    await api(`creating Velero Restore ${v.namespace}/${name}`, () =>
      this.clients.custom.createNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: v.namespace, plural: 'restores', body }),
    );
    try {
      await watch.start();
      const done = await watch.until((r) => VELERO_TERMINAL.has(r.status?.phase ?? ''), ms(v.timeout), ctx.signal, `Velero Restore ${name} terminal phase`);
      this.restore.object = done;
      this.restore.phase = done.status?.phase ?? null;
      // With scheduleName, Velero picks the backup and writes it to spec.backupName.
      const restored = (done.spec as { backupName?: string } | undefined)?.backupName;
      this.restoredBackup = restored ?? v.backup;
      if (restored)
        ctx.record(`velero restore ${name}: restored backup ${restored}${v.schedule ? ` (newest Completed of schedule ${v.schedule})` : ''}`, {
          backup: restored,
          ...(this.expectedBackup && this.expectedBackup !== restored ? { expectedAtPrepare: this.expectedBackup } : {}),
        });
      // Velero's finalizer deletes the log and results from object storage with the Restore:
      // they go into the evidence now, whatever the phase.
      if (VELERO_TERMINAL.has(this.restore.phase ?? '')) await this.attachVeleroRecords(v.namespace, name, ctx);
    } finally {
      watch.stop();
    }
    if (this.restore.phase === 'Failed' || this.restore.phase === 'FailedValidation')
      throw new Error(`Velero Restore ${name} ended ${this.restore.phase}${this.restore.object?.status?.failureReason ? `: ${this.restore.object.status.failureReason}` : ''}`);
    if (this.target.workload) {
      const deployment = this.target.workload.deployment;
      this.restoredReadiness = new ObjectWatch<k8s.V1Deployment>(this.clients, `/apis/apps/v1/namespaces/${scratch}/deployments`, deployment, (d) =>
        ctx.record(`readiness: restored deployment ${scratch}/${deployment} ${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? '?'} ready`, { source: 'watch' }),
      );
      await this.restoredReadiness.start();
    }
    return {
      endpoint: 'restored',
      record: {
        location: `namespace ${scratch} on ${clusterLabel(this.clients, this.ref)}`,
        port: 0,
        access: restore.access ?? `anyone with access to namespace ${scratch} in this cluster (its RBAC) and through ${this.url('restored')}`,
        masking: describeMasking(restore.masking),
        restorePoint: `Velero backup ${this.restoredBackup ?? v.backup ?? '?'}`,
        baseBackup: `Velero backup ${v.namespace}/${this.restoredBackup ?? v.backup ?? '?'}${v.schedule ? ` (newest Completed of schedule ${v.schedule})` : ''} of namespace ${v.sourceNamespace}`,
        kept: keepUntil ? `until ${keepUntil} (${restore.keep}): ${restore.reason ?? ''}; deleted then by drillbook recover` : null,
      },
    };
  }

  /**
   * Fetches the Restore's log and results through DownloadRequests (what `velero restore logs`
   * and `velero restore describe --details` do) and attaches them. Failures are noted, not
   * fatal: the drill's own evidence stands without them. The pre-signed URL is never recorded.
   */
  private async attachVeleroRecords(veleroNamespace: string, restoreName: string, ctx: RunContext): Promise<void> {
    for (const [kind, file] of [
      ['RestoreLog', `velero-restore-${restoreName}-log.txt`],
      ['RestoreResults', `velero-restore-${restoreName}-results.json`],
    ] as const) {
      const requestName = `${restoreName}-${kind.toLowerCase()}-${Date.now().toString(36)}`;
      try {
        const text = await downloadVeleroRecord(this.clients, veleroNamespace, requestName, kind, restoreName, ctx.signal);
        const attached = await ctx.attach(file, ctx.redact(text));
        ctx.record(`velero restore ${restoreName}: ${kind === 'RestoreLog' ? 'log' : 'results'} attached (${attached}) before the Restore is deleted`, { bytes: Buffer.byteLength(text) });
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        this.notes.push(`Velero ${kind} of Restore ${restoreName} could not be attached: ${why}`);
        ctx.record(`velero restore ${restoreName}: ${kind} not attached: ${why}`);
      }
    }
  }

  async runChecks(_checks: Check[], endpoint: EndpointName, ctx: RunContext): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    if (endpoint === 'restored' && this.restore) {
      const status = this.restore.object?.status;
      results.push({
        name: 'Velero restore completed',
        type: 'velero-phase',
        passed: this.restore.phase === 'Completed',
        expected: 'Completed',
        actual: `${this.restore.phase ?? 'unknown'} (${status?.warnings ?? 0} warnings, ${status?.errors ?? 0} errors)`,
        detail: `Restore ${this.restore.name}${status?.progress ? `: ${status.progress.itemsRestored ?? '?'} of ${status.progress.totalItems ?? '?'} items restored` : ''}`,
      });
    }
    const watch = endpoint === 'restored' ? this.restoredReadiness : this.readiness;
    if (this.target.workload && this.expectedReady !== undefined && watch) {
      const namespace = endpoint === 'restored' ? this.scratchNamespace! : this.requireNamespace();
      const name = `${namespace}/${this.target.workload.deployment}`;
      const expected = this.expectedReady;
      try {
        const d = await watch.until((d) => (d.status?.readyReplicas ?? 0) >= expected, ms(this.target.workload.readyTimeout), ctx.signal, `deployment ${name} ready replicas`);
        results.push({ name: `deployment ${name} ready replicas`, type: 'ready-replicas', passed: true, expected: `≥ ${expected} (watched)`, actual: String(d.status?.readyReplicas ?? 0) });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const actual = watch.latest?.status?.readyReplicas ?? 0;
        results.push({ name: `deployment ${name} ready replicas`, type: 'ready-replicas', passed: false, expected: `≥ ${expected} within ${this.target.workload.readyTimeout}`, actual: String(actual), detail: error instanceof Error ? error.message : String(error) });
      }
    }
    return results;
  }

  integrityNotes(): { backup: string | null; notes: string[] } {
    const notes = [...this.notes];
    if (this.restore?.object?.status) {
      const s = this.restore.object.status;
      notes.push(`Velero Restore ${this.restore.name}: ${s.phase ?? 'unknown'}, started ${s.startTimestamp ?? '?'}, completed ${s.completionTimestamp ?? '?'} (Velero's clock, secondary evidence)`);
    }
    notes.push('stateless workload: no heartbeat is written, so no RPO is measured by this driver');
    const v = this.target.velero;
    return { backup: v ? `Velero backup ${v.namespace}/${this.restoredBackup ?? v.backup ?? `(newest of schedule ${v.schedule})`}` : null, notes };
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.readiness?.stop();
    this.restoredReadiness?.stop();
  }
}

interface VeleroRestore {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    startTimestamp?: string;
    completionTimestamp?: string;
    warnings?: number;
    errors?: number;
    failureReason?: string;
    progress?: { totalItems?: number; itemsRestored?: number };
  };
}

export { isPodReady, listPods };

type VeleroSettings = NonNullable<KubernetesTarget['velero']>;

function veleroSource(v: VeleroSettings): string {
  return v.backup ? `backup ${v.backup}` : `the newest Completed backup of schedule ${v.schedule}`;
}

/** The backup a Restore of these settings restores: the named one, or (as Velero picks it) the newest Completed one of the schedule. */
async function resolveBackup(clients: KubeClients, v: VeleroSettings): Promise<{ name: string; phase: string | undefined; completed: string | undefined }> {
  type Backup = { metadata?: { name?: string }; status?: { phase?: string; startTimestamp?: string; completionTimestamp?: string } };
  if (v.backup) {
    const backup = (await api(`reading Velero Backup ${v.namespace}/${v.backup}`, () =>
      clients.custom.getNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: v.namespace, plural: 'backups', name: v.backup! }),
    )) as Backup;
    return { name: v.backup, phase: backup.status?.phase, completed: backup.status?.completionTimestamp };
  }
  const list = (await api(`listing the Velero Backups of schedule ${v.schedule}`, () =>
    clients.custom.listNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace: v.namespace, plural: 'backups', labelSelector: `velero.io/schedule-name=${v.schedule}` }),
  )) as { items?: Backup[] };
  const newest = (list.items ?? [])
    .filter((b) => b.status?.phase === 'Completed')
    .sort((a, b) => Date.parse(b.status?.startTimestamp ?? '') - Date.parse(a.status?.startTimestamp ?? ''))[0];
  if (!newest?.metadata?.name) throw new Error(`Velero schedule ${v.schedule} has no Completed backup in namespace ${v.namespace} (backups named ${v.schedule}-<timestamp>, labelled velero.io/schedule-name=${v.schedule})`);
  return { name: newest.metadata.name, phase: newest.status?.phase, completed: newest.status?.completionTimestamp };
}

/** One DownloadRequest: created, waited for (Processed, downloadURL), downloaded, gunzipped, deleted. */
async function downloadVeleroRecord(clients: KubeClients, namespace: string, name: string, kind: 'RestoreLog' | 'RestoreResults', restoreName: string, signal: AbortSignal): Promise<string> {
  const group = { group: 'velero.io', version: 'v1', namespace, plural: 'downloadrequests' };
  await api(`creating Velero DownloadRequest ${namespace}/${name}`, () =>
    clients.custom.createNamespacedCustomObject({
      ...group,
      body: { apiVersion: 'velero.io/v1', kind: 'DownloadRequest', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'drillbook' } }, spec: { target: { kind, name: restoreName } } },
    }),
  );
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const request = (await api(`reading Velero DownloadRequest ${namespace}/${name}`, () => clients.custom.getNamespacedCustomObject({ ...group, name }))) as {
        status?: { phase?: string; downloadURL?: string };
      };
      if (request.status?.downloadURL) {
        const response = await fetch(request.status.downloadURL, { signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]) });
        if (!response.ok) throw new Error(`the object store answered HTTP ${response.status}`);
        const body = Buffer.from(await response.arrayBuffer());
        return gunzipSync(body).toString('utf8');
      }
      if (request.status?.phase === 'Processed') throw new Error('Velero found no such file in the backup storage location');
      if (Date.now() > deadline) throw new Error('Velero did not process the DownloadRequest within 60 s');
      await sleep(200, signal);
    }
  } finally {
    await clients.custom.deleteNamespacedCustomObject({ ...group, name }).catch(() => undefined);
  }
}
