/**
 * The Kubernetes undos, by journal name. Each needs only its params (a ClusterRef plus what
 * to revert), so `drillbook recover` can run it in a fresh process after a crash. Each is
 * idempotent: an object already gone, a node already schedulable, is success.
 */
import type { DeletionRecord } from '../../../reports/run-record.js';
import { z } from 'zod';
import { type Clock, isoNow } from '../../clock.js';
import { typedUndo, undoClock, type UndoHandler } from '../../undo.js';
import { api, type ClusterRef, connectCluster, statusOf } from './client.js';
import { isPodReady, listPods, RUN_LABEL } from './faults.js';

function clusterOf(params: Record<string, unknown>): ClusterRef {
  const cluster = (params.cluster ?? {}) as Partial<ClusterRef>;
  return { kubeconfig: cluster.kubeconfig ?? null, context: cluster.context ?? null };
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('teardown deadline passed'));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('teardown deadline passed'))), { once: true });
  });
}

const POLL_MS = 250;

const handlers: Record<string, UndoHandler> = {
  /** deployment-scale: put the replica count back to what it was before the fault. */
  'kubernetes.scale-deployment': async (params, env) => {
    const clients = await connectCluster(clusterOf(params));
    const name = String(params.deployment);
    const namespace = String(params.namespace);
    const replicas = Number(params.replicas);
    await api(`restoring deployment ${namespace}/${name} to ${replicas} replicas`, () =>
      clients.apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas } } }, clients.mergePatch),
    );
    const scale = await api(`reading the scale of deployment ${namespace}/${name}`, () => clients.apps.readNamespacedDeploymentScale({ name, namespace }));
    if (scale.spec?.replicas !== replicas) throw new Error(`deployment ${namespace}/${name} has ${scale.spec?.replicas} replicas after the restore, not ${replicas}`);
    env.log(`deployment ${namespace}/${name} back to ${replicas} replicas`);
  },

  /** node-drain: make the node schedulable again. */
  'kubernetes.uncordon': async (params, env) => {
    const clients = await connectCluster(clusterOf(params));
    const name = String(params.node);
    await api(`uncordoning node ${name}`, () => clients.core.patchNode({ name, body: { spec: { unschedulable: false } } }, clients.mergePatch));
    const node = await api(`reading node ${name}`, () => clients.core.readNode({ name }));
    if (node.spec?.unschedulable) throw new Error(`node ${name} is still unschedulable after the uncordon`);
    env.log(`node ${name} schedulable again`);
  },

  /** network-partition: delete the deny policy (only ours: it carries the run's label). */
  'kubernetes.delete-network-policy': async (params, env) => {
    const clients = await connectCluster(clusterOf(params));
    const name = String(params.name);
    const namespace = String(params.namespace);
    try {
      const policy = await clients.networking.readNamespacedNetworkPolicy({ name, namespace });
      if (policy.metadata?.labels?.[RUN_LABEL] !== String(params.runId))
        throw new Error(`NetworkPolicy ${namespace}/${name} does not carry this run's ${RUN_LABEL} label: left in place`);
      await api(`deleting NetworkPolicy ${namespace}/${name}`, () => clients.networking.deleteNamespacedNetworkPolicy({ name, namespace }));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    try {
      await clients.networking.readNamespacedNetworkPolicy({ name, namespace });
      throw new Error(`NetworkPolicy ${namespace}/${name} still exists after its deletion`);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    env.log(`NetworkPolicy ${namespace}/${name} deleted`);
  },

  /**
   * pod-delete: a deleted pod cannot be brought back, but its controller re-creates it. The
   * undo confirms that happened — as many ready pods as before the fault — and fails (manual
   * action needed) when it did not.
   */
  'kubernetes.await-pods-ready': async (params, env) => {
    const clients = await connectCluster(clusterOf(params));
    const namespace = String(params.namespace);
    const selector = String(params.selector);
    const expected = Number(params.expectedReady);
    const clock = undoClock(env);
    const deadline = clock.monoMs() + Number(params.timeoutMs ?? 120_000);
    for (;;) {
      const ready = (await listPods(clients, namespace, selector)).filter(isPodReady).length;
      if (ready >= expected) {
        env.log(`${ready} pods ${selector} ready in ${namespace} (${expected} before the fault)`);
        return;
      }
      if (clock.monoMs() > deadline) throw new Error(`only ${ready} of ${expected} pods ${selector} in namespace ${namespace} are ready again: check their controller`);
      await wait(POLL_MS, env.signal);
    }
  },

  'kubernetes.delete-velero-restore': async (params, env) => {
    const clients = await connectCluster(clusterOf(params));
    const name = String(params.name);
    const namespace = String(params.namespace);
    try {
      await clients.custom.deleteNamespacedCustomObject({ group: 'velero.io', version: 'v1', namespace, plural: 'restores', name });
    } catch (error) {
      if (statusOf(error) !== 404) throw new Error(`deleting Velero Restore ${namespace}/${name}: the API server answered ${statusOf(error) ?? String(error)}`);
    }
    env.log(`Velero Restore ${namespace}/${name} deleted`);
  },

  /** parallel-restore: delete the scratch namespace, wait until it is gone, record the deletion. */
  'kubernetes.delete-namespace': async (params, env) => {
    const keepUntil = typeof params.keepUntil === 'string' ? params.keepUntil : null;
    const clock = undoClock(env);
    if (keepUntil && clock.wallMs() < Date.parse(keepUntil)) {
      env.log(`keeping namespace ${String(params.namespace)} until ${keepUntil} as declared`);
      return { deferredUntil: keepUntil };
    }
    const clients = await connectCluster(clusterOf(params));
    const name = String(params.namespace);
    const timeoutMs = Number(params.timeoutMs ?? 5 * 60_000);
    let requested = true;
    try {
      await clients.core.deleteNamespace({ name });
    } catch (error) {
      if (statusOf(error) !== 404) throw new Error(`deleting namespace ${name}: the API server answered ${statusOf(error) ?? String(error)}`);
      requested = false; // never created (the restore failed early) or already gone
    }
    // Deletion is asynchronous: the namespace stays Terminating until its objects are gone.
    const deadline = clock.monoMs() + timeoutMs;
    let gone = false;
    let phase = 'unknown';
    while (!gone) {
      try {
        const ns = await clients.core.readNamespace({ name });
        phase = ns.status?.phase ?? 'unknown';
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        gone = true;
        break;
      }
      if (clock.monoMs() > deadline) break;
      await wait(POLL_MS, env.signal);
    }
    const verification: DeletionRecord['verification'] = [
      { check: requested ? `namespace ${name} deleted (DELETE accepted)` : `namespace ${name} did not exist at teardown`, passed: true },
      { check: `namespace ${name} no longer exists (GET answers 404)${gone ? '' : `; still ${phase} after ${Math.round(timeoutMs / 1000)} s`}`, passed: gone },
    ];
    // Cluster-scoped leftovers outlive the namespace: PersistentVolumes with a Retain policy
    // (Released, their disks still there) and the VolumeSnapshotContents Velero restored.
    const restoreName = typeof params.restoreName === 'string' ? params.restoreName : null;
    if (gone) verification.push(...(await deleteRestoredStorage(clients, name, restoreName, deadline, env.signal, clock)));
    const deletion: DeletionRecord = {
      what: 'restored copy',
      location: `namespace ${name} on ${clients.server}`,
      destroyedAt: isoNow(clock),
      verification,
    };
    return { deletion };
  },
};

/**
 * PersistentVolumes of the copy (claimed from the scratch namespace, or labelled with the
 * Restore's name) are set to reclaim policy Delete, so the PV controller deletes each with its
 * volume, and waited for until gone. VolumeSnapshotContents labelled with the Restore are
 * deleted as objects only: with Velero's Retain policy the snapshot they point at is the
 * backup's own and stays. Each becomes a verification line of the deletion record.
 */
async function deleteRestoredStorage(
  clients: Awaited<ReturnType<typeof connectCluster>>,
  namespace: string,
  restoreName: string | null,
  deadline: number,
  signal: AbortSignal,
  clock: Clock,
): Promise<DeletionRecord['verification']> {
  const lines: DeletionRecord['verification'] = [];
  const pvs = await api('listing PersistentVolumes', () => clients.core.listPersistentVolume({}));
  const ours = pvs.items.filter(
    (pv) => pv.spec?.claimRef?.namespace === namespace || (restoreName !== null && pv.metadata?.labels?.['velero.io/restore-name'] === restoreName),
  );
  for (const pv of ours) {
    const pvName = pv.metadata?.name ?? '';
    if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete')
      await api(`setting PersistentVolume ${pvName} to reclaim policy Delete`, () =>
        clients.core.patchPersistentVolume({ name: pvName, body: { spec: { persistentVolumeReclaimPolicy: 'Delete' } } }, clients.mergePatch),
      );
  }
  for (const pv of ours) {
    const pvName = pv.metadata?.name ?? '';
    const gone = await waitGone(() => clients.core.readPersistentVolume({ name: pvName }), deadline, signal, clock);
    lines.push({ check: `PersistentVolume ${pvName} (claim ${pv.spec?.claimRef?.namespace ?? '?'}/${pv.spec?.claimRef?.name ?? '?'}, was ${pv.spec?.persistentVolumeReclaimPolicy ?? '?'}) reclaimed with its volume (GET answers 404)`, passed: gone });
  }
  if (ours.length === 0) lines.push({ check: `no PersistentVolume claimed from namespace ${namespace}${restoreName ? ` or labelled velero.io/restore-name=${restoreName}` : ''} remains`, passed: true });
  if (restoreName === null) return lines;
  const snapshots = { group: 'snapshot.storage.k8s.io', version: 'v1', plural: 'volumesnapshotcontents' };
  let contents: { metadata?: { name?: string } }[] = [];
  try {
    const list = (await clients.custom.listClusterCustomObject({ ...snapshots, labelSelector: `velero.io/restore-name=${restoreName}` })) as { items?: { metadata?: { name?: string } }[] };
    contents = list.items ?? [];
  } catch (error) {
    if (statusOf(error) !== 404) throw new Error(`listing VolumeSnapshotContents: the API server answered ${statusOf(error) ?? String(error)}`);
    lines.push({ check: 'no VolumeSnapshot API in the cluster (snapshot.storage.k8s.io): no VolumeSnapshotContents to delete', passed: true });
    return lines;
  }
  for (const content of contents) {
    const contentName = content.metadata?.name ?? '';
    await clients.custom.deleteClusterCustomObject({ ...snapshots, name: contentName }).catch((error: unknown) => {
      if (statusOf(error) !== 404) throw new Error(`deleting VolumeSnapshotContent ${contentName}: the API server answered ${statusOf(error) ?? String(error)}`);
    });
    const gone = await waitGone(() => clients.custom.getClusterCustomObject({ ...snapshots, name: contentName }), deadline, signal, clock);
    lines.push({ check: `VolumeSnapshotContent ${contentName} deleted (GET answers 404; the backup's own snapshot it pointed at is kept)`, passed: gone });
  }
  if (contents.length === 0) lines.push({ check: `no VolumeSnapshotContent labelled velero.io/restore-name=${restoreName} remains`, passed: true });
  return lines;
}

/** `deadline` is on `clock`'s monotonic time. */
async function waitGone(read: () => Promise<unknown>, deadline: number, signal: AbortSignal, clock: Clock): Promise<boolean> {
  for (;;) {
    try {
      await read();
    } catch (error) {
      if (statusOf(error) === 404) return true;
      throw error;
    }
    if (clock.monoMs() > deadline) return false;
    await wait(POLL_MS, signal);
  }
}

const Cluster = z.looseObject({ kubeconfig: z.string().nullable().optional(), context: z.string().nullable().optional() });
const inCluster = <S extends z.ZodRawShape>(shape: S) => z.looseObject({ cluster: Cluster.optional(), ...shape });
const PARAMS: Record<string, z.ZodType<Record<string, unknown>>> = {
  'kubernetes.scale-deployment': inCluster({ namespace: z.string().min(1), deployment: z.string().min(1), replicas: z.number().int().min(0) }),
  'kubernetes.uncordon': inCluster({ node: z.string().min(1) }),
  'kubernetes.delete-network-policy': inCluster({ namespace: z.string().min(1), name: z.string().min(1), runId: z.string().min(1) }),
  'kubernetes.await-pods-ready': inCluster({ namespace: z.string().min(1), selector: z.string(), expectedReady: z.number().int().min(0), timeoutMs: z.number().optional() }),
  'kubernetes.delete-velero-restore': inCluster({ namespace: z.string().min(1), name: z.string().min(1) }),
  'kubernetes.delete-namespace': inCluster({ namespace: z.string().min(1), keepUntil: z.string().nullable().optional(), timeoutMs: z.number().optional(), restoreName: z.string().min(1).optional() }),
};

/** The Kubernetes undos by journal name, each checking its params (zod) before it acts. */
export const kubernetesUndoHandlers: Record<string, UndoHandler> = Object.fromEntries(
  Object.entries(handlers).map(([type, handler]) => [type, typedUndo(type, PARAMS[type] ?? z.looseObject({}), handler)]),
);
