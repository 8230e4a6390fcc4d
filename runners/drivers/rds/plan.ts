/** The RDS driver's plan (offline, or resolved live with read-only calls) and the small facts it shares with the session. */
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';
import type { LoadedScenario } from '../../../scenarios/load.js';
import type { RdsFault, RdsSqlEndpoint, RdsTarget } from '../../../scenarios/schema-rds.js';
import type { Fault } from '../../../scenarios/schema.js';
import { driverFault } from '../../faults/registry.js';
import type { PlanItem } from '../types.js';
import { type RdsDeps, describeError, isMultiAzCluster, isSnapshotNotFound } from './api.js';

export function rdsTarget(loaded: LoadedScenario): RdsTarget {
  return loaded.scenario.spec.target as RdsTarget;
}

export function resourceOf(target: RdsTarget): { kind: 'instance' | 'cluster'; id: string } {
  return target.cluster ? { kind: 'cluster', id: target.cluster } : { kind: 'instance', id: target.instance ?? '' };
}

export function isRdsFault(fault: Fault): fault is RdsFault {
  return driverFault('rds', fault.type) !== undefined;
}

/** The copy's identifier: short, valid for RDS (letter first, no double hyphen), unique per run. */
export function copyIdentifier(sourceId: string, runId: string): string {
  return `drillbook-${sourceId.slice(0, 30).replace(/-+$/, '')}-${runId.slice(0, 8)}`;
}

export function endpointLabel(e: RdsSqlEndpoint, fallback: string): string {
  return `${e.user}@${e.host ?? fallback}${e.port ? `:${e.port}` : ''}/${e.database}`;
}

export interface LiveFacts {
  source: DBInstance | DBCluster | undefined;
  subnetGroup?: { DBSubnetGroupName?: string; VpcId?: string; Subnets?: unknown[] } | undefined;
  subnetGroupError?: string;
  snapshot?: { id: string; createdAt: string } | string;
}

export function describeSource(kind: 'instance' | 'cluster', id: string, source: DBInstance | DBCluster | undefined): string {
  if (!source) return `DB ${kind} ${id}: NOT FOUND in this account/region`;
  if (kind === 'instance') {
    const i = source as DBInstance;
    return `DB instance ${id} (${i.Engine} ${i.EngineVersion ?? ''}, ${i.DBInstanceStatus}, Multi-AZ ${i.MultiAZ ? `yes: ${i.AvailabilityZone} → standby ${i.SecondaryAvailabilityZone ?? '?'}` : 'no'})`;
  }
  const c = source as DBCluster;
  const members = (c.DBClusterMembers ?? []).map((m) => `${m.DBInstanceIdentifier}${m.IsClusterWriter ? ' (writer)' : ''}`).join(', ');
  return `DB cluster ${id} (${c.Engine} ${c.EngineVersion ?? ''}, ${c.Status}; members ${members || 'none'})`;
}

export function planItems(loaded: LoadedScenario, live: LiveFacts | null): PlanItem[] {
  const spec = loaded.scenario.spec;
  const target = rdsTarget(loaded);
  const { kind, id } = resourceOf(target);
  const resource = live ? describeSource(kind, id, live.source) : `DB ${kind} ${id}`;
  const items: PlanItem[] = [];
  items.push({ action: `read-only: Describe${kind === 'instance' ? 'DBInstances' : 'DBClusters'} ${id}; DescribeEvents for the run's window (secondary evidence)`, touches: resource, undo: 'none needed (read-only)' });
  if (target.production)
    items.push({ action: "create schema drillbook (drillbook.heartbeat, drillbook.probe) if missing, once; write this run's heartbeat and probe rows", touches: `SQL ${endpointLabel(target.production, `the ${kind} endpoint`)}`, undo: "drop what this run created (schema drillbook or its tables); else delete this run's rows" });
  for (const fault of spec.faults) {
    const planned = driverFault('rds', fault.type)?.plan(fault, { kind, id, resource });
    if (planned) items.push(planned);
  }
  if (spec.recovery?.action === 'command') items.push({ action: `run recovery command: ${spec.recovery.command}`, touches: 'what the command touches', undo: 'none automatic' });
  if (spec.type === 'parallel-restore' && target.copy) {
    const copy = target.copy;
    const copyId = `${copyIdentifier(id, '00000000')}`.replace(/-00000000$/, '-<run id>');
    const snapshot = live?.snapshot ? (typeof live.snapshot === 'string' ? `snapshot lookup failed: ${live.snapshot}` : `snapshot ${live.snapshot.id} (${live.snapshot.createdAt})`) : copy.snapshot ? `snapshot ${copy.snapshot}` : null;
    const restorePoint = snapshot ?? (spec.restore?.restoreTo && spec.restore.restoreTo !== 'latest' ? `point in time ${spec.restore.restoreTo}` : `latest restorable time${live?.source && 'LatestRestorableTime' in live.source && live.source.LatestRestorableTime ? ` (now ${live.source.LatestRestorableTime.toISOString()})` : ''}`);
    const subnet = live ? (live.subnetGroup ? `subnet group ${live.subnetGroup.DBSubnetGroupName} (VPC ${live.subnetGroup.VpcId}, ${live.subnetGroup.Subnets?.length ?? 0} subnets)` : `subnet group ${copy.subnetGroup}: ${live.subnetGroupError ?? 'not found'}`) : `subnet group ${copy.subnetGroup}`;
    items.push({
      action: `restore ${id} from ${restorePoint} into a new DB ${kind} ${copyId}${
        kind !== 'cluster'
          ? ''
          : live && isMultiAzCluster(live.source as DBCluster | undefined)
            ? ` (a Multi-AZ DB cluster: RDS creates its three ${copy.instanceClass} instances, no CreateDBInstance)`
            : live
              ? ` plus member instance ${copyId}-1 (${copy.instanceClass}) once the cluster is available`
              : ` plus, for Aurora, member instance ${copyId}-1 (${copy.instanceClass}) once the cluster is available (a Multi-AZ DB cluster gets its instances from RDS)`
      }; with the source's parameter and option groups and engine version`,
      touches: `${subnet}; security groups ${copy.securityGroups.join(', ')}; not publicly accessible; tagged drillbook:run-id and drillbook:drill=true`,
      undo: spec.restore?.keep
        ? `kept for ${spec.restore.keep} (${spec.restore.reason ?? 'no reason given'}); then \`drillbook recover\` deletes it and verifies`
        : `delete the copy (SkipFinalSnapshot, DeleteAutomatedBackups${kind !== 'cluster' ? '' : live && isMultiAzCluster(live.source as DBCluster | undefined) ? '; its instances go with the cluster' : live ? '; member instance first' : '; an Aurora member instance first'}) and wait until RDS answers not found (registered before the restore request)`,
    });
  }
  return items;
}

export interface FoundSnapshot {
  id: string;
  createdAt: string;
  /** The engine version the snapshot holds (a restore from it must ask for this version). */
  engineVersion: string | undefined;
}

/**
 * The snapshot to restore: the named one, or with `latest` the newest available snapshot of
 * the source across every page of DescribeDBSnapshots / DescribeDBClusterSnapshots (RDS
 * returns them in no promised order, at most 100 a page).
 */
export async function findSnapshot(deps: RdsDeps, kind: 'instance' | 'cluster', sourceId: string, wanted: string, signal?: AbortSignal): Promise<FoundSnapshot> {
  const options = signal ? [{ abortSignal: signal }] : [];
  const snapshots: { id: string; status: string | undefined; createdAt: Date | undefined; engineVersion: string | undefined }[] = [];
  try {
    if (kind === 'instance') {
      const input = wanted === 'latest' ? { DBInstanceIdentifier: sourceId } : { DBSnapshotIdentifier: wanted };
      for await (const page of deps.sdk.paginateDescribeDBSnapshots({ client: deps.client }, input, ...options))
        for (const s of page.DBSnapshots ?? []) snapshots.push({ id: s.DBSnapshotIdentifier ?? '', status: s.Status, createdAt: s.SnapshotCreateTime, engineVersion: s.EngineVersion });
    } else {
      const input = wanted === 'latest' ? { DBClusterIdentifier: sourceId } : { DBClusterSnapshotIdentifier: wanted };
      for await (const page of deps.sdk.paginateDescribeDBClusterSnapshots({ client: deps.client }, input, ...options))
        for (const s of page.DBClusterSnapshots ?? []) snapshots.push({ id: s.DBClusterSnapshotIdentifier ?? '', status: s.Status, createdAt: s.SnapshotCreateTime, engineVersion: s.EngineVersion });
    }
  } catch (error) {
    if (isSnapshotNotFound(error)) throw new Error(`snapshot ${wanted} was not found in this account and region (${describeError(error)})`);
    throw error;
  }
  const usable = snapshots.filter((s) => s.status === 'available' && s.createdAt).sort((a, b) => b.createdAt!.getTime() - a.createdAt!.getTime());
  const chosen = usable[0];
  if (!chosen) throw new Error(wanted === 'latest' ? `no available snapshot of DB ${kind} ${sourceId}` : `snapshot ${wanted} is not available`);
  return { id: chosen.id, createdAt: chosen.createdAt!.toISOString(), engineVersion: chosen.engineVersion };
}
