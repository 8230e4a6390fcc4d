/** Velero, as the Kubernetes driver uses it: the Restore object, the backup it restores, its log and results. */
import { gunzipSync } from 'node:zlib';
import type { KubernetesTarget } from '../../../scenarios/schema-kubernetes.js';
import { type Clock, sleep } from '../../clock.js';
import { api, type KubeClients } from './client.js';

export const VELERO_TERMINAL = new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']);

export interface VeleroRestore {
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

export type VeleroSettings = NonNullable<KubernetesTarget['velero']>;

export function veleroSource(v: VeleroSettings): string {
  return v.backup ? `backup ${v.backup}` : `the newest Completed backup of schedule ${v.schedule}`;
}

/** The backup a Restore of these settings restores: the named one, or (as Velero picks it) the newest Completed one of the schedule. */
export async function resolveBackup(clients: KubeClients, v: VeleroSettings): Promise<{ name: string; phase: string | undefined; completed: string | undefined }> {
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
export async function downloadVeleroRecord(clients: KubeClients, namespace: string, name: string, kind: 'RestoreLog' | 'RestoreResults', restoreName: string, signal: AbortSignal, clock: Clock): Promise<string> {
  const group = { group: 'velero.io', version: 'v1', namespace, plural: 'downloadrequests' };
  await api(`creating Velero DownloadRequest ${namespace}/${name}`, () =>
    clients.custom.createNamespacedCustomObject({
      ...group,
      body: { apiVersion: 'velero.io/v1', kind: 'DownloadRequest', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'drillbook' } }, spec: { target: { kind, name: restoreName } } },
    }),
  );
  try {
    const deadline = clock.monoMs() + 60_000;
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
      if (clock.monoMs() > deadline) throw new Error('Velero did not process the DownloadRequest within 60 s');
      await sleep(200, signal);
    }
  } finally {
    await clients.custom.deleteNamespacedCustomObject({ ...group, name }).catch(() => undefined);
  }
}
