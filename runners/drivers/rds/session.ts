/**
 * One run of the RDS driver: the SQL probe, heartbeat and checks through the declared
 * endpoint, provider-side faults, and a restore into an isolated, tagged copy (copy.ts).
 */
import path from 'node:path';
import type { DBCluster, DBInstance, Event } from '@aws-sdk/client-rds';
import type pg from 'pg';
import type { CheckResult, RpoMeasurement } from '../../../reports/run-record.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { describeMasking } from '../../../scenarios/masking.js';
import type { RdsSqlEndpoint, RdsTarget } from '../../../scenarios/schema-rds.js';
import type { Check, Fault, Recovery, Scenario } from '../../../scenarios/schema.js';
import type { Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import type { HeartbeatSink } from '../../probes/heartbeat.js';
import { type ProbeFn, runProbeLoop } from '../../probes/probe-loop.js';
import { describeSecret, resolveSecret } from '../../secrets.js';
import { driverFault } from '../../faults/registry.js';
import { runRecoveryCommand } from '../../recovery-command.js';
import { type ConnectionSettings, discard } from '../../sql/connection.js';
import { runSqlChecks } from '../../sql/checks.js';
import { createDrillObjects, describeDrillCleanup, missingDrillObjects, openHeartbeatSink, readPresentHeartbeats, sqlWriteProbe } from '../../sql/drill-tables.js';
import type { DriverSession, EndpointName, FaultEffect, RestoredCopy } from '../types.js';
import { type RdsDeps, call, describeCluster, describeError, describeEvents, describeInstance, drillTags, isMultiAzCluster } from './api.js';
import { copyIdentifier, describeSource, endpointLabel, findSnapshot, isRdsFault, rdsTarget, resourceOf } from './plan.js';
import { type CarriedSettings, type RdsCopy, pollCopy, settingsRecord, sourceSettings, waitClusterAvailable } from './copy.js';

const ms = (text: string | undefined) => (text ? (parseDuration(text) ?? 0) : 0);

export class RdsSession implements DriverSession {
  description = '';
  private readonly target: RdsTarget;
  private readonly baseDir: string;
  private readonly resource: { kind: 'instance' | 'cluster'; id: string };
  private readonly settings: Partial<Record<EndpointName, ConnectionSettings>> = {};
  private source: DBInstance | DBCluster | undefined;
  private heartbeatClients: pg.Client[] = [];
  private readonly stopPolling = new AbortController();
  private poller: Promise<void> | undefined;
  private copy: RdsCopy | undefined;
  private restorePoint: { at: string; method: string } | null = null;
  private snapshotUsed: string | null = null;
  private carried: CarriedSettings | null = null;
  private readonly eventSources: { id: string; type: 'db-instance' | 'db-cluster' }[] = [];

  constructor(
    private readonly ctx: RunContext,
    private readonly deps: RdsDeps,
  ) {
    this.target = rdsTarget(ctx.loaded);
    this.baseDir = path.dirname(ctx.loaded.file);
    this.resource = resourceOf(this.target);
    this.eventSources.push({ id: this.resource.id, type: this.resource.kind === 'instance' ? 'db-instance' : 'db-cluster' });
  }

  private get log() {
    return (message: string) => this.ctx.log(message);
  }

  async prepare(): Promise<void> {
    const { kind, id } = this.resource;
    this.source = kind === 'instance' ? await describeInstance(this.deps, id, this.ctx.signal, this.log) : await describeCluster(this.deps, id, this.ctx.signal, this.log);
    if (!this.source) throw new Error(`DB ${kind} ${id} was not found in this account and region (credentials and region come from the AWS provider chain)`);
    const region = await this.region();
    this.description = `AWS RDS ${describeSource(kind, id, this.source)} in ${region}`;
    if (this.target.production) {
      this.settings.primary = this.sqlSettings(this.target.production, this.sourceEndpoint());
      this.description += `; SQL ${endpointLabel(this.target.production, this.settings.primary.host)} (password ${describeSecret(this.target.production.password)})`;
      // What this run creates is journaled for removal before it is created.
      const missing = await missingDrillObjects(this.settings.primary);
      this.ctx.undo.push(
        {
          type: 'postgres.delete-run-rows',
          params: {
            endpoints: [{ host: this.settings.primary.host, port: this.settings.primary.port, database: this.target.production.database, user: this.target.production.user, password: this.target.production.password ?? null }],
            baseDir: this.baseDir,
            runId: this.ctx.runId,
            ...missing,
          },
        },
        describeDrillCleanup(missing, `${this.settings.primary.host}:${this.settings.primary.port}`),
      );
      await createDrillObjects(this.settings.primary, missing);
    }
    if (this.target.standby) {
      if (!this.target.standby.host || !this.target.standby.port) throw new Error('target.standby needs host and port');
      this.settings.standby = this.sqlSettings(this.target.standby, undefined);
    }
    this.ctx.record('RDS target described (read-only)', { source: describeSource(kind, id, this.source), region });
  }

  private async region(): Promise<string> {
    try {
      const region = await this.deps.client.config.region();
      return region ? `region ${region}` : 'the region of the AWS provider chain';
    } catch {
      return 'the region of the AWS provider chain';
    }
  }

  private sourceEndpoint(): { host: string; port: number } | undefined {
    const s = this.source as (DBInstance & DBCluster) | undefined;
    if (!s) return undefined;
    if (this.resource.kind === 'instance') return s.Endpoint?.Address ? { host: s.Endpoint.Address, port: s.Endpoint.Port ?? 5432 } : undefined;
    return s.Endpoint ? { host: s.Endpoint as unknown as string, port: s.Port ?? 5432 } : undefined;
  }

  private sqlSettings(declared: RdsSqlEndpoint, reported: { host: string; port: number } | undefined): ConnectionSettings {
    const host = declared.host ?? reported?.host;
    const port = declared.port ?? reported?.port;
    if (!host || !port) throw new Error('no SQL endpoint host/port declared and RDS reports none yet');
    const password = resolveSecret(declared.password, this.baseDir);
    this.ctx.addSecret(password);
    return { host, port, database: declared.database, user: declared.user, password };
  }

  endpoints(): Partial<Record<EndpointName, string>> {
    const labels: Partial<Record<EndpointName, string>> = {};
    for (const [name, s] of Object.entries(this.settings)) labels[name as EndpointName] = `${s.user}@${s.host}:${s.port}/${s.database}`;
    if (this.copy && !this.settings.restored) {
      const probe = this.target.copy!.probe;
      labels.restored = probe.host
        ? `${probe.user}@${probe.host}:${probe.port ?? this.sourceEndpoint()?.port ?? 5432}/${probe.database} (declared, to DB ${this.copy.kind} ${this.copy.id})`
        : `${probe.user}@<endpoint RDS reports for DB ${this.copy.kind} ${this.copy.id}>/${probe.database}`;
    }
    return labels;
  }

  private endpoint(name: EndpointName): ConnectionSettings {
    if (name === 'restored') return this.restoredSettings();
    const settings = this.settings[name];
    if (!settings) throw new Error(`no ${name} SQL endpoint is declared in target`);
    return settings;
  }

  private restoredSettings(): ConnectionSettings {
    if (this.settings.restored) return this.settings.restored;
    const copy = this.copy;
    if (!copy) throw new Error('no restored copy in this drill');
    if (copy.failure) throw new Error(`the restore failed: the copy is in status ${copy.failure}`);
    const declared = this.target.copy!.probe;
    // Without a declared host (a tunnel) there is nothing to connect to until RDS reports
    // the copy's endpoint; the probe fails fast meanwhile, so it stays the RTO clock.
    if (!declared.host && !copy.endpoint) throw new Error(`the copy has no endpoint yet (RDS status ${copy.status})`);
    this.settings.restored = this.sqlSettings(declared, copy.endpoint);
    return this.settings.restored;
  }

  async confirmSteadyState(ctx: RunContext): Promise<string[]> {
    const { kind, id } = this.resource;
    const now = kind === 'instance' ? await describeInstance(this.deps, id, ctx.signal, this.log) : await describeCluster(this.deps, id, ctx.signal, this.log);
    const status = (now as DBInstance | undefined)?.DBInstanceStatus ?? (now as DBCluster | undefined)?.Status;
    if (status !== 'available') throw new Error(`DB ${kind} ${id} is ${status ?? 'gone'}, not available: nothing was disrupted`);
    this.source = now;
    const facts = [`RDS reports DB ${kind} ${id} available`];
    for (const fault of ctx.loaded.scenario.spec.faults) facts.push(...(driverFault('rds', fault.type)?.preconditions?.(fault, { deps: this.deps, kind, id, source: now, log: this.log }) ?? []));
    return facts;
  }

  writeProbe(name: EndpointName): ProbeFn {
    const timeoutMs = ms(this.ctx.loaded.scenario.spec.probes.timeout) + 1_000;
    if (name === 'primary' && !this.settings.primary) {
      // No production SQL endpoint (a restore drill): steady state is the source being
      // available as RDS reports it; nothing is written.
      return async (_attempt, signal) => {
        const { kind, id } = this.resource;
        const now = kind === 'instance' ? await describeInstance(this.deps, id, signal) : await describeCluster(this.deps, id, signal);
        const status = (now as DBInstance | undefined)?.DBInstanceStatus ?? (now as DBCluster | undefined)?.Status;
        if (status !== 'available') throw new Error(`DB ${kind} ${id} is ${status ?? 'gone'}`);
      };
    }
    return sqlWriteProbe(() => this.endpoint(name), this.ctx.runId, timeoutMs, { createMissing: name === 'restored' });
  }

  async heartbeatSink(name: EndpointName): Promise<HeartbeatSink> {
    if (name === 'primary' && !this.settings.primary)
      return {
        write: async () => {
          throw new Error('no production SQL endpoint: no heartbeat is written (the RPO comes from the restore point)');
        },
      };
    const { sink, client } = await openHeartbeatSink(this.endpoint(name), this.ctx.runId);
    this.heartbeatClients.push(client);
    return sink;
  }

  presentHeartbeats(name: EndpointName): Promise<Set<number>> {
    return readPresentHeartbeats(this.endpoint(name), this.ctx.runId);
  }

  async injectFault(fault: Fault, ctx: RunContext, markT0: (action: string) => Instant): Promise<FaultEffect> {
    if (!isRdsFault(fault)) throw new Error(`fault ${fault.type} is not an rds fault`);
    const { kind, id } = this.resource;
    const { description } = await driverFault('rds', fault.type)!.inject(fault, { ctx, markT0, target: { deps: this.deps, kind, id, source: this.source, log: this.log } });
    const outage = await this.awaitOutage(ctx);
    // What RDS itself says right after the request (rebooting, stopping, failing-over…): secondary.
    let status: string | undefined;
    try {
      const now = kind === 'instance' ? await describeInstance(this.deps, id, ctx.signal, this.log) : await describeCluster(this.deps, id, ctx.signal, this.log);
      status = (now as DBInstance | undefined)?.DBInstanceStatus ?? (now as DBCluster | undefined)?.Status;
    } catch (error) {
      this.log(`could not read the status of DB ${kind} ${id} after the fault: ${describeError(error)}`);
    }
    const how = `${outage.how}; RDS status of DB ${kind} ${id} afterwards: ${status ?? 'unknown'}`;
    // `observed` is what the generic "no pass without an outage" rule reads; `observedEffect` keeps when.
    return { description, observed: `${how} (at ${outage.at})`, observedEffect: { at: outage.at, how } };
  }

  /**
   * A provider-side fault takes effect seconds after the request. Until the client sees it
   * (a failed write through the production endpoint), a "recovered" probe would measure
   * nothing, so the fault counts as in effect once a probe fails.
   */
  private async awaitOutage(ctx: RunContext): Promise<{ at: string; how: string }> {
    if (!this.settings.primary) throw new Error('a failover drill needs target.production: no client could see the fault');
    const probes = ctx.loaded.scenario.spec.probes;
    const loop = await runProbeLoop({
      name: 'fault-effect:primary',
      probe: this.writeProbe('primary'),
      clock: ctx.clock,
      intervalMs: ms(probes.interval),
      timeoutMs: ms(probes.timeout),
      stableFor: Number.MAX_SAFE_INTEGER,
      maxWaitMs: ms(probes.maxWait),
      signal: ctx.signal,
      onAttempt: (attempt) => ctx.probeAttempt(attempt),
      stopWhen: (attempt) => !attempt.ok,
    });
    const failure = loop.attempts.find((a) => !a.ok);
    if (!failure) throw new Error(`no client saw the fault within ${probes.maxWait}: every write through the production endpoint succeeded`);
    ctx.record('outage observed by the client (first failed write through the production endpoint)', { error: failure.error });
    return { at: failure.startedAt, how: `first failed write through the production endpoint (${failure.error ?? 'failed'})` };
  }

  async recover(recovery: Recovery, ctx: RunContext): Promise<string> {
    switch (recovery.action) {
      case 'none':
        return 'no recovery action: RDS fails over or restarts by itself';
      case 'command':
        return runRecoveryCommand(recovery, ctx);
      default:
        throw new Error(`recovery action ${recovery.action} does not apply to RDS`);
    }
  }

  async requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant): Promise<RestoredCopy> {
    const copySpec = this.target.copy!;
    const { kind, id: sourceId } = this.resource;
    const d = this.deps;
    const copyId = copyIdentifier(sourceId, ctx.runId);
    // An Aurora copy needs a member instance; a Multi-AZ DB cluster gets its instances from RDS.
    const member = kind === 'cluster' && !isMultiAzCluster(this.source as DBCluster | undefined) ? `${copyId}-1` : undefined;
    const keepMs = ms(restore.keep);
    const keepUntil = keepMs > 0 ? new Date(ctx.clock.wallMs() + keepMs).toISOString() : null;
    const snapshot = copySpec.snapshot ? await findSnapshot(d, kind, sourceId, copySpec.snapshot, ctx.signal) : null;
    const isolation = { DBSubnetGroupName: copySpec.subnetGroup, VpcSecurityGroupIds: copySpec.securityGroups, Tags: drillTags(ctx.runId, ctx.loaded.scenario.metadata.name) };
    // Registered before the request: a crash right after it leaves the deletion in the journal.
    ctx.undo.push(
      { type: 'rds.delete-copy', params: { kind, id: copyId, instances: member ? [member] : [], keepUntil, runId: ctx.runId } },
      keepUntil ? `delete the restored copy DB ${kind} ${copyId} after ${restore.keep} (${restore.reason}) and verify` : `delete the restored copy DB ${kind} ${copyId}${member ? ` and its member ${member}` : ''}, and verify it is gone`,
    );
    this.copy = { kind, id: copyId, member, status: 'requested' };
    this.eventSources.push({ id: copyId, type: kind === 'instance' ? 'db-instance' : 'db-cluster' }, ...(member ? [{ id: member, type: 'db-instance' as const }] : []));

    const source = this.source as (DBInstance & DBCluster) | undefined;
    let engine = source?.Engine;
    const multiAz = kind === 'cluster' && isMultiAzCluster(source);
    // The copy runs with the source's parameter and option groups and engine version, not
    // RDS's defaults: a drill must not pass or fail on settings a real recovery would keep.
    const carried = await sourceSettings(this.deps, kind, this.source, snapshot, ctx.signal, this.log);
    this.carried = carried;
    const instanceGroups = { ...(carried.DBParameterGroupName ? { DBParameterGroupName: carried.DBParameterGroupName } : {}), ...(carried.OptionGroupName ? { OptionGroupName: carried.OptionGroupName } : {}) };
    const clusterGroups = {
      ...(carried.DBClusterParameterGroupName ? { DBClusterParameterGroupName: carried.DBClusterParameterGroupName } : {}),
      ...(carried.OptionGroupName ? { OptionGroupName: carried.OptionGroupName } : {}),
      // A Multi-AZ DB cluster is restored with its instances: their class (and the source's storage).
      ...(multiAz ? { DBClusterInstanceClass: copySpec.instanceClass, ...(source?.StorageType ? { StorageType: source.StorageType } : {}), ...(source?.Iops ? { Iops: source.Iops } : {}) } : {}),
    };
    // CopyTagsToSnapshot: snapshots RDS takes of the copy carry the drill tags, so the delete
    // policy (tagged resources only) covers them (docs/infra.md).
    const placement = { ...isolation, CopyTagsToSnapshot: true };
    if (snapshot) {
      this.snapshotUsed = `${kind === 'instance' ? 'DB snapshot' : 'DB cluster snapshot'} ${snapshot.id} (created ${snapshot.createdAt})`;
      this.restorePoint = { at: snapshot.createdAt, method: `snapshot ${snapshot.id} creation time (SnapshotCreateTime)` };
      markT0(`restore requested: ${snapshot.id} → DB ${kind} ${copyId}`);
      if (kind === 'instance')
        await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: copyId, DBSnapshotIdentifier: snapshot.id, PubliclyAccessible: false, MultiAZ: false, ...(copySpec.instanceClass ? { DBInstanceClass: copySpec.instanceClass } : {}), ...instanceGroups, ...placement }), o), this.log);
      else {
        // Without EngineVersion RDS restores with the engine's default version, not the snapshot's.
        const out = await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: copyId, SnapshotIdentifier: snapshot.id, Engine: engine, ...(carried.EngineVersion ? { EngineVersion: carried.EngineVersion } : {}), ...clusterGroups, ...placement }), o), this.log);
        engine = out.DBCluster?.Engine ?? engine;
      }
    } else {
      const latest = restore.restoreTo === 'latest';
      if (latest) {
        // The restore point of "latest" is the LatestRestorableTime as RDS reports it at T0.
        const now = kind === 'instance' ? await describeInstance(d, sourceId, ctx.signal, this.log) : await describeCluster(d, sourceId, ctx.signal, this.log);
        const lrt = now?.LatestRestorableTime;
        this.restorePoint = lrt ? { at: lrt.toISOString(), method: 'LatestRestorableTime read from RDS at T0' } : null;
      } else {
        this.restorePoint = { at: new Date(restore.restoreTo).toISOString(), method: 'the declared restore time' };
      }
      const when = latest ? { UseLatestRestorableTime: true } : kind === 'instance' ? { RestoreTime: new Date(restore.restoreTo) } : { RestoreToTime: new Date(restore.restoreTo) };
      markT0(`restore requested: DB ${kind} ${sourceId} at ${latest ? 'latest restorable time' : restore.restoreTo} → ${copyId}`);
      if (kind === 'instance')
        await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: sourceId, TargetDBInstanceIdentifier: copyId, PubliclyAccessible: false, MultiAZ: false, ...(copySpec.instanceClass ? { DBInstanceClass: copySpec.instanceClass } : {}), ...instanceGroups, ...when, ...placement }), o), this.log);
      else {
        const out = await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RestoreDBClusterToPointInTimeCommand({ SourceDBClusterIdentifier: sourceId, DBClusterIdentifier: copyId, ...clusterGroups, ...when, ...placement }), o), this.log);
        engine = out.DBCluster?.Engine ?? engine;
      }
    }
    if (member) {
      // RDS accepts CreateDBInstance into a restored Aurora cluster only once the cluster is
      // available (InvalidDBClusterStateFault before, not retried): wait for it. The wait is
      // part of the restore, so it counts in the RTO.
      await waitClusterAvailable(this.ctx, this.deps, copyId, this.target.pollInterval, ctx.signal);
      ctx.record(`RDS reports the cluster copy ${copyId} available: creating its member instance ${member}`);
      await call(d, ctx.signal, (o) =>
        d.client.send(new d.sdk.CreateDBInstanceCommand({ DBInstanceIdentifier: member, DBClusterIdentifier: copyId, Engine: engine, DBInstanceClass: copySpec.instanceClass, PubliclyAccessible: false, ...(carried.memberParameterGroupName ? { DBParameterGroupName: carried.memberParameterGroupName } : {}), Tags: isolation.Tags }), o),
      this.log);
    }
    ctx.record('restore carries the source settings (parameter and option groups, engine version)', { ...settingsRecord(this.carried) });
    ctx.record('restore requested from RDS', { copy: copyId, kind, member: member ?? null, restorePoint: this.restorePoint?.at ?? null, restorePointFrom: this.restorePoint?.method ?? null });
    this.poller = pollCopy(this.ctx, this.deps, this.copy, this.target.pollInterval, this.stopPolling.signal);
    const region = await this.region();
    return {
      endpoint: 'restored',
      record: {
        location: `RDS DB ${kind} ${copyId}${member ? ` (member instance ${member})` : ''} in ${region}; subnet group ${copySpec.subnetGroup}`,
        port: copySpec.probe.port ?? this.sourceEndpoint()?.port ?? 5432,
        access: restore.access ?? `not publicly accessible; reachable only inside subnet group ${copySpec.subnetGroup} through security groups ${copySpec.securityGroups.join(', ')}, by holders of the source's database credentials`,
        masking: describeMasking(restore.masking),
        restorePoint: this.restorePoint ? `${this.restorePoint.at} (${this.restorePoint.method})` : restore.restoreTo,
        baseBackup: this.snapshotUsed ?? `automated backups of DB ${kind} ${sourceId} (point-in-time restore)`,
        kept: keepUntil ? `until ${keepUntil} (${restore.keep}): ${restore.reason ?? ''}; deleted then by drillbook recover, recorded in deferred.jsonl` : null,
      },
    };
  }

  runChecks(checks: Check[], name: EndpointName, ctx: RunContext): Promise<CheckResult[]> {
    return runSqlChecks(checks, this.endpoint(name), () => this.endpoint('primary'), ctx.signal);
  }

  restorePointRpo(t0: Instant): RpoMeasurement | null {
    const spec = this.ctx.loaded.scenario.spec;
    // With a heartbeat writer on production, a point-in-time "latest" restore is measured by heartbeats.
    if (this.settings.primary && !this.snapshotUsed) return null;
    if (!this.restorePoint || (spec.restore && spec.restore.restoreTo !== 'latest')) return null;
    const seconds = Math.round((Date.parse(t0.at) - Date.parse(this.restorePoint.at))) / 1000;
    return {
      seconds,
      errorSeconds: 1,
      lostWrites: 0,
      method: `restore point: T0 (the restore request, drillbook's clock) − ${this.restorePoint.method} (${this.restorePoint.at}, RDS's clock, second precision); lost writes are not counted without a heartbeat writer on production`,
      heartbeatInterval: 0,
      acknowledged: 0,
      newestPresentSeq: null,
      newestPresentAt: this.restorePoint.at,
      missingSeqs: [],
      lowerBoundOnly: false,
    };
  }

  integrityNotes(): { backup: string | null; notes: string[] } {
    const notes: string[] = [];
    if (this.copy) {
      notes.push(`copy ${this.copy.id} created not publicly accessible in subnet group ${this.target.copy!.subnetGroup}, tagged drillbook:run-id=${this.ctx.runId} and drillbook:drill=true`);
      if (this.restorePoint) notes.push(`restore point ${this.restorePoint.at}: ${this.restorePoint.method}`);
      const carried = Object.entries(settingsRecord(this.carried)).filter(([, v]) => v !== null);
      notes.push(`copy created with the source's settings: ${carried.length ? carried.map(([k, v]) => `${k} ${v}`).join(', ') : 'none reported by RDS'}`);
      notes.push(`last RDS status of the copy: ${this.copy.status}`);
    }
    return { backup: this.snapshotUsed ?? (this.copy ? `automated backups of DB ${this.resource.kind} ${this.resource.id}` : null), notes };
  }

  async close(): Promise<void> {
    this.stopPolling.abort();
    await this.poller?.catch(() => undefined);
    for (const client of this.heartbeatClients) discard(client);
    this.heartbeatClients = [];
    await this.recordEvents();
  }

  /** DescribeEvents for the run's window: what RDS says happened, kept as secondary evidence. */
  private async recordEvents(): Promise<void> {
    const start = new Date(this.ctx.clock.originWall - 60_000);
    const end = new Date(this.ctx.clock.wallMs() + 1_000);
    const signal = AbortSignal.timeout(20_000);
    const events: (Event & { source: string })[] = [];
    for (const source of this.eventSources) {
      try {
        for (const event of await describeEvents(this.deps, { SourceIdentifier: source.id, SourceType: source.type, StartTime: start, EndTime: end }, signal)) events.push({ ...event, source: source.id });
      } catch (error) {
        this.ctx.record(`RDS events for ${source.id} could not be read: ${describeError(error)}`);
      }
    }
    events.sort((a, b) => (a.Date?.getTime() ?? 0) - (b.Date?.getTime() ?? 0));
    for (const event of events)
      this.ctx.record(`RDS event (secondary evidence): ${event.SourceIdentifier ?? event.source}: ${event.Message ?? ''}`, {
        rdsEventAt: event.Date?.toISOString() ?? null,
        categories: event.EventCategories ?? [],
        sourceType: event.SourceType ?? null,
      });
    if (events.length > 0) await this.ctx.attach('rds-events.json', JSON.stringify(events, null, 2));
  }
}
