/**
 * The RDS undos, by name, as the journal stores them: deleting a restored copy (verified by
 * RDS answering "not found"), starting a stopped database, waiting for one to be available
 * again. Each needs only its params, so `drillbook recover` can run it in a fresh process.
 */
import type { DeletionRecord } from '../../../reports/run-record.js';
import { z } from 'zod';
import { isoNow } from '../../clock.js';
import { typedUndo, undoClock, type UndoEnv, type UndoRegistry } from '../../undo.js';
import { type RdsDeps, type RdsDepsInput, call, describeCluster, describeError, describeInstance, isInvalidState, isMultiAzCluster, isNotFound, pollUntil, resolveDeps } from './api.js';

export type RdsResourceKind = 'instance' | 'cluster';

const DELETE_TIMEOUT_MS = 60 * 60_000;
const START_TIMEOUT_MS = 60 * 60_000;
const MAX_POLL_MS = 15_000;

async function status(deps: RdsDeps, kind: RdsResourceKind, id: string, signal: AbortSignal): Promise<string | null> {
  const found = kind === 'instance' ? await describeInstance(deps, id, signal) : await describeCluster(deps, id, signal);
  if (!found) return null;
  return (kind === 'instance' ? (found as { DBInstanceStatus?: string }).DBInstanceStatus : (found as { Status?: string }).Status) ?? 'unknown';
}

/** Waits until RDS answers "not found" for the resource; returns the check for the record. */
async function waitGone(deps: RdsDeps, kind: RdsResourceKind, id: string, env: UndoEnv): Promise<{ check: string; passed: boolean }> {
  await pollUntil(deps, async () => ((await status(deps, kind, id, env.signal)) === null ? true : undefined), {
    what: `deletion of DB ${kind} ${id}`,
    timeoutMs: DELETE_TIMEOUT_MS,
    maxIntervalMs: MAX_POLL_MS,
    signal: env.signal,
    clock: undoClock(env),
  });
  const fault = kind === 'instance' ? 'DBInstanceNotFound' : 'DBClusterNotFoundFault';
  return { check: `Describe${kind === 'instance' ? 'DBInstances' : 'DBClusters'} for ${id} answers ${fault}`, passed: true };
}

/**
 * Issues a delete, retrying while the resource is in a state that refuses it (e.g. still
 * creating). Resolves false when there was nothing to delete (the restore never created it).
 */
async function requestDeletion(deps: RdsDeps, kind: RdsResourceKind, id: string, env: UndoEnv): Promise<boolean> {
  return pollUntil(
    deps,
    async () => {
      try {
        if (kind === 'instance')
          await call(deps, env.signal, (o) => deps.client.send(new deps.sdk.DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }), o), env.log);
        else await call(deps, env.signal, (o) => deps.client.send(new deps.sdk.DeleteDBClusterCommand({ DBClusterIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }), o), env.log);
        return true;
      } catch (error) {
        if (isNotFound(error)) return false; // never created, or already gone
        if (isInvalidState(error)) {
          const now = await status(deps, kind, id, env.signal);
          if (now === null || now === 'deleting') return true;
          env.log(`DB ${kind} ${id} cannot be deleted yet (status ${now}): retrying`);
          return undefined;
        }
        throw error;
      }
    },
    { what: `a delete request for DB ${kind} ${id} being accepted`, timeoutMs: DELETE_TIMEOUT_MS, maxIntervalMs: MAX_POLL_MS, signal: env.signal, clock: undoClock(env) },
  );
}

/** Deletes a drill's copy (a cluster's member instances first) and verifies it is gone. */
export async function deleteCopy(deps: RdsDeps, params: { kind: RdsResourceKind; id: string; instances?: string[] }, env: UndoEnv): Promise<DeletionRecord> {
  const verification: { check: string; passed: boolean }[] = [];
  let withCluster: string[] = [];
  if (params.kind === 'cluster') {
    const cluster = await describeCluster(deps, params.id, env.signal, env.log);
    const members = new Set([...(params.instances ?? []), ...(cluster?.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? '').filter(Boolean)]);
    // A Multi-AZ DB cluster's instances cannot be deleted on their own: they go with the cluster.
    if (isMultiAzCluster(cluster)) withCluster = [...members];
    else {
      for (const member of members) await requestDeletion(deps, 'instance', member, env);
      for (const member of members) verification.push(await waitGone(deps, 'instance', member, env));
    }
  }
  const existed = await requestDeletion(deps, params.kind, params.id, env);
  verification.push(await waitGone(deps, params.kind, params.id, env));
  for (const member of withCluster) verification.push(await waitGone(deps, 'instance', member, env));
  return {
    what: 'restored copy',
    location: `RDS DB ${params.kind} ${params.id}${params.instances?.length ? ` (member ${params.instances.join(', ')})` : ''}`,
    destroyedAt: isoNow(undoClock(env)),
    verification: [
      existed
        ? { check: 'delete requested with SkipFinalSnapshot and DeleteAutomatedBackups (no snapshot or backup of the copy kept)', passed: true }
        : { check: 'RDS had no such copy when teardown asked to delete it (the restore never created it, or it was already gone)', passed: true },
      ...verification,
    ],
  };
}

async function waitAvailable(deps: RdsDeps, kind: RdsResourceKind, id: string, env: UndoEnv): Promise<void> {
  await pollUntil(
    deps,
    async () => {
      const now = await status(deps, kind, id, env.signal);
      if (now === null) throw new Error(`DB ${kind} ${id} no longer exists`);
      return now === 'available' ? true : undefined;
    },
    { what: `DB ${kind} ${id} becoming available`, timeoutMs: START_TIMEOUT_MS, maxIntervalMs: MAX_POLL_MS, signal: env.signal, clock: undoClock(env) },
  );
}

/** Starts a stopped instance or cluster (waiting out a stop still in progress), then waits until it is available. */
export async function startAndWait(deps: RdsDeps, kind: RdsResourceKind, id: string, env: UndoEnv): Promise<void> {
  await pollUntil(
    deps,
    async () => {
      try {
        if (kind === 'instance') await call(deps, env.signal, (o) => deps.client.send(new deps.sdk.StartDBInstanceCommand({ DBInstanceIdentifier: id }), o), env.log);
        else await call(deps, env.signal, (o) => deps.client.send(new deps.sdk.StartDBClusterCommand({ DBClusterIdentifier: id }), o), env.log);
        return true;
      } catch (error) {
        if (!isInvalidState(error)) throw error;
        const now = await status(deps, kind, id, env.signal);
        if (now === 'available' || now === 'starting') return true; // the stop never took effect, or a start is under way
        env.log(`DB ${kind} ${id} cannot be started yet (status ${now ?? 'gone'}): retrying`);
        return undefined;
      }
    },
    { what: `a start request for DB ${kind} ${id} being accepted`, timeoutMs: START_TIMEOUT_MS, maxIntervalMs: MAX_POLL_MS, signal: env.signal, clock: undoClock(env) },
  );
  await waitAvailable(deps, kind, id, env);
}

function kindOf(params: Record<string, unknown>): RdsResourceKind {
  return params.kind === 'cluster' ? 'cluster' : 'instance';
}

const ResourceParams = z.looseObject({ kind: z.enum(['instance', 'cluster']).optional(), id: z.string().min(1) });
const CopyParams = ResourceParams.extend({ instances: z.array(z.string()).optional(), keepUntil: z.string().nullable().optional() });

/** Registers the RDS undos (params checked by zod); `deps` lets tests hand in a mocked client and a short sleep. */
export function registerRdsUndos(registry: UndoRegistry, input: RdsDepsInput = {}): UndoRegistry {
  const deps = resolveDeps(input);
  return registry
    .register('rds.delete-copy', typedUndo('rds.delete-copy', CopyParams, async (params, env) => {
      const keepUntil = typeof params.keepUntil === 'string' ? params.keepUntil : null;
      if (keepUntil && undoClock(env).wallMs() < Date.parse(keepUntil)) {
        env.log(`keeping the restored RDS copy ${String(params.id)} until ${keepUntil} as declared`);
        return { deferredUntil: keepUntil };
      }
      try {
        const deletion = await deleteCopy(await deps(), { kind: kindOf(params), id: String(params.id), instances: (params.instances as string[] | undefined) ?? [] }, env);
        return { deletion };
      } catch (error) {
        throw new Error(`could not delete the restored copy ${String(params.id)}: ${describeError(error)}`);
      }
    }))
    .register('rds.start', typedUndo('rds.start', ResourceParams, async (params, env) => {
      try {
        await startAndWait(await deps(), kindOf(params), String(params.id), env);
      } catch (error) {
        throw new Error(`could not start DB ${kindOf(params)} ${String(params.id)} again: ${describeError(error)}`);
      }
    }))
    .register('rds.wait-available', typedUndo('rds.wait-available', ResourceParams, async (params, env) => {
      try {
        await waitAvailable(await deps(), kindOf(params), String(params.id), env);
      } catch (error) {
        throw new Error(`DB ${kindOf(params)} ${String(params.id)} is not available again: ${describeError(error)}`);
      }
    }));
}
