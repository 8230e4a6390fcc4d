/**
 * One run of the Kubernetes driver: faults against the workload within their blast radius,
 * readiness watched as secondary evidence, and a Velero restore into a scratch namespace.
 */
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { CheckResult } from '../../../reports/run-record.js';
import { describeMasking } from '../../../scenarios/masking.js';
import type { Check, Fault, Recovery, Scenario } from '../../../scenarios/schema.js';
import type { KubernetesFault, KubernetesTarget } from '../../../scenarios/schema-kubernetes.js';
import { driverFault } from '../../faults/registry.js';
import { runRecoveryCommand } from '../../recovery-command.js';
import { sleep, type Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import { httpProbe } from '../../probes/http.js';
import type { ProbeFn } from '../../probes/probe-loop.js';
import type { DriverSession, EndpointName, FaultEffect, RestoredCopy } from '../types.js';
import { api, type ClusterRef, clusterLabel, connectCluster, type KubeClients, statusOf } from './client.js';
import { resolveFault } from './blast-radius.js';
import { type FaultResolution, type PodRef, RUN_LABEL } from './faults.js';
import { kubernetesUndoHandlers } from './undo.js';
import { ObjectWatch } from './watch.js';
import { clusterRefOf, isKubernetesFault, kubernetesTarget, ms } from './target-settings.js';
import { downloadVeleroRecord, resolveBackup, VELERO_TERMINAL, type VeleroRestore, veleroSource } from './velero.js';

/** A fault refused by its blast radius (or a safety rule) before anything was changed. */
export class BlastRadiusError extends Error {}

function refusalMessage(resolutions: FaultResolution[]): string | null {
  const refused = resolutions.map((r, i) => ({ r, i })).filter(({ r }) => r.refusal);
  if (refused.length === 0) return null;
  return `refused before any change: ${refused.map(({ r, i }) => `faults[${i}] ${r.fault.type}: ${r.refusal}`).join('; ')}`;
}

export class KubernetesSession implements DriverSession {
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
        await kubernetesUndoHandlers[type]!(params, { signal: AbortSignal.timeout(60_000), log: ctx.log, clock: ctx.clock });
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
      const requestName = `${restoreName}-${kind.toLowerCase()}-${Math.round(ctx.clock.wallMs()).toString(36)}`;
      try {
        const text = await downloadVeleroRecord(this.clients, veleroNamespace, requestName, kind, restoreName, ctx.signal, ctx.clock);
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
