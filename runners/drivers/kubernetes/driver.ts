/**
 * The Kubernetes driver: chaos faults against workloads (pod-delete, deployment-scale,
 * node-drain, network-partition) with a declared blast radius, and parallel restores through
 * Velero into a scratch namespace. The RTO clock is the user-level HTTP probe; the workload's
 * readiness (watched, not polled) and Velero's phases go to the timeline as secondary evidence.
 * Stateless workloads have no heartbeat: this driver measures no RPO.
 */
import type { KubernetesFault } from '../../../scenarios/schema-kubernetes.js';
import { driverFault, faultsOf } from '../../faults/registry.js';
import { specAt, type Driver, type PlanItem } from '../types.js';
import { clusterLabel, connectCluster } from './client.js';
import { resolveFault } from './blast-radius.js';
import { isPodReady, listPods } from './faults.js';
import { parseSelector } from './selector.js';
import { kubernetesUndoHandlers } from './undo.js';
import { preparedSession } from '../prepared.js';
import { KubernetesSession } from './session.js';
import { clusterRefOf, isKubernetesFault, kubernetesTarget } from './target-settings.js';
import { resolveBackup, veleroSource } from './velero.js';

function faultPlan(fault: KubernetesFault, namespace: string | undefined, touches: string): PlanItem {
  return driverFault('kubernetes', fault.type)!.plan(fault, { namespace, touches });
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

export { BlastRadiusError } from './session.js';
export { clusterRefOf } from './target-settings.js';
export { isPodReady, listPods };
