/**
 * One run of the postgres driver against its target: the sandbox it builds, a fixed primary
 * (and standby), or a cluster found through its endpoint. The parallel restore is
 * restore-copy.ts; what is read from the scenario's target is target-settings.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { CheckResult, TopologyRecord } from '../../../reports/run-record.js';
import type { Check, Fault, PgEndpoint, PostgresTarget, Recovery, Scenario } from '../../../scenarios/schema.js';
import type { Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import type { HeartbeatSink } from '../../probes/heartbeat.js';
import type { ProbeFn } from '../../probes/probe-loop.js';
import { describeSecret, resolveSecret } from '../../secrets.js';
import { driverFault } from '../../faults/registry.js';
import { runRecoveryCommand } from '../../recovery-command.js';
import { type OsUser, databaseUser, unreachableAncestor } from '../../system.js';
import type { DriverSession, EndpointName, FaultEffect, RestoredCopy } from '../types.js';
import { type PgBinaries, pgBinaries } from './binaries.js';
import { type Sandbox, buildSandbox } from './sandbox.js';
import { type ConnectionSettings, connect, discard } from '../../sql/connection.js';
import { runSqlChecks } from '../../sql/checks.js';
import { createDrillObjects, describeDrillCleanup, ensureDrillTables, HEARTBEAT_TABLE, missingDrillObjects, openHeartbeatSink, PROBE_TABLE, readPresentHeartbeats, sqlWriteProbe } from '../../sql/drill-tables.js';
import { postmasterPid, serverProcesses } from './server.js';
import { ClusterTarget, type CheckedPostmaster, stillSamePostmaster } from './cluster.js';
import { parseEndpoint, preflightEndpoint } from './endpoint.js';
import { checkProcessesBelong, readPostmasterPid, serverIdentity } from './identity.js';
import type { PostgresFaultTarget } from './fault-target.js';
import { RefusedBeforeT0 } from '../../refusal.js';
import { PostgresRestore } from './restore-copy.js';
import { endpointLabel, ms, postgresTarget } from './target-settings.js';

const MAX_LOG_CHARS = 256 * 1024;

export class PostgresSession implements DriverSession {
  description = '';
  private readonly target: PostgresTarget;
  private readonly baseDir: string;
  private readonly settings: Partial<Record<EndpointName, ConnectionSettings>> = {};
  private primaryDataDir: string | undefined;
  private sandbox: Sandbox | undefined;
  private binaries: PgBinaries | undefined;
  private user: OsUser | undefined;
  private heartbeatClients: pg.Client[] = [];
  private readonly restore: PostgresRestore;
  private cluster: ClusterTarget | undefined;
  private checkedPrimary: CheckedPostmaster | undefined;

  constructor(private readonly ctx: RunContext) {
    this.target = postgresTarget(ctx.loaded);
    this.baseDir = path.dirname(ctx.loaded.file);
    this.restore = new PostgresRestore(ctx, this.target, this.baseDir, this.settings);
  }

  async prepare(): Promise<void> {
    const spec = this.ctx.loaded.scenario.spec;
    if (this.target.sandbox || spec.type === 'parallel-restore') this.checkScratchReachable();
    if (this.target.sandbox) {
      this.binaries = await pgBinaries(this.target.binDir);
      this.user = databaseUser(this.target.runAs);
      this.checkReachable('the PostgreSQL binaries', this.binaries.dir);
      this.sandbox = await buildSandbox(this.ctx, this.binaries, this.user, {
        withStandby: spec.type === 'failover',
        ordersPerSecond: this.target.workload?.ordersPerSecond ?? 20,
        seedOrders: this.target.workload?.seedOrders ?? 2000,
      });
      this.ctx.addSecret(this.sandbox.primary.password);
      this.settings.primary = this.sandbox.primary;
      if (this.sandbox.standby) this.settings.standby = this.sandbox.standby;
      this.primaryDataDir = this.sandbox.primary.dataDir;
      this.description = `sandbox PostgreSQL ${this.sandbox.primary.port}${this.sandbox.standby ? ` → standby ${this.sandbox.standby.port}` : ''} in ${this.sandbox.root}`;
    } else if (!this.target.primary) {
      await this.prepareCluster();
    } else {
      // Before anything is created or journaled: a host that does not resolve or answer is
      // refused (exit 2), not a drill whose cleanup then fails (issue 11, finding 8).
      await this.preflightFixed(this.target.primary, 'target.primary');
      this.settings.primary = this.endpointSettings(this.target.primary!);
      if (this.target.standby) this.settings.standby = this.endpointSettings(this.target.standby);
      this.primaryDataDir = this.target.primary!.dataDir;
      // The evidence names how credentials were supplied, never their values.
      this.description = `PostgreSQL ${endpointLabel(this.target.primary!)} (password ${describeSecret(this.target.primary!.password)})${this.target.standby ? ` → standby ${endpointLabel(this.target.standby)} (password ${describeSecret(this.target.standby.password)})` : ''}`;
      // Leave no trace: what this run creates is journaled for removal before it is created.
      const missing = await missingDrillObjects(this.settings.primary);
      this.ctx.undo.push(
        {
          type: 'postgres.delete-run-rows',
          params: {
            endpoints: [this.target.primary!, this.target.standby].filter((e) => e !== undefined).map((e) => ({ ...e, password: e.password ?? null })),
            baseDir: this.baseDir,
            runId: this.ctx.runId,
            ...missing,
          },
        },
        describeDrillCleanup(missing, endpointLabel(this.target.primary!)),
      );
      const created = await createDrillObjects(this.settings.primary, missing);
      this.ctx.record(created.length ? `created ${created.join(', ')} (removed at teardown)` : `drill tables ${HEARTBEAT_TABLE}, ${PROBE_TABLE} existed before the run: only this run's rows are removed`);
      return;
    }
    await ensureDrillTables(this.settings.primary!);
  }

  /** Issue 13, finding 14: refuse before T0 when the database user cannot reach the scratch area. */
  private checkScratchReachable(): void {
    this.checkReachable('the scratch area', this.ctx.scratchRoot, 'Point TMPDIR (or the run\'s scratch directory) at a directory {user} can enter, e.g. TMPDIR=/var/tmp, or');
  }

  /** As root, PostgreSQL runs as another user: what it must read or run has to be reachable by that user. */
  private checkReachable(what: string, dir: string, advice = 'Move it where {user} can enter, or'): void {
    const user = databaseUser(this.target.runAs);
    if (!user) return;
    const blocked = unreachableAncestor(dir, user);
    if (blocked === undefined) return;
    throw new RefusedBeforeT0(
      `${what} ${dir} is not reachable by ${user.name}, the user PostgreSQL runs as (drillbook runs as root): ${blocked} does not let ${user.name} in. ` +
        `${advice.replaceAll('{user}', user.name)} give it search permission (chmod o+x ${blocked})`,
    );
  }

  /** target.cluster / target.endpoint: preflight every host, find the leader, then journal the row cleanup. */
  private async prepareCluster(): Promise<void> {
    const cluster = new ClusterTarget(this.target, this.baseDir, this.ctx);
    this.cluster = cluster;
    this.settings.primary = await cluster.preflight();
    const probeInterval = ms(this.ctx.loaded.scenario.spec.probes.interval) || 250;
    cluster.startWatch(Math.max(250, probeInterval));
    const how = cluster.hasCluster ? `cluster (leader from ${cluster.source === 'patroni' ? 'the Patroni REST API' : 'its members'})` : 'endpoint';
    this.description = `PostgreSQL ${how} through ${cluster.label()} (password ${describeSecret(this.target.endpoint!.password)})`;
    // Every host of the endpoint (and every member) can take the cleanup: after a failover
    // the rows are wherever the leader now is.
    const hosts = [...cluster.endpoint.hosts, ...(this.target.cluster?.members ?? []).map((m) => (typeof m === 'string' ? parseEndpoint({ host: m }).hosts[0]! : m))];
    const seen = new Set<string>();
    const endpoints = hosts
      .filter((h) => (seen.has(`${h.host}:${h.port}`) ? false : (seen.add(`${h.host}:${h.port}`), true)))
      .map((h) => ({ host: h.host, port: h.port, database: cluster.endpoint.database, user: cluster.endpoint.user, password: this.target.endpoint!.password ?? null }));
    this.ctx.undo.push({ type: 'postgres.delete-run-rows', params: { endpoints, baseDir: this.baseDir, runId: this.ctx.runId } }, `delete this run's heartbeat and probe rows through ${cluster.label()}`);
  }

  /** A fixed primary answers before T0, or the drill is refused. */
  private async preflightFixed(endpoint: PgEndpoint, where: string): Promise<void> {
    const password = resolveSecret(endpoint.password, this.baseDir);
    const report = await preflightEndpoint(
      { hosts: [{ host: endpoint.host, port: endpoint.port }], database: endpoint.database, user: endpoint.user, targetSessionAttrs: 'any' },
      { ...(password === undefined ? {} : { password }), connectTimeoutMs: Math.max(ms(this.ctx.loaded.scenario.spec.probes.timeout), 1_000), signal: this.ctx.signal },
      where,
    );
    if (!report.ok) throw new RefusedBeforeT0(`the target cannot be reached before T0: ${report.problems.join('; ')}`);
  }

  private endpointSettings(endpoint: PgEndpoint): ConnectionSettings {
    const password = resolveSecret(endpoint.password, this.baseDir);
    this.ctx.addSecret(password);
    return { host: endpoint.host, port: endpoint.port, database: endpoint.database, user: endpoint.user, password };
  }

  endpoints(): Partial<Record<EndpointName, string>> {
    const labels: Partial<Record<EndpointName, string>> = {};
    for (const [name, s] of Object.entries(this.settings)) labels[name as EndpointName] = `${s.user}@${s.host}:${s.port}/${s.database}`;
    if (this.cluster) labels.primary = this.cluster.label();
    return labels;
  }

  private endpoint(name: EndpointName): ConnectionSettings {
    const settings = this.settings[name];
    if (!settings) throw new Error(`no ${name} endpoint in this drill`);
    return settings;
  }

  async confirmSteadyState(ctx: RunContext): Promise<string[]> {
    const facts: string[] = [];
    // The faults' networked pre-T0 checks, here rather than at injection: heartbeats have not
    // started yet, so the checks add no gap before T0 (the injection re-checks the pid only).
    for (const fault of ctx.loaded.scenario.spec.faults) facts.push(...((await driverFault('postgres', fault.type)?.prepare?.(fault, this.faultTarget())) ?? []));
    if (ctx.loaded.scenario.spec.type === 'failover' && this.settings.standby) {
      // A failover drill against a standby that is not streaming would measure nothing real.
      const deadline = ctx.clock.elapsed() + 30_000;
      for (;;) {
        ctx.signal.throwIfAborted();
        const client = await connect(this.settings.standby);
        try {
          const { rows } = await client.query<{ in_recovery: boolean; status: string | null }>(
            'SELECT pg_is_in_recovery() AS in_recovery, (SELECT status FROM pg_stat_wal_receiver) AS status',
          );
          if (rows[0]?.in_recovery && rows[0].status === 'streaming') {
            facts.push('standby is in recovery and streaming from the primary');
            break;
          }
          if (ctx.clock.elapsed() > deadline) throw new Error(`standby is not streaming (in recovery: ${rows[0]?.in_recovery}, receiver: ${rows[0]?.status ?? 'none'})`);
        } finally {
          await client.end();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return facts;
  }

  writeProbe(name: EndpointName): ProbeFn {
    const probe = sqlWriteProbe(() => this.endpoint(name), this.ctx.runId, ms(this.ctx.loaded.scenario.spec.probes.timeout) + 1_000, { createMissing: name === 'restored' });
    if (name === 'restored')
      return async (attempt, signal) => {
        // A copy whose postmaster is gone fails every attempt with its FATAL line, not a connection error.
        const fatal = this.restore.copyExited();
        if (fatal !== undefined) throw new Error(`restored copy's postmaster exited: ${fatal}`);
        return probe(attempt, signal);
      };
    const cluster = this.cluster;
    if (name !== 'primary' || !cluster || cluster.endpoint.hosts.length < 2) return probe;
    // A libpq host list: each attempt first finds the host a client would get now (hosts in
    // order, target_session_attrs), then writes there; heartbeats and checks follow it.
    return async (attempt, signal) => {
      this.settings.primary = await cluster.currentHost(signal);
      return probe(attempt, signal);
    };
  }

  /** The cluster's leader before, after and every change seen (cluster targets only). */
  topology(): TopologyRecord | null {
    return this.cluster?.record() ?? null;
  }

  async heartbeatSink(name: EndpointName): Promise<HeartbeatSink> {
    const { sink, client } = await openHeartbeatSink(this.endpoint(name), this.ctx.runId);
    this.restore.heartbeatsFrom ??= this.ctx.clock.elapsed();
    this.heartbeatClients.push(client);
    return sink;
  }

  presentHeartbeats(name: EndpointName): Promise<Set<number>> {
    return readPresentHeartbeats(this.endpoint(name), this.ctx.runId);
  }

  injectFault(fault: Fault, ctx: RunContext, markT0: (action: string) => Instant): Promise<FaultEffect> {
    const module = driverFault('postgres', fault.type);
    if (!module) throw new Error(`fault ${fault.type} is not a postgres fault`);
    return module.inject(fault, { ctx, markT0, target: this.faultTarget() });
  }

  private faultTarget(): PostgresFaultTarget {
    return { primaryProcesses: () => this.primaryProcesses(), checkedPrimaryProcesses: (type) => this.checkedPrimaryProcesses(type), baseDir: this.baseDir, ...(this.cluster ? { cluster: this.cluster } : {}) };
  }

  /** Before T0: the processes from primary.dataDir must be the server behind the primary endpoint (issue 11, finding 1). */
  private async checkedPrimaryProcesses(type: string): Promise<number[]> {
    if (!this.primaryDataDir) throw new RefusedBeforeT0(`${type} needs the primary's data directory on this host`);
    // Checked already at steady state: only the postmaster may have changed since (a restart).
    if (this.checkedPrimary) return serverProcesses(stillSamePostmaster(type, this.checkedPrimary));
    let identity;
    const client = await connect(this.endpoint('primary'), 5_000).catch((error: unknown) => {
      throw new RefusedBeforeT0(`${type}: the primary endpoint does not answer before T0, so its processes cannot be checked: ${error instanceof Error ? error.message : String(error)}`);
    });
    try {
      identity = await serverIdentity(client);
    } finally {
      discard(client);
    }
    const belongs = checkProcessesBelong(identity, path.resolve(this.baseDir, this.primaryDataDir));
    if (!belongs.belongs) throw new RefusedBeforeT0(`${type}: refused, primary.dataDir is not the server behind the endpoint: ${belongs.reason}`);
    for (const fact of belongs.facts) this.ctx.record(`checked before T0: ${fact}`);
    this.checkedPrimary = { dataDir: path.resolve(this.baseDir, this.primaryDataDir), pid: belongs.pid, startedAt: readPostmasterPid(path.resolve(this.baseDir, this.primaryDataDir))?.startedAt ?? 0 };
    return serverProcesses(belongs.pid);
  }

  private primaryProcesses(): number[] {
    const pid = this.primaryDataDir ? postmasterPid(this.primaryDataDir) : undefined;
    if (pid === undefined) throw new Error(`no running postmaster found for ${this.primaryDataDir ?? 'the primary'}`);
    return serverProcesses(pid);
  }

  async recover(recovery: Recovery, ctx: RunContext): Promise<string> {
    switch (recovery.action) {
      case 'none':
        return 'no recovery action: the system is expected to heal itself';
      case 'promote': {
        const client = await connect(this.endpoint('standby'), 5_000);
        try {
          const timeoutSeconds = Math.max(1, Math.round(ms(recovery.timeout) / 1000));
          const { rows } = await client.query<{ promoted: boolean }>(`SELECT pg_promote(true, ${timeoutSeconds}) AS promoted`);
          if (!rows[0]?.promoted) throw new Error(`the standby did not finish promotion within ${recovery.timeout}`);
          return 'standby promoted with pg_promote()';
        } finally {
          await client.end().catch(() => undefined);
        }
      }
      case 'command':
        return runRecoveryCommand(recovery, ctx);
    }
  }


  requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant = () => ctx.clock.now()): Promise<RestoredCopy> {
    return this.restore.requestRestore(restore, ctx, markT0, { user: this.user, sandbox: this.sandbox, binaries: this.binaries });
  }

  async runChecks(checks: Check[], name: EndpointName, ctx: RunContext): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    if (this.cluster) {
      await this.cluster.settle();
      // The optional re-join check of a leader fault: the old leader back as a replica in time.
      for (const fault of ctx.loaded.scenario.spec.faults) {
        const rejoinWithin = 'rejoinWithin' in fault ? fault.rejoinWithin : undefined;
        if (rejoinWithin) {
          const check = await this.cluster.rejoinCheck(ms(rejoinWithin));
          ctx.record(`check ${check.passed ? 'passed' : 'failed'}: ${check.name} (${check.actual})`);
          results.push(check);
        }
      }
    }
    results.push(...(await runSqlChecks(checks, this.endpoint(name), () => this.endpoint('primary'), ctx.signal)));
    if (name === 'restored') results.push(...(await this.restore.maskingChecks(ctx)));
    return results;
  }

  integrityNotes(): { backup: string | null; notes: string[] } {
    const notes: string[] = [];
    if (this.sandbox) {
      notes.push(`sandbox WAL archive: ${this.sandbox.archiveDir} (archive_timeout 2s)`);
      notes.push(`synthetic workload: ${this.sandbox.workload.written} orders written, ${this.sandbox.workload.failed} failed during the drill`);
    }
    notes.push(...this.restore.notes());
    const backup = this.restore.restored ? this.restore.restored.record.baseBackup : null;
    return { backup, notes };
  }

  async close(): Promise<void> {
    this.restore.stopCopyWatch();
    await this.restore.checkArchive();
    const fatal = this.restore.copyExited();
    if (fatal !== undefined && this.restore.restored) this.ctx.record('restored copy not running at the end of the drill', { fatal });
    // A drill that ended before its checks still names the leader it left behind.
    if (this.cluster && this.ctx.loaded.scenario.spec.type === 'failover') await this.cluster.settle(5_000).catch(() => null);
    this.cluster?.stopWatch();
    for (const client of this.heartbeatClients) discard(client);
    this.heartbeatClients = [];
    await this.sandbox?.workload.stop();
    await this.attachServerLogs();
  }

  /** The server logs of drill-owned servers go into the bundle: they show what recovery did. */
  private async attachServerLogs(): Promise<void> {
    const logs: [string, string][] = [];
    if (this.restore.restoredDataDir) logs.push(['restored-copy.log', path.join(path.dirname(this.restore.restoredDataDir), 'restore.log')]);
    if (this.sandbox) {
      logs.push(['sandbox-primary.log', path.join(this.sandbox.root, 'primary.log')]);
      if (this.sandbox.standby) logs.push(['sandbox-standby.log', path.join(this.sandbox.root, 'standby.log')]);
    }
    for (const [name, file] of logs) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        const tail = text.length > MAX_LOG_CHARS ? `[… first ${text.length - MAX_LOG_CHARS} characters left out]\n${text.slice(-MAX_LOG_CHARS)}` : text;
        await this.ctx.attach(name, tail);
      } catch {
        // a log that was never written (the server did not start) has nothing to add
      }
    }
  }

}
