/**
 * A small stateful RDS behind aws-sdk-client-mock, as strict as the service where drillbook
 * depends on it: instances and clusters move through `creating`, `backing-up`, `available`,
 * `stopping`/`stopped`/`starting`, `rebooting`, `modifying` and `deleting`, and a request made
 * in a state that does not allow it fails with InvalidDBInstanceStateFault /
 * InvalidDBClusterStateFault (CreateDBInstance into a cluster that is not yet available, a
 * second stop, a reboot while stopped…). Unknown names are not-found faults
 * (DBInstanceNotFoundFault, DBClusterNotFoundFault, DBSnapshotNotFoundFault,
 * DBClusterSnapshotNotFoundFault, DBParameterGroupNotFoundFault, OptionGroupNotFoundFault,
 * DBClusterParameterGroupNotFoundFault, DBSubnetGroupNotFoundFault), never a fallback.
 * Describe calls page (Marker / MaxRecords, 20–100, default 100); DescribeEvents applies
 * SourceType, SourceIdentifier and StartTime (SourceIdentifier without SourceType is an
 * InvalidParameterCombination, as in the API reference). Multi-AZ DB clusters (engine
 * `postgres`/`mysql`) need DBClusterInstanceClass, come with their three instances, and refuse
 * CreateDBInstance, member deletes and RebootDBInstance of a member; RebootDBCluster applies to
 * them only.
 *
 * Time: the fake runs on its own clock, which moves with real time and with every `sleep`
 * drillbook makes through `fake.sleep` (the sleep injected into the driver): a delete that
 * takes five simulated minutes costs a test milliseconds. Script times (CopyScript) are on
 * that clock too. Every call is recorded, so tests assert on what drillbook asked for. The
 * endpoint RDS reports for a copy is a real PostgreSQL (or a gate in front of one).
 */
import {
  CreateDBInstanceCommand,
  type DBCluster,
  type DBInstance,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeEventsCommand,
  type Event,
  FailoverDBClusterCommand,
  RDSClient,
  RebootDBClusterCommand,
  RebootDBInstanceCommand,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  StartDBClusterCommand,
  StartDBInstanceCommand,
  StopDBClusterCommand,
  StopDBInstanceCommand,
  type Tag,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { sleep } from '../../../runners/clock.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

/** A short real sleep that does not move any fake clock (unit tests with no timed state). */
export const fastSleep = (ms: number, signal?: AbortSignal) => sleep(Math.min(ms, 20), signal);

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

export const MUTATING = [
  'RestoreDBInstanceToPointInTimeCommand',
  'RestoreDBInstanceFromDBSnapshotCommand',
  'RestoreDBClusterToPointInTimeCommand',
  'RestoreDBClusterFromSnapshotCommand',
  'CreateDBInstanceCommand',
  'DeleteDBInstanceCommand',
  'DeleteDBClusterCommand',
  'RebootDBInstanceCommand',
  'RebootDBClusterCommand',
  'FailoverDBClusterCommand',
  'StopDBInstanceCommand',
  'StopDBClusterCommand',
  'StartDBInstanceCommand',
  'StartDBClusterCommand',
];

/** Simulated durations (fake clock) of what RDS takes minutes for. */
export const DURATIONS = { deleteMs: 5 * 60_000, stopMs: 2 * 60_000, startMs: 3 * 60_000, rebootMs: 30_000, failoverMs: 30_000 };

/** How a restored copy behaves over time (fake-clock ms after the restore request). */
export interface CopyScript {
  endpointAfterMs: number;
  availableAfterMs: number;
  /** Never becomes available: ends in this status instead (e.g. incompatible-restore). */
  failsWith?: string;
  /** Stays `creating` for ever (a copy that takes too long). */
  never?: boolean;
  endpoint: { host: string; port: number };
}

export interface FakeSnapshot {
  id: string;
  source: string;
  createdAt: Date;
  cluster: boolean;
  engineVersion?: string;
  status?: string;
}

type Timed = { transitions?: [string, number][]; createdAtMs?: number; script?: CopyScript };
type FakeInstance = DBInstance & Timed;
type FakeCluster = DBCluster & Timed;

const isAurora = (engine: string | undefined) => (engine ?? '').startsWith('aurora');

export class FakeRds {
  readonly client = new RDSClient({ region: 'us-east-1' });
  readonly mock = mockClient(RDSClient);
  readonly instances = new Map<string, FakeInstance>();
  readonly clusters = new Map<string, FakeCluster>();
  readonly snapshots: FakeSnapshot[] = [];
  readonly events: Event[] = [];
  /** Names that exist in the account (restores naming anything else fail with the not-found fault). */
  readonly parameterGroups = new Set(['default.postgres16', 'default.aurora-postgresql16', 'orders-pg16', 'orders-aurora-pg16']);
  readonly clusterParameterGroups = new Set(['default.aurora-postgresql16', 'default.postgres16', 'orders-aurora-cpg16', 'orders-maz-cpg16']);
  readonly optionGroups = new Set(['default:postgres-16', 'default:aurora-postgresql-16', 'orders-og16']);
  readonly subnetGroups = new Set(['drill-isolated', 'drill']);
  /** Simulated durations; a test that cannot inject `sleep` (the CLI) shortens them. */
  durations = { ...DURATIONS };
  copyScript: CopyScript = { endpointAfterMs: 0, availableAfterMs: 0, endpoint: { host: '127.0.0.1', port: 1 } };
  /** Items per Describe page when the request names no MaxRecords (the API's default is 100). */
  pageSize = 100;
  /** Throttle the next N calls of a command (by class name). */
  readonly throttle = new Map<string, number>();
  /** Called when a disruptive action is requested (the test creates the real outage). */
  onFault: (command: string, input: Record<string, unknown>) => void = () => undefined;
  /** Called when a stopped database is started again (the test ends the outage it created). */
  onStart: (command: string, input: Record<string, unknown>) => void = () => undefined;
  /** Called on every restore request, before the fake creates the copy. */
  onRestore: (input: Record<string, unknown>) => void = () => undefined;
  /** Delete requests answer InvalidDBInstanceState this many times first. */
  deleteRefusals = 0;
  readonly log: { command: string; at: number; input: Record<string, unknown> }[] = [];
  private offsetMs = 0;

  constructor() {
    this.install();
  }

  /** The fake's clock: real time plus every simulated wait. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** The sleep to inject into the driver: a few real ms, the full wait on the fake's clock. */
  readonly sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    const real = Math.min(ms, 20);
    await sleep(real, signal);
    this.offsetMs += Math.max(0, ms - real);
  };

  restore(): void {
    this.mock.restore();
  }

  addInstance(id: string, extra: Partial<DBInstance> = {}): void {
    this.instances.set(id, {
      DBInstanceIdentifier: id,
      DBInstanceStatus: 'available',
      Engine: 'postgres',
      EngineVersion: '16.4',
      DBInstanceClass: 'db.m6g.large',
      MultiAZ: true,
      AvailabilityZone: 'us-east-1a',
      SecondaryAvailabilityZone: 'us-east-1b',
      Endpoint: { Address: `${id}.c9akciq32.us-east-1.rds.amazonaws.com`, Port: 5432 },
      LatestRestorableTime: new Date(Date.now() - 4 * 60_000),
      DBParameterGroups: [{ DBParameterGroupName: 'orders-pg16', ParameterApplyStatus: 'in-sync' }],
      OptionGroupMemberships: [{ OptionGroupName: 'orders-og16', Status: 'in-sync' }],
      TagList: [],
      ...extra,
    });
  }

  /** An Aurora cluster (default) or, with `multiAz`, a Multi-AZ DB cluster (engine postgres, three instances). */
  addCluster(id: string, members: string[], options: { multiAz?: boolean } = {}): void {
    const multiAz = options.multiAz === true;
    this.clusters.set(id, {
      DBClusterIdentifier: id,
      Status: 'available',
      Engine: multiAz ? 'postgres' : 'aurora-postgresql',
      EngineVersion: '16.4',
      Endpoint: `${id}.cluster-c9akciq32.us-east-1.rds.amazonaws.com`,
      Port: 5432,
      LatestRestorableTime: new Date(Date.now() - 60_000),
      DBClusterParameterGroup: multiAz ? 'orders-maz-cpg16' : 'orders-aurora-cpg16',
      ...(multiAz ? { DBClusterInstanceClass: 'db.m6gd.large', StorageType: 'io1', Iops: 1000, MultiAZ: true } : {}),
      DBClusterMembers: members.map((m, i) => ({ DBInstanceIdentifier: m, IsClusterWriter: i === 0 })),
      TagList: [],
    });
    for (const m of members)
      this.addInstance(m, {
        Engine: multiAz ? 'postgres' : 'aurora-postgresql',
        DBClusterIdentifier: id,
        MultiAZ: false,
        DBParameterGroups: [{ DBParameterGroupName: multiAz ? 'default.postgres16' : 'orders-aurora-pg16', ParameterApplyStatus: 'in-sync' }],
        OptionGroupMemberships: [],
      });
  }

  calls(command: string): Record<string, unknown>[] {
    return this.log.filter((c) => c.command === command).map((c) => c.input);
  }

  mutatingCalls(): string[] {
    return this.log.filter((c) => MUTATING.includes(c.command)).map((c) => c.command);
  }

  event(sourceId: string, sourceType: 'db-instance' | 'db-cluster', message: string, at: Date, categories: string[]): void {
    this.events.push({ SourceIdentifier: sourceId, SourceType: sourceType, Message: message, EventCategories: categories, Date: at, SourceArn: `arn:aws:rds:us-east-1:123456789012:${sourceType === 'db-instance' ? 'db' : 'cluster'}:${sourceId}` });
  }

  private advance(): void {
    const now = this.now();
    for (const [id, i] of this.instances) {
      while (i.transitions?.length && i.transitions[0]![1] <= now) {
        const [status] = i.transitions.shift()!;
        if (status === '<gone>') {
          this.instances.delete(id);
          for (const c of this.clusters.values()) c.DBClusterMembers = c.DBClusterMembers?.filter((m) => m.DBInstanceIdentifier !== id);
          break;
        }
        i.DBInstanceStatus = status;
        if (i.script && status !== 'creating') i.Endpoint = { Address: i.script.endpoint.host, Port: i.script.endpoint.port };
      }
    }
    for (const [id, c] of this.clusters) {
      while (c.transitions?.length && c.transitions[0]![1] <= now) {
        const [status] = c.transitions.shift()!;
        if (status === '<gone>') {
          this.clusters.delete(id);
          break;
        }
        c.Status = status;
      }
    }
  }

  private copyTransitions(script: CopyScript, start: number): [string, number][] {
    if (script.never) return [];
    if (script.failsWith) return [['backing-up', start + script.endpointAfterMs], [script.failsWith, start + script.availableAfterMs]];
    return [['backing-up', start + script.endpointAfterMs], ['available', start + script.availableAfterMs]];
  }

  private instance(id: unknown): FakeInstance {
    const found = this.instances.get(String(id));
    if (!found) throw awsError('DBInstanceNotFoundFault', `DBInstance ${String(id)} not found.`);
    return found;
  }

  private cluster(id: unknown): FakeCluster {
    const found = this.clusters.get(String(id));
    if (!found) throw awsError('DBClusterNotFoundFault', `DBCluster ${String(id)} not found.`);
    return found;
  }

  private requireInstanceState(i: FakeInstance, allowed: string[], action: string): void {
    if (!allowed.includes(i.DBInstanceStatus ?? '')) throw awsError('InvalidDBInstanceStateFault', `Cannot ${action} DB instance ${i.DBInstanceIdentifier}: it is ${i.DBInstanceStatus}, not ${allowed.join(' or ')}.`);
  }

  private requireClusterState(c: FakeCluster, allowed: string[], action: string): void {
    if (!allowed.includes(c.Status ?? '')) throw awsError('InvalidDBClusterStateFault', `Cannot ${action} DB cluster ${c.DBClusterIdentifier}: it is ${c.Status}, not ${allowed.join(' or ')}.`);
  }

  /** The named groups must exist; absent names get RDS's defaults for the engine. */
  private groups(input: Record<string, unknown>, engine: string): { parameterGroup: string; optionGroup: string } {
    const parameterGroup = (input.DBParameterGroupName as string | undefined) ?? `default.${engine}16`;
    const optionGroup = (input.OptionGroupName as string | undefined) ?? `default:${engine}-16`;
    if (input.DBParameterGroupName && !this.parameterGroups.has(parameterGroup)) throw awsError('DBParameterGroupNotFoundFault', `DBParameterGroup ${parameterGroup} not found.`);
    if (input.OptionGroupName && !this.optionGroups.has(optionGroup)) throw awsError('OptionGroupNotFoundFault', `OptionGroup ${optionGroup} not found.`);
    if (input.DBSubnetGroupName && !this.subnetGroups.has(input.DBSubnetGroupName as string)) throw awsError('DBSubnetGroupNotFoundFault', `DBSubnetGroup ${String(input.DBSubnetGroupName)} not found.`);
    return { parameterGroup, optionGroup };
  }

  private newCopyInstance(id: string, input: Record<string, unknown>, extra: Partial<DBInstance> & { Engine: string; EngineVersion: string | undefined }): FakeInstance {
    if (this.instances.has(id)) throw awsError('DBInstanceAlreadyExistsFault', `DB instance already exists`);
    const { parameterGroup, optionGroup } = this.groups(input, extra.Engine);
    const start = this.now();
    const copy: FakeInstance = {
      DBInstanceIdentifier: id,
      DBInstanceStatus: 'creating',
      MultiAZ: false,
      PubliclyAccessible: input.PubliclyAccessible as boolean | undefined,
      DBInstanceClass: input.DBInstanceClass as string | undefined,
      DBSubnetGroup: { DBSubnetGroupName: input.DBSubnetGroupName as string | undefined },
      VpcSecurityGroups: ((input.VpcSecurityGroupIds as string[] | undefined) ?? []).map((g) => ({ VpcSecurityGroupId: g, Status: 'active' })),
      DBParameterGroups: [{ DBParameterGroupName: parameterGroup, ParameterApplyStatus: 'in-sync' }],
      OptionGroupMemberships: [{ OptionGroupName: optionGroup, Status: 'in-sync' }],
      CopyTagsToSnapshot: input.CopyTagsToSnapshot as boolean | undefined,
      TagList: input.Tags as Tag[] | undefined,
      createdAtMs: start,
      script: this.copyScript,
      transitions: this.copyTransitions(this.copyScript, start),
      ...extra,
    };
    this.instances.set(id, copy);
    return copy;
  }

  /** One page of a Describe answer (Marker is the offset, as opaque to callers as RDS's). */
  private page<T>(items: T[], input: Record<string, unknown>): { items: T[]; Marker?: string } {
    const max = input.MaxRecords as number | undefined;
    if (max !== undefined && (max < 20 || max > 100)) throw awsError('InvalidParameterValue', `MaxRecords must be between 20 and 100, got ${max}.`);
    const size = max ?? this.pageSize;
    const from = input.Marker ? Number.parseInt(String(input.Marker).replace(/^m/, ''), 10) : 0;
    const slice = items.slice(from, from + size);
    return from + size < items.length ? { items: slice, Marker: `m${from + size}` } : { items: slice };
  }

  private install(): void {
    const handlers: [new (input: never) => unknown, (input: Record<string, unknown>) => unknown][] = [
      [
        DescribeDBInstancesCommand,
        (input) => {
          const id = input.DBInstanceIdentifier as string | undefined;
          if (!id) {
            const { items, Marker } = this.page([...this.instances.values()], input);
            return { DBInstances: items.map(strip), Marker };
          }
          return { DBInstances: [strip(this.instance(id))] };
        },
      ],
      [
        DescribeDBClustersCommand,
        (input) => {
          const id = input.DBClusterIdentifier as string | undefined;
          if (!id) {
            const { items, Marker } = this.page([...this.clusters.values()], input);
            return { DBClusters: items.map(strip), Marker };
          }
          return { DBClusters: [strip(this.cluster(id))] };
        },
      ],
      [
        DescribeDBSnapshotsCommand,
        (input) => {
          const named = input.DBSnapshotIdentifier as string | undefined;
          const matching = this.snapshots.filter((s) => !s.cluster && (named ? s.id === named : !input.DBInstanceIdentifier || s.source === input.DBInstanceIdentifier));
          if (named && matching.length === 0) throw awsError('DBSnapshotNotFoundFault', `DBSnapshot ${named} not found.`);
          const { items, Marker } = this.page(matching, input);
          return {
            Marker,
            DBSnapshots: items.map((s) => ({ DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.source, SnapshotCreateTime: s.createdAt, Status: s.status ?? 'available', SnapshotType: 'automated', Engine: 'postgres', EngineVersion: s.engineVersion ?? '16.4' })),
          };
        },
      ],
      [
        DescribeDBClusterSnapshotsCommand,
        (input) => {
          const named = input.DBClusterSnapshotIdentifier as string | undefined;
          const matching = this.snapshots.filter((s) => s.cluster && (named ? s.id === named : !input.DBClusterIdentifier || s.source === input.DBClusterIdentifier));
          if (named && matching.length === 0) throw awsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${named} not found.`);
          const { items, Marker } = this.page(matching, input);
          return {
            Marker,
            DBClusterSnapshots: items.map((s) => ({ DBClusterSnapshotIdentifier: s.id, DBClusterIdentifier: s.source, SnapshotCreateTime: s.createdAt, Status: s.status ?? 'available', Engine: this.clusters.get(s.source)?.Engine ?? 'aurora-postgresql', EngineVersion: s.engineVersion ?? '16.4' })),
          };
        },
      ],
      [
        DescribeDBSubnetGroupsCommand,
        (input) => {
          const name = input.DBSubnetGroupName as string;
          if (!this.subnetGroups.has(name)) throw awsError('DBSubnetGroupNotFoundFault', `DBSubnetGroup ${name} not found.`);
          return { DBSubnetGroups: [{ DBSubnetGroupName: name, VpcId: 'vpc-0drill', Subnets: [{}, {}] }] };
        },
      ],
      [
        DescribeEventsCommand,
        (input) => {
          if (input.SourceIdentifier && !input.SourceType) throw awsError('InvalidParameterCombination', 'SourceType must be provided when SourceIdentifier is.');
          // Without StartTime or Duration, RDS returns the past hour.
          const start = (input.StartTime as Date | undefined)?.getTime() ?? this.now() - ((input.Duration as number | undefined) ?? 60) * 60_000;
          const matching = this.events
            .filter(
              (e) =>
                (!input.SourceIdentifier || e.SourceIdentifier === input.SourceIdentifier) &&
                (!input.SourceType || e.SourceType === input.SourceType) &&
                // EndTime is not applied: the recorded payloads are dated as RDS would date them,
                // up to a minute after the fact, which lies beyond a short test's window.
                e.Date!.getTime() >= start,
            )
            .sort((a, b) => a.Date!.getTime() - b.Date!.getTime());
          const { items, Marker } = this.page(matching, input);
          return { Events: items, Marker };
        },
      ],
      [
        RestoreDBInstanceToPointInTimeCommand,
        (input) => {
          this.onRestore(input);
          const source = this.instance(input.SourceDBInstanceIdentifier);
          return { DBInstance: strip(this.newCopyInstance(input.TargetDBInstanceIdentifier as string, input, { Engine: source.Engine ?? 'postgres', EngineVersion: source.EngineVersion })) };
        },
      ],
      [
        RestoreDBInstanceFromDBSnapshotCommand,
        (input) => {
          this.onRestore(input);
          const snapshot = this.snapshots.find((s) => !s.cluster && s.id === input.DBSnapshotIdentifier);
          if (!snapshot) throw awsError('DBSnapshotNotFoundFault', `DBSnapshot ${String(input.DBSnapshotIdentifier)} not found.`);
          return { DBInstance: strip(this.newCopyInstance(input.DBInstanceIdentifier as string, input, { Engine: 'postgres', EngineVersion: snapshot.engineVersion ?? '16.4' })) };
        },
      ],
      [RestoreDBClusterToPointInTimeCommand, (input) => this.newCopyCluster(input)],
      [RestoreDBClusterFromSnapshotCommand, (input) => this.newCopyCluster(input)],
      [
        CreateDBInstanceCommand,
        (input) => {
          const cluster = this.cluster(input.DBClusterIdentifier);
          if (!isAurora(cluster.Engine)) throw awsError('InvalidParameterCombination', `DB instances of the Multi-AZ DB cluster ${cluster.DBClusterIdentifier} are created with the cluster; CreateDBInstance does not apply.`);
          // "You can create DB instances only after the restore has completed and the DB cluster is available."
          this.requireClusterState(cluster, ['available'], 'create a DB instance in');
          if (input.Engine !== cluster.Engine) throw awsError('InvalidParameterCombination', `Engine ${String(input.Engine)} does not match the cluster's engine ${cluster.Engine}.`);
          cluster.DBClusterMembers = [...(cluster.DBClusterMembers ?? []), { DBInstanceIdentifier: input.DBInstanceIdentifier as string, IsClusterWriter: (cluster.DBClusterMembers ?? []).length === 0 }];
          return { DBInstance: strip(this.newCopyInstance(input.DBInstanceIdentifier as string, input, { Engine: cluster.Engine!, EngineVersion: cluster.EngineVersion, DBClusterIdentifier: cluster.DBClusterIdentifier })) };
        },
      ],
      [
        DeleteDBInstanceCommand,
        (input) => {
          const found = this.instance(input.DBInstanceIdentifier);
          const id = found.DBInstanceIdentifier!;
          const owner = found.DBClusterIdentifier ? this.clusters.get(found.DBClusterIdentifier) : undefined;
          if (owner && !isAurora(owner.Engine)) throw awsError('InvalidDBClusterStateFault', `DB instance ${id} belongs to the Multi-AZ DB cluster ${owner.DBClusterIdentifier}: delete the cluster.`);
          if (found.DBInstanceStatus === 'deleting') throw awsError('InvalidDBInstanceStateFault', `Instance ${id} is already being deleted.`);
          if (this.deleteRefusals > 0) {
            this.deleteRefusals--;
            throw awsError('InvalidDBInstanceStateFault', `Instance ${id} is not in available state.`);
          }
          found.DBInstanceStatus = 'deleting';
          found.transitions = [['<gone>', this.now() + this.durations.deleteMs]];
          return { DBInstance: strip(found) };
        },
      ],
      [
        DeleteDBClusterCommand,
        (input) => {
          const found = this.cluster(input.DBClusterIdentifier);
          const id = found.DBClusterIdentifier!;
          if (found.Status === 'deleting') throw awsError('InvalidDBClusterStateFault', `Cluster ${id} is already being deleted.`);
          const members = [...this.instances.values()].filter((i) => i.DBClusterIdentifier === id);
          if (isAurora(found.Engine) && members.some((i) => i.DBInstanceStatus !== 'deleting'))
            throw awsError('InvalidDBClusterStateFault', 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.');
          found.Status = 'deleting';
          found.transitions = [['<gone>', this.now() + this.durations.deleteMs]];
          // A Multi-AZ DB cluster's instances go with it.
          if (!isAurora(found.Engine))
            for (const i of members) {
              i.DBInstanceStatus = 'deleting';
              i.transitions = [['<gone>', this.now() + this.durations.deleteMs]];
            }
          return { DBCluster: strip(found) };
        },
      ],
      [
        RebootDBInstanceCommand,
        (input) => {
          const i = this.instance(input.DBInstanceIdentifier);
          const owner = i.DBClusterIdentifier ? this.clusters.get(i.DBClusterIdentifier) : undefined;
          if (owner && !isAurora(owner.Engine)) throw awsError('InvalidDBInstanceStateFault', `DB instance ${i.DBInstanceIdentifier} is in a Multi-AZ DB cluster: use RebootDBCluster.`);
          this.requireInstanceState(i, ['available'], 'reboot');
          if (input.ForceFailover && !i.MultiAZ) throw awsError('InvalidDBInstanceStateFault', 'Cannot force a failover for a non-Multi-AZ instance');
          i.DBInstanceStatus = 'rebooting';
          i.transitions = [['available', this.now() + this.durations.rebootMs]];
          this.onFault('RebootDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [
        RebootDBClusterCommand,
        (input) => {
          const c = this.cluster(input.DBClusterIdentifier);
          if (isAurora(c.Engine)) throw awsError('InvalidDBClusterStateFault', 'RebootDBCluster applies to Multi-AZ DB clusters only; reboot the Aurora instances with RebootDBInstance.');
          this.requireClusterState(c, ['available'], 'reboot');
          c.Status = 'rebooting';
          c.transitions = [['available', this.now() + this.durations.rebootMs]];
          this.onFault('RebootDBClusterCommand', input);
          return { DBCluster: strip(c) };
        },
      ],
      [
        FailoverDBClusterCommand,
        (input) => {
          const c = this.cluster(input.DBClusterIdentifier);
          this.requireClusterState(c, ['available'], 'fail over');
          if (input.TargetDBInstanceIdentifier && !c.DBClusterMembers?.some((m) => m.DBInstanceIdentifier === input.TargetDBInstanceIdentifier))
            throw awsError('InvalidDBInstanceStateFault', `${String(input.TargetDBInstanceIdentifier)} is not a member of ${c.DBClusterIdentifier}.`);
          c.Status = 'failing-over';
          c.transitions = [['available', this.now() + this.durations.failoverMs]];
          this.onFault('FailoverDBClusterCommand', input);
          return { DBCluster: strip(c) };
        },
      ],
      [
        StopDBInstanceCommand,
        (input) => {
          const i = this.instance(input.DBInstanceIdentifier);
          if (i.DBClusterIdentifier) throw awsError('InvalidDBInstanceStateFault', `DB instance ${i.DBInstanceIdentifier} is in a cluster: stop the cluster.`);
          this.requireInstanceState(i, ['available'], 'stop');
          i.DBInstanceStatus = 'stopping';
          i.transitions = [['stopped', this.now() + this.durations.stopMs]];
          this.onFault('StopDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [
        StartDBInstanceCommand,
        (input) => {
          const i = this.instance(input.DBInstanceIdentifier);
          this.requireInstanceState(i, ['stopped'], 'start');
          i.DBInstanceStatus = 'starting';
          i.transitions = [['available', this.now() + this.durations.startMs]];
          this.onStart('StartDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [
        StopDBClusterCommand,
        (input) => {
          const c = this.cluster(input.DBClusterIdentifier);
          this.requireClusterState(c, ['available'], 'stop');
          c.Status = 'stopping';
          c.transitions = [['stopped', this.now() + this.durations.stopMs]];
          this.onFault('StopDBClusterCommand', input);
          return { DBCluster: strip(c) };
        },
      ],
      [
        StartDBClusterCommand,
        (input) => {
          const c = this.cluster(input.DBClusterIdentifier);
          this.requireClusterState(c, ['stopped'], 'start');
          c.Status = 'starting';
          c.transitions = [['available', this.now() + this.durations.startMs]];
          this.onStart('StartDBClusterCommand', input);
          return { DBCluster: strip(c) };
        },
      ],
    ];
    for (const [command, handler] of handlers) {
      const name = (command as { name: string }).name;
      this.mock.on(command as never).callsFake(async (input: Record<string, unknown>) => {
        this.log.push({ command: name, at: Date.now(), input });
        const throttled = this.throttle.get(name) ?? 0;
        if (throttled > 0) {
          this.throttle.set(name, throttled - 1);
          throw Object.assign(awsError('ThrottlingException', 'Rate exceeded'), { $retryable: { throttling: true } });
        }
        this.advance();
        const result = handler(input);
        this.advance();
        return { $metadata: { httpStatusCode: 200 }, ...(result as object) };
      });
    }
  }

  private newCopyCluster(input: Record<string, unknown>): unknown {
    this.onRestore(input);
    const id = input.DBClusterIdentifier as string;
    if (this.clusters.has(id)) throw awsError('DBClusterAlreadyExistsFault', 'DB cluster already exists');
    let engine: string;
    let engineVersion: string | undefined;
    if (input.SnapshotIdentifier) {
      const snapshot = this.snapshots.find((s) => s.cluster && s.id === input.SnapshotIdentifier);
      if (!snapshot) throw awsError('DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${String(input.SnapshotIdentifier)} not found.`);
      if (!input.Engine) throw awsError('InvalidParameterValue', 'Engine is required.');
      engine = input.Engine as string;
      // Without EngineVersion, RDS uses the engine's default version in the region, not the snapshot's.
      engineVersion = (input.EngineVersion as string | undefined) ?? '17.2';
    } else {
      const source = this.cluster(input.SourceDBClusterIdentifier);
      engine = source.Engine ?? 'aurora-postgresql';
      engineVersion = source.EngineVersion;
    }
    const multiAz = !isAurora(engine);
    if (multiAz && !input.DBClusterInstanceClass) throw awsError('InvalidParameterCombination', 'DBClusterInstanceClass is required to restore a Multi-AZ DB cluster.');
    const clusterParameterGroup = (input.DBClusterParameterGroupName as string | undefined) ?? `default.${engine}16`;
    if (input.DBClusterParameterGroupName && !this.clusterParameterGroups.has(clusterParameterGroup)) throw awsError('DBClusterParameterGroupNotFoundFault', `DBClusterParameterGroup ${clusterParameterGroup} not found.`);
    if (input.OptionGroupName && !this.optionGroups.has(input.OptionGroupName as string)) throw awsError('OptionGroupNotFoundFault', `OptionGroup ${String(input.OptionGroupName)} not found.`);
    if (input.DBSubnetGroupName && !this.subnetGroups.has(input.DBSubnetGroupName as string)) throw awsError('DBSubnetGroupNotFoundFault', `DBSubnetGroup ${String(input.DBSubnetGroupName)} not found.`);
    const start = this.now();
    const cluster: FakeCluster = {
      DBClusterIdentifier: id,
      Status: 'creating',
      Engine: engine,
      EngineVersion: engineVersion,
      Endpoint: this.copyScript.endpoint.host,
      Port: this.copyScript.endpoint.port,
      DBClusterMembers: [],
      DBClusterParameterGroup: clusterParameterGroup,
      ...(multiAz ? { DBClusterInstanceClass: input.DBClusterInstanceClass as string, StorageType: input.StorageType as string | undefined, Iops: input.Iops as number | undefined } : {}),
      CopyTagsToSnapshot: input.CopyTagsToSnapshot as boolean | undefined,
      TagList: input.Tags as Tag[] | undefined,
      DBSubnetGroup: input.DBSubnetGroupName as string,
      VpcSecurityGroups: ((input.VpcSecurityGroupIds as string[] | undefined) ?? []).map((g) => ({ VpcSecurityGroupId: g, Status: 'active' })),
      createdAtMs: start,
      transitions: this.copyTransitions(this.copyScript, start).map(([s, at]) => [s === 'backing-up' ? 'creating' : s, at] as [string, number]),
    };
    this.clusters.set(id, cluster);
    if (multiAz) {
      // RDS creates a Multi-AZ DB cluster's writer and two readers itself.
      for (const [n, suffix] of ['instance-1', 'instance-2', 'instance-3'].entries()) {
        const member = `${id}-${suffix}`;
        cluster.DBClusterMembers!.push({ DBInstanceIdentifier: member, IsClusterWriter: n === 0 });
        this.newCopyInstance(member, { ...input, DBParameterGroupName: undefined, OptionGroupName: undefined }, { Engine: engine, EngineVersion: engineVersion, DBClusterIdentifier: id, DBInstanceClass: input.DBClusterInstanceClass as string });
      }
    }
    return { DBCluster: strip(cluster) };
  }
}

function strip<T extends object>(value: T): T {
  const { transitions: _t, script: _s, createdAtMs: _c, ...rest } = value as T & { transitions?: unknown; script?: unknown; createdAtMs?: unknown };
  return structuredClone(rest) as T;
}

/** A TCP gate in front of a real server: closed, it refuses (destroys) every connection. */
export interface Gate {
  port: number;
  open(): void;
  close(): void;
  stop(): Promise<void>;
}

export async function startGate(targetPort: number, initiallyOpen = true): Promise<Gate> {
  const proxy = await startTcpProxy(targetPort, { cut: !initiallyOpen });
  return { port: proxy.port, open: proxy.restore, close: proxy.cut, stop: proxy.close };
}
