/**
 * Which shared lock `drillbook run` takes for its system (issue 16), from the environment:
 *
 * | DRILLBOOK_COORDINATION | lock |
 * |---|---|
 * | `auto` (default) | in a cluster (KUBERNETES_SERVICE_HOST set): as `kubernetes`; else with `--evidence s3://…`: the S3 lock object; else none |
 * | `kubernetes` | a Lease, reached through the standard kubeconfig chain ($KUBECONFIG, ~/.kube/config, in-cluster); with `--evidence s3://…` the S3 lock object too, so runners outside the cluster are excluded as well (both-locks.ts) |
 * | `s3` | the S3 lock object (needs `--evidence s3://…`) |
 * | `none` | no shared lock: only `drillbook schedule` keeps one drill per system, inside its process |
 *
 * Tabletop exercises take no lock: they disrupt nothing.
 *
 * Tuning: DRILLBOOK_OVERLAP (`skip` | `wait`, overrides the scenario's `spec.schedule.overlap`,
 * default skip), DRILLBOOK_LOCK_TTL (default 30s), DRILLBOOK_LOCK_POLL, DRILLBOOK_LOCK_MAX_WAIT
 * (default 1h), DRILLBOOK_LEASE_NAMESPACE (default: the pod's own namespace, else the
 * kubeconfig context's), DRILLBOOK_HOLDER_IDENTITY (default `<host>:<pid>`; in a pod the host
 * name is the pod name).
 */
import fs from 'node:fs';
import os from 'node:os';
import { parseDuration } from '../../scenarios/duration.js';
import type { LoadedScenario } from '../../scenarios/load.js';
import type { SystemLockBackend, OverlapPolicy } from './types.js';

export interface SystemCoordination {
  backend: SystemLockBackend;
  overlap: OverlapPolicy;
  pollMs?: number;
  maxWaitMs?: number;
}

export type EvidenceLocation = { kind: 'local'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

/** A setting that cannot be used: the CLI prints it and exits 2 before anything runs. */
export class CoordinationSettingError extends Error {
  override name = 'CoordinationSettingError';
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const DEFAULT_TTL_MS = 30_000;

function duration(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const ms = parseDuration(text.trim());
  if (ms === undefined || ms <= 0) throw new CoordinationSettingError(`${name}=${text}: not a duration such as 30s, 2m or 1h`);
  return ms;
}

/** The lock for this run, or undefined when none is shared (see the table above). */
export async function coordinationFor(loaded: LoadedScenario, evidence: EvidenceLocation, env: NodeJS.ProcessEnv = process.env): Promise<SystemCoordination | undefined> {
  const mode = (env.DRILLBOOK_COORDINATION ?? 'auto').trim().toLowerCase() || 'auto';
  if (!['auto', 'kubernetes', 's3', 'none'].includes(mode)) throw new CoordinationSettingError(`DRILLBOOK_COORDINATION=${env.DRILLBOOK_COORDINATION}: use auto, kubernetes, s3 or none`);
  const overlapText = env.DRILLBOOK_OVERLAP?.trim();
  if (overlapText && overlapText !== 'skip' && overlapText !== 'wait') throw new CoordinationSettingError(`DRILLBOOK_OVERLAP=${overlapText}: use skip or wait`);
  const overlap: OverlapPolicy = (overlapText as OverlapPolicy | undefined) || loaded.scenario.spec.schedule?.overlap || 'skip';
  const ttlMs = duration(env, 'DRILLBOOK_LOCK_TTL') ?? DEFAULT_TTL_MS;
  const pollMs = duration(env, 'DRILLBOOK_LOCK_POLL');
  const maxWaitMs = duration(env, 'DRILLBOOK_LOCK_MAX_WAIT');
  const kind = mode === 'auto' ? (env.KUBERNETES_SERVICE_HOST ? 'kubernetes' : evidence.kind === 's3' ? 's3' : 'none') : mode;
  // A tabletop is a discussion: it disrupts nothing, so it neither takes nor waits for the system.
  if (kind === 'none' || loaded.scenario.spec.type === 'tabletop') return undefined;
  const system = loaded.system.name;
  const scenario = loaded.scenario.metadata.name;
  const identity = env.DRILLBOOK_HOLDER_IDENTITY?.trim() || `${os.hostname()}:${process.pid}`;
  const s3Lock = async (location: { bucket: string; prefix: string }) => {
    const { defaultS3Client } = await import('../../reports/evidence/s3-client.js');
    const { s3LockBackend } = await import('./s3-lock-backend.js');
    return s3LockBackend({ client: defaultS3Client(env), location, system, identity, scenario, ttlMs });
  };
  let backend: SystemLockBackend;
  if (kind === 's3') {
    if (evidence.kind !== 's3') throw new CoordinationSettingError('DRILLBOOK_COORDINATION=s3 needs --evidence s3://bucket/prefix: the lock object lives beside the evidence');
    backend = await s3Lock({ bucket: evidence.bucket, prefix: evidence.prefix });
  } else {
    const k8s = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    try {
      config.loadFromDefault();
    } catch (error) {
      throw new CoordinationSettingError(`cannot load the kubeconfig for the system Lease: ${(error as Error).message}`);
    }
    const namespace =
      env.DRILLBOOK_LEASE_NAMESPACE?.trim() ||
      (fs.existsSync(SERVICE_ACCOUNT_NAMESPACE) ? fs.readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() : '') ||
      config.getContextObject(config.getCurrentContext())?.namespace;
    if (!namespace) throw new CoordinationSettingError('the system Lease needs a namespace: set DRILLBOOK_LEASE_NAMESPACE (in a pod it is the pod\'s own namespace)');
    const { leaseBackend } = await import('./lease-backend.js');
    backend = leaseBackend({ api: config.makeApiClient(k8s.CoordinationV1Api), namespace, system, identity, scenario, ttlMs });
    if (evidence.kind === 's3') {
      const { bothLocks } = await import('./both-locks.js');
      backend = bothLocks(backend, await s3Lock({ bucket: evidence.bucket, prefix: evidence.prefix }));
    }
  }
  return { backend, overlap, ...(pollMs !== undefined ? { pollMs } : {}), ...(maxWaitMs !== undefined ? { maxWaitMs } : {}) };
}
