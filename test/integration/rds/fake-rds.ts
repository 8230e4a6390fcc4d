/**
 * A small stateful RDS behind aws-sdk-client-mock: instances, clusters, snapshots and events
 * that change over (real) time the way the service does — a restored copy is `creating`,
 * then gets an endpoint, then is `available`; a delete goes through `deleting` to "not
 * found". Every call is recorded by the mock, so tests assert on what drillbook asked for.
 * The endpoint RDS reports for a copy is a real PostgreSQL (or a gate in front of one).
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
  'FailoverDBClusterCommand',
  'StopDBInstanceCommand',
  'StopDBClusterCommand',
  'StartDBInstanceCommand',
  'StartDBClusterCommand',
];

/** How a restored copy behaves over time (ms after the restore request). */
export interface CopyScript {
  endpointAfterMs: number;
  availableAfterMs: number;
  /** Never becomes available: ends in this status instead (e.g. incompatible-restore). */
  failsWith?: string;
  /** Stays `creating` for ever (a copy that takes too long). */
  never?: boolean;
  endpoint: { host: string; port: number };
}

interface FakeInstance extends DBInstance {
  createdAtMs?: number;
  script?: CopyScript;
  /** Status changes still to come: [status, at epoch ms]. */
  transitions?: [string, number][];
}

export class FakeRds {
  readonly client = new RDSClient({ region: 'us-east-1' });
  readonly mock = mockClient(RDSClient);
  readonly instances = new Map<string, FakeInstance>();
  readonly clusters = new Map<string, DBCluster & { transitions?: [string, number][]; createdAtMs?: number; script?: CopyScript }>();
  readonly snapshots: { id: string; source: string; createdAt: Date; cluster: boolean }[] = [];
  readonly events: Event[] = [];
  copyScript: CopyScript = { endpointAfterMs: 0, availableAfterMs: 0, endpoint: { host: '127.0.0.1', port: 1 } };
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

  constructor() {
    this.install();
  }

  restore(): void {
    this.mock.restore();
  }

  addInstance(id: string, extra: Partial<DBInstance> = {}): void {
    this.instances.set(id, {
      DBInstanceIdentifier: id,
      DBInstanceStatus: 'available',
      Engine: 'postgres',
      EngineVersion: '16.4',
      MultiAZ: true,
      AvailabilityZone: 'us-east-1a',
      SecondaryAvailabilityZone: 'us-east-1b',
      Endpoint: { Address: `${id}.c9akciq32.us-east-1.rds.amazonaws.com`, Port: 5432 },
      LatestRestorableTime: new Date(Date.now() - 4 * 60_000),
      TagList: [],
      ...extra,
    });
  }

  addCluster(id: string, members: string[]): void {
    this.clusters.set(id, {
      DBClusterIdentifier: id,
      Status: 'available',
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      Endpoint: `${id}.cluster-c9akciq32.us-east-1.rds.amazonaws.com`,
      Port: 5432,
      LatestRestorableTime: new Date(Date.now() - 60_000),
      DBClusterMembers: members.map((m, i) => ({ DBInstanceIdentifier: m, IsClusterWriter: i === 0 })),
      TagList: [],
    });
    for (const m of members) this.addInstance(m, { Engine: 'aurora-postgresql', DBClusterIdentifier: id, MultiAZ: false });
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
    const now = Date.now();
    for (const [id, i] of this.instances) {
      while (i.transitions?.length && i.transitions[0]![1] <= now) {
        const [status] = i.transitions.shift()!;
        if (status === '<gone>') {
          this.instances.delete(id);
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

  private newCopyInstance(id: string, input: Record<string, unknown>, extra: Partial<DBInstance> = {}): FakeInstance {
    if (this.instances.has(id)) throw awsError('DBInstanceAlreadyExistsFault', `DB instance already exists`);
    const start = Date.now();
    const copy: FakeInstance = {
      DBInstanceIdentifier: id,
      DBInstanceStatus: 'creating',
      Engine: 'postgres',
      MultiAZ: false,
      PubliclyAccessible: input.PubliclyAccessible as boolean | undefined,
      DBSubnetGroup: { DBSubnetGroupName: input.DBSubnetGroupName as string | undefined },
      VpcSecurityGroups: ((input.VpcSecurityGroupIds as string[] | undefined) ?? []).map((g) => ({ VpcSecurityGroupId: g, Status: 'active' })),
      TagList: input.Tags as Tag[] | undefined,
      createdAtMs: start,
      script: this.copyScript,
      transitions: this.copyTransitions(this.copyScript, start),
      ...extra,
    };
    this.instances.set(id, copy);
    return copy;
  }

  private install(): void {
    const handlers: [new (input: never) => unknown, (input: Record<string, unknown>) => unknown][] = [
      [
        DescribeDBInstancesCommand,
        (input) => {
          const id = input.DBInstanceIdentifier as string | undefined;
          if (!id) return { DBInstances: [...this.instances.values()].map(strip) };
          const found = this.instances.get(id);
          if (!found) throw awsError('DBInstanceNotFoundFault', `DBInstance ${id} not found.`);
          return { DBInstances: [strip(found)] };
        },
      ],
      [
        DescribeDBClustersCommand,
        (input) => {
          const id = input.DBClusterIdentifier as string | undefined;
          if (!id) return { DBClusters: [...this.clusters.values()].map(strip) };
          const found = this.clusters.get(id);
          if (!found) throw awsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`);
          return { DBClusters: [strip(found)] };
        },
      ],
      [
        DescribeDBSnapshotsCommand,
        (input) => ({
          DBSnapshots: this.snapshots
            .filter((s) => !s.cluster && (input.DBInstanceIdentifier ? s.source === input.DBInstanceIdentifier : s.id === input.DBSnapshotIdentifier))
            .map((s) => ({ DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.source, SnapshotCreateTime: s.createdAt, Status: 'available', SnapshotType: 'automated' })),
        }),
      ],
      [
        DescribeDBClusterSnapshotsCommand,
        (input) => ({
          DBClusterSnapshots: this.snapshots
            .filter((s) => s.cluster && (input.DBClusterIdentifier ? s.source === input.DBClusterIdentifier : s.id === input.DBClusterSnapshotIdentifier))
            .map((s) => ({ DBClusterSnapshotIdentifier: s.id, DBClusterIdentifier: s.source, SnapshotCreateTime: s.createdAt, Status: 'available' })),
        }),
      ],
      [DescribeDBSubnetGroupsCommand, (input) => ({ DBSubnetGroups: [{ DBSubnetGroupName: input.DBSubnetGroupName, VpcId: 'vpc-0drill', Subnets: [{}, {}] }] })],
      [
        DescribeEventsCommand,
        (input) => ({
          Events: this.events.filter(
            (e) =>
              e.SourceIdentifier === input.SourceIdentifier &&
              // EndTime is not applied: the recorded payloads are dated as RDS would date them,
              // up to a minute after the fact, which lies beyond a short test's window.
              (!input.StartTime || e.Date! >= (input.StartTime as Date)),
          ),
        }),
      ],
      [
        RestoreDBInstanceToPointInTimeCommand,
        (input) => {
          this.onRestore(input);
          if (!this.instances.has(input.SourceDBInstanceIdentifier as string)) throw awsError('DBInstanceNotFoundFault', 'source not found');
          return { DBInstance: strip(this.newCopyInstance(input.TargetDBInstanceIdentifier as string, input)) };
        },
      ],
      [
        RestoreDBInstanceFromDBSnapshotCommand,
        (input) => {
          this.onRestore(input);
          if (!this.snapshots.some((s) => s.id === input.DBSnapshotIdentifier)) throw awsError('DBSnapshotNotFoundFault', 'snapshot not found');
          return { DBInstance: strip(this.newCopyInstance(input.DBInstanceIdentifier as string, input)) };
        },
      ],
      [RestoreDBClusterToPointInTimeCommand, (input) => this.newCopyCluster(input)],
      [RestoreDBClusterFromSnapshotCommand, (input) => this.newCopyCluster(input)],
      [
        CreateDBInstanceCommand,
        (input) => {
          const cluster = this.clusters.get(input.DBClusterIdentifier as string);
          if (!cluster) throw awsError('DBClusterNotFoundFault', 'cluster not found');
          cluster.DBClusterMembers = [...(cluster.DBClusterMembers ?? []), { DBInstanceIdentifier: input.DBInstanceIdentifier as string, IsClusterWriter: true }];
          return { DBInstance: strip(this.newCopyInstance(input.DBInstanceIdentifier as string, input, { Engine: input.Engine as string, DBClusterIdentifier: cluster.DBClusterIdentifier })) };
        },
      ],
      [
        DeleteDBInstanceCommand,
        (input) => {
          const id = input.DBInstanceIdentifier as string;
          const found = this.instances.get(id);
          if (!found) throw awsError('DBInstanceNotFoundFault', `DBInstance ${id} not found.`);
          if (this.deleteRefusals > 0) {
            this.deleteRefusals--;
            throw awsError('InvalidDBInstanceStateFault', `Instance ${id} is not in available state.`);
          }
          found.DBInstanceStatus = 'deleting';
          found.transitions = [['<gone>', Date.now() + 50]];
          for (const c of this.clusters.values()) c.DBClusterMembers = c.DBClusterMembers?.filter((m) => m.DBInstanceIdentifier !== id);
          return { DBInstance: strip(found) };
        },
      ],
      [
        DeleteDBClusterCommand,
        (input) => {
          const id = input.DBClusterIdentifier as string;
          const found = this.clusters.get(id);
          if (!found) throw awsError('DBClusterNotFoundFault', `DBCluster ${id} not found.`);
          if ([...this.instances.values()].some((i) => i.DBClusterIdentifier === id && i.DBInstanceStatus !== 'deleting'))
            throw awsError('InvalidDBClusterStateFault', 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.');
          found.Status = 'deleting';
          found.transitions = [['<gone>', Date.now() + 50]];
          return { DBCluster: strip(found) };
        },
      ],
      [
        RebootDBInstanceCommand,
        (input) => {
          const i = this.instances.get(input.DBInstanceIdentifier as string);
          if (!i) throw awsError('DBInstanceNotFoundFault', 'not found');
          if (input.ForceFailover && !i.MultiAZ) throw awsError('InvalidDBInstanceStateFault', 'Cannot force a failover for a non-Multi-AZ instance');
          i.DBInstanceStatus = 'rebooting';
          i.transitions = [['available', Date.now() + 500]];
          this.onFault('RebootDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [
        FailoverDBClusterCommand,
        (input) => {
          const c = this.clusters.get(input.DBClusterIdentifier as string);
          if (!c) throw awsError('DBClusterNotFoundFault', 'not found');
          c.Status = 'failing-over';
          c.transitions = [['available', Date.now() + 500]];
          this.onFault('FailoverDBClusterCommand', input);
          return { DBCluster: strip(c) };
        },
      ],
      [
        StopDBInstanceCommand,
        (input) => {
          const i = this.instances.get(input.DBInstanceIdentifier as string);
          if (!i) throw awsError('DBInstanceNotFoundFault', 'not found');
          i.DBInstanceStatus = 'stopping';
          i.transitions = [['stopped', Date.now() + 100]];
          this.onFault('StopDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [
        StartDBInstanceCommand,
        (input) => {
          const i = this.instances.get(input.DBInstanceIdentifier as string);
          if (!i) throw awsError('DBInstanceNotFoundFault', 'not found');
          if (i.DBInstanceStatus !== 'stopped') throw awsError('InvalidDBInstanceStateFault', `Instance ${i.DBInstanceIdentifier} cannot be started as it is not in stopped state (${i.DBInstanceStatus}).`);
          i.DBInstanceStatus = 'starting';
          i.transitions = [['available', Date.now() + 100]];
          this.onStart('StartDBInstanceCommand', input);
          return { DBInstance: strip(i) };
        },
      ],
      [StopDBClusterCommand, () => ({})],
      [StartDBClusterCommand, () => ({})],
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
    const source = this.clusters.get((input.SourceDBClusterIdentifier as string | undefined) ?? '') ?? [...this.clusters.values()][0];
    const start = Date.now();
    const cluster = {
      DBClusterIdentifier: id,
      Status: 'creating',
      Engine: source?.Engine ?? 'aurora-postgresql',
      Endpoint: this.copyScript.endpoint.host,
      Port: this.copyScript.endpoint.port,
      DBClusterMembers: [],
      TagList: input.Tags as Tag[] | undefined,
      DBSubnetGroup: input.DBSubnetGroupName as string,
      VpcSecurityGroups: ((input.VpcSecurityGroupIds as string[] | undefined) ?? []).map((g) => ({ VpcSecurityGroupId: g, Status: 'active' })),
      createdAtMs: start,
      transitions: this.copyTransitions(this.copyScript, start).map(([s, at]) => [s === 'backing-up' ? 'creating' : s, at] as [string, number]),
    };
    this.clusters.set(id, cluster);
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
