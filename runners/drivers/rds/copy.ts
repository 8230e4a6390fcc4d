/**
 * The restored RDS copy: the source settings it is created with, and its status as RDS
 * reports it (secondary evidence) until it is available or has failed.
 */
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';
import { parseDuration } from '../../../scenarios/duration.js';
import type { RunContext } from '../../context.js';
import { backoffDelays } from '../../backoff.js';
import { FAILED_STATUSES, type RdsDeps, describeCluster, describeError, describeInstance, isMultiAzCluster, pollUntil } from './api.js';
import type { FoundSnapshot } from './plan.js';

const ms = (text: string | undefined) => (text ? (parseDuration(text) ?? 0) : 0);

/** The copy a restore drill requested, as last seen. */
export interface RdsCopy {
  kind: 'instance' | 'cluster';
  id: string;
  member?: string | undefined;
  status: string;
  endpoint?: { host: string; port: number };
  failure?: string;
}

/** The source's settings a restore carries over (RDS request names), and the Aurora writer's parameter group. */
export interface CarriedSettings {
  DBParameterGroupName?: string | undefined;
  OptionGroupName?: string | undefined;
  DBClusterParameterGroupName?: string | undefined;
  EngineVersion?: string | undefined;
  memberParameterGroupName?: string | undefined;
}

/**
 * What the copy is created with from the source: its DB parameter group and option group
 * (instances), DB cluster parameter group (clusters), the Aurora writer's DB parameter group
 * (for the copy's member instance), and the engine version — the snapshot's own when
 * restoring one. Instance restores take no EngineVersion: RDS keeps the source's or the
 * snapshot's; it is recorded all the same.
 */
export async function sourceSettings(deps: RdsDeps, kind: 'instance' | 'cluster', sourceDb: DBInstance | DBCluster | undefined, snapshot: FoundSnapshot | null, signal: AbortSignal, log: (message: string) => void): Promise<CarriedSettings> {
  const source = sourceDb as (DBInstance & DBCluster) | undefined;
  const engineVersion = snapshot?.engineVersion ?? source?.EngineVersion;
  if (kind === 'instance')
    return { DBParameterGroupName: source?.DBParameterGroups?.[0]?.DBParameterGroupName, OptionGroupName: source?.OptionGroupMemberships?.[0]?.OptionGroupName, EngineVersion: engineVersion };
  const writer = (source?.DBClusterMembers ?? []).find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  const writerInstance = writer && !isMultiAzCluster(source) ? await describeInstance(deps, writer, signal, log) : undefined;
  return {
    DBClusterParameterGroupName: source?.DBClusterParameterGroup,
    OptionGroupName: source?.DBClusterOptionGroupMemberships?.[0]?.DBClusterOptionGroupName,
    EngineVersion: engineVersion,
    memberParameterGroupName: writerInstance?.DBParameterGroups?.[0]?.DBParameterGroupName,
  };
}

export function settingsRecord(c: CarriedSettings | null): Record<string, string | null> {
  return {
    engineVersion: c?.EngineVersion ?? null,
    parameterGroup: c?.DBParameterGroupName ?? null,
    optionGroup: c?.OptionGroupName ?? null,
    clusterParameterGroup: c?.DBClusterParameterGroupName ?? null,
    memberParameterGroup: c?.memberParameterGroupName ?? null,
  };
}

/** Waits until RDS reports the cluster copy `available` (a failed restore status ends the wait with its status). */
export async function waitClusterAvailable(ctx: RunContext, deps: RdsDeps, id: string, pollInterval: string | undefined, signal: AbortSignal): Promise<void> {
  const log = (message: string) => ctx.log(message);
  let last: string | undefined;
  await pollUntil(
    deps,
    async () => {
      const status = (await describeCluster(deps, id, signal, log))?.Status ?? 'not found';
      if (status !== last) ctx.record(`RDS reports the copy ${id}: ${status} (secondary evidence)`);
      last = status;
      if (FAILED_STATUSES.has(status) || status === 'not found') throw new Error(`restore failed: RDS reports the cluster copy ${id} ${status}`);
      return status === 'available' ? true : undefined;
    },
    { what: `the cluster copy ${id} becoming available`, timeoutMs: 24 * 60 * 60_000, maxIntervalMs: ms(pollInterval) || 10_000, signal, clock: ctx.clock },
  );
}

/** Follows the copy's RDS status in the background (backoff, capped at pollInterval): its endpoint, or a failed restore. */
export async function pollCopy(ctx: RunContext, deps: RdsDeps, copy: RdsCopy, pollInterval: string | undefined, stop: AbortSignal): Promise<void> {
  const log = (message: string) => ctx.log(message);
  const signal = AbortSignal.any([ctx.signal, stop]);
  const maxMs = ms(pollInterval) || 10_000;
  let reportedAvailable = false;
  for (const wait of backoffDelays({ initialMs: 1_000, maxMs })) {
    if (signal.aborted) break;
    try {
      let status: string | undefined;
      if (copy.kind === 'instance') {
        const i = await describeInstance(deps, copy.id, signal, log);
        status = i?.DBInstanceStatus ?? 'not found';
        if (i?.Endpoint?.Address) copy.endpoint = { host: i.Endpoint.Address, port: i.Endpoint.Port ?? 5432 };
      } else {
        const c = await describeCluster(deps, copy.id, signal, log);
        const m = copy.member ? await describeInstance(deps, copy.member, signal, log) : undefined;
        status = c?.Status ?? 'not found';
        if (m?.DBInstanceStatus && FAILED_STATUSES.has(m.DBInstanceStatus)) status = m.DBInstanceStatus;
        if (c?.Endpoint) copy.endpoint = { host: c.Endpoint, port: c.Port ?? 5432 };
        if (copy.member && status === 'available' && m?.DBInstanceStatus !== 'available') status = `cluster available, member ${m?.DBInstanceStatus ?? 'not found'}`;
      }
      if (status !== copy.status) ctx.record(`RDS reports the copy ${copy.id}: ${status} (secondary evidence)`);
      copy.status = status;
      if (FAILED_STATUSES.has(status)) {
        copy.failure = status;
        ctx.record(`restore failed: RDS put the copy ${copy.id} in status ${status}`);
        return;
      }
      if (status === 'available' && !reportedAvailable) {
        reportedAvailable = true;
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      ctx.log(`polling the copy failed: ${describeError(error)}`);
    }
    await deps.sleep(wait, signal).catch(() => undefined);
  }
}
