/**
 * The PostgreSQL driver: failover (fault the primary, promote the standby) and parallel
 * restore (base backup + WAL archive into a scratch copy), against the sandbox it builds or
 * against an existing self-managed server described in the scenario.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { CheckResult } from '../../../reports/run-record.js';
import type { LoadedScenario } from '../../../scenarios/load.js';
import type { Check, Fault, PgEndpoint, PostgresTarget, Recovery, Scenario } from '../../../scenarios/schema.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { describeMasking } from '../../../scenarios/masking.js';
import type { Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import type { HeartbeatSink } from '../../probes/heartbeat.js';
import type { ProbeFn } from '../../probes/probe-loop.js';
import { describeSecret, resolveSecret } from '../../secrets.js';
import { driverFault, faultsOf } from '../../faults/registry.js';
import { runRecoveryCommand } from '../../recovery-command.js';
import { type OsUser, databaseUser, freePort, unreachableAncestor } from '../../system.js';
import { specAt, type Driver, type DriverSession, type EndpointName, type FaultEffect, type PlanItem, type RestoredCopy } from '../types.js';
import type { BackupRecord, CopySafetyRecord, MaskingRecord } from '../../../reports/run-record.js';
import { maskingRules } from '../../../scenarios/masking.js';
import { applyMasking, preflightMasking, verifyMasking } from '../../restore/masking.js';
import { COPY_SAFETY_SETTINGS, type BaseBackup, configureCopy } from './backup.js';
import { directoryBackupSource } from './backup-sources/directory.js';
import { backupSourceFor } from './backup-sources/registry.js';
import type { BackupFacts, BackupSource, RestoredData } from './backup-sources/types.js';
import { type PgBinaries, binariesForMajor, pgBinaries } from './binaries.js';
import { isPortFree } from '../../system.js';
import { processAlive } from '../../system.js';
import { type CopyWatch, watchCopy } from './copy-watch.js';
import { type WarmupRecord, lengthenWarmup, readArchiver, warmupPlanItem } from './archive-cycle.js';
import { type Sandbox, buildSandbox } from './sandbox.js';
import { type ConnectionSettings, connect, discard } from '../../sql/connection.js';
import { runSqlChecks } from '../../sql/checks.js';
import { createDrillObjects, describeDrillCleanup, DRILL_SCHEMA, ensureDrillTables, HEARTBEAT_TABLE, missingDrillObjects, openHeartbeatSink, PROBE_TABLE, readPresentHeartbeats, sqlWriteProbe } from '../../sql/drill-tables.js';
import { postmasterPid, serverProcesses, startServer } from './server.js';
import { ClusterTarget } from './cluster.js';
import { formatHosts, parseEndpoint, preflightEndpoint } from './endpoint.js';
import { checkProcessesBelong, readPostmasterPid, serverIdentity } from './identity.js';
import { type CheckedPostmaster, stillSamePostmaster } from './cluster.js';
import type { PostgresFaultTarget } from './fault-target.js';
import { RefusedBeforeT0 } from '../../refusal.js';
import type { TopologyRecord } from '../../../reports/run-record.js';
import { preparedSession } from '../prepared.js';
import { postgresUndoHandlers } from './undo.js';

const MAX_LOG_CHARS = 256 * 1024;

function ms(duration: string): number {
  return parseDuration(duration) ?? 0;
}

function postgresTarget(loaded: LoadedScenario): PostgresTarget {
  return loaded.scenario.spec.target as PostgresTarget;
}

export const postgresDriver: Driver = {
  name: 'postgres',

  registerUndos: (registry) => registry.registerAll(postgresUndoHandlers),

  validate(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const at = specAt;
    const usesStandby = spec.type === 'failover' && spec.recovery?.action === 'promote';
    if (!target.sandbox) {
      if (!target.primary && !target.cluster && !target.endpoint)
        report(at('target'), 'an existing server needs target.primary, or target.cluster with target.endpoint (or set sandbox: true)', { hint: 'add primary: { host, port, user, password: { env: PGPASSWORD } }' });
      if (usesStandby && !target.standby) report(at('target'), 'recovery.action promote needs target.standby');
      if (spec.type === 'parallel-restore' && !target.backup)
        report(at('target'), 'parallel-restore needs target.backup', { hint: 'pgbackrest: { stanza }, basebackup: { path, walArchiveDir }, command: { restore, restoreCommand }, or baseBackupDir + walArchiveDir; or set sandbox: true to drill the built-in sandbox' });
    if (spec.restore?.port !== undefined && spec.restore.portRange !== undefined) report(at('restore', 'port'), 'set restore.port or restore.portRange, not both');
    } else {
      for (const key of ['primary', 'standby', 'backup'] as const) {
        if (target[key]) report(at('target', key), `${key} is ignored when sandbox: true (the sandbox builds its own)`, { severity: 'warning' });
      }
    }
    if (spec.type === 'failover') {
      if (spec.faults.length === 0) report(at('faults'), 'a failover drill needs at least one fault', { hint: 'e.g. faults: [ { type: kill-primary } ]' });
      if (!spec.recovery) report(at(), 'a failover drill needs spec.recovery', { hint: 'recovery: { action: promote } (or none for a fault that heals itself)' });
    }
    if (spec.type === 'parallel-restore' && spec.faults.length > 0)
      report(at('faults'), 'a parallel-restore drill leaves production running: it takes no faults');
    for (const [index, fault] of spec.faults.entries()) {
      const module = driverFault('postgres', fault.type);
      if (!module) report(at('faults', index, 'type'), `fault ${fault.type} does not apply to the postgres driver`, { hint: `postgres faults: ${faultsOf('postgres').map((m) => m.type).join(', ')}` });
      else module.validate?.(fault, { settings: target, report, at: (...p) => at('faults', index, ...p) });
    }
    if (spec.recovery?.action === 'command' && !spec.recovery.command) report(at('recovery', 'command'), 'recovery.action command needs recovery.command');
    if (spec.recovery?.action === 'promote' && spec.type !== 'failover') report(at('recovery', 'action'), 'promote applies to failover drills only');
    for (const [index, check] of spec.checks.entries()) {
      const comparesWithSource = check.type === 'checksum' || (check.type === 'row-count' && check.compareWithSource);
      if (comparesWithSource && spec.type !== 'parallel-restore')
        report(at('checks', index), `${check.type === 'checksum' ? 'a checksum check' : 'compareWithSource'} compares a restored copy with its source: parallel-restore only`);
      if (check.type === 'row-count' && check.compareWithSource && !check.key) report(at('checks', index, 'key'), 'compareWithSource needs key (a monotonic column such as id)');
    }
    if (spec.probes.endpoint === 'restored' && spec.type !== 'parallel-restore') report(at('probes', 'endpoint'), 'the restored endpoint exists in parallel-restore drills only');
    if (spec.probes.endpoint === 'standby' && !usesStandby && !target.standby) report(at('probes', 'endpoint'), 'no standby is declared');
  },

  preflight(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    if (spec.type !== 'parallel-restore' || target.sandbox || !target.backup) return;
    const at = ['spec', 'target', 'backup'];
    let facts: BackupFacts;
    try {
      const { source, spec: backup } = backupSourceFor(resolveBackupPaths(target.backup, path.dirname(loaded.file)));
      facts = source.preflight(backup, { user: databaseUser(target.runAs) });
    } catch (error) {
      report(at, `the backup cannot be restored: ${(error as Error).message}`, { hint: 'checked before T0; nothing was touched' });
      return;
    }
    if (facts.major === null) return; // a command source: the version is known once it has run
    try {
      binariesForMajor(facts.major, target.binDir ? path.resolve(path.dirname(loaded.file), target.binDir) : undefined);
    } catch (error) {
      report(target.binDir ? ['spec', 'target', 'binDir'] : at, (error as Error).message, { hint: `install PostgreSQL ${facts.major} (e.g. the postgresql-${facts.major} package) or set target.binDir to its bin directory` });
    }
  },

  plan(loaded) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const items: PlanItem[] = [];
    const primary = target.sandbox ? 'sandbox primary (temporary directory, free port)' : target.primary ? endpointLabel(target.primary) : clusterLabel(target);
    if (target.sandbox) {
      items.push({
        action: `build a sandbox: primary with WAL archiving${spec.type === 'failover' ? ', streaming standby' : ''}, base backup, orders schema, ${target.workload?.ordersPerSecond ?? 20} orders/s workload`,
        touches: `a new directory under the system temp dir; ${spec.type === 'failover' ? 'two' : 'one'} PostgreSQL server(s) on free 127.0.0.1 ports`,
        undo: 'stop every sandbox server, delete the directory, verify both',
      });
    } else {
      items.push({ action: `create schema ${DRILL_SCHEMA} (${HEARTBEAT_TABLE}, ${PROBE_TABLE}) if missing, once; write this run's heartbeat and probe rows`, touches: primary, undo: `drop what this run created (schema ${DRILL_SCHEMA} or its tables); else delete this run's rows` });
    }
    for (const fault of spec.faults) items.push(driverFault('postgres', fault.type)?.plan(fault, { primary }) ?? { action: `${fault.type}: not a postgres fault (refused by validate)`, touches: 'nothing', undo: 'none' });
    if (spec.recovery?.action === 'promote')
      items.push({ action: 'promote the standby: SELECT pg_promote()', touches: target.sandbox ? 'sandbox standby' : endpointLabel(target.standby!), undo: 'none automatic: failing back is a DBA procedure (listed in the evidence)' });
    if (spec.recovery?.action === 'command') items.push({ action: `run recovery command: ${spec.recovery.command}`, touches: 'what the command touches', undo: 'none automatic' });
    if (spec.type === 'parallel-restore') {
      items.push({
        action: `restore ${target.sandbox ? 'the sandbox base backup + WAL archive' : backupSourceFor(resolveBackupPaths(target.backup!, path.dirname(loaded.file))).source.plan(resolveBackupPaths(target.backup!, path.dirname(loaded.file)))} to ${spec.restore?.restoreTo ?? 'latest'} into a scratch copy (all of it after T0: inside the RTO)`,
        touches: `a new directory (mode 0700) under the system temp dir; a PostgreSQL server on 127.0.0.1 only, ${portText(spec.restore)} (archive_mode off, archive_command empty, read-only restore_command: it never writes to the archive or repository)`,
        undo: spec.restore?.keep ? `kept for ${spec.restore.keep} (${spec.restore.reason ?? 'no reason given'}); then \`drillbook recover\` destroys it and verifies` : 'stop the copy, delete its directory, verify process gone, directory gone, port free',
      });
      items.push(warmupPlanItem(spec.probes));
    }
    return items;
  },

  open(ctx) {
    return preparedSession(new PostgresSession(ctx));
  },
};

/** How plan and evidence name a cluster target before it is reached: its endpoint, and how the leader is found. */
function clusterLabel(target: PostgresTarget): string {
  let where = 'target.endpoint';
  try {
    const parsed = parseEndpoint(target.endpoint!);
    where = `${parsed.user}@${formatHosts(parsed.hosts)}/${parsed.database}`;
  } catch {
    // validate reports a bad endpoint
  }
  const how = target.cluster?.patroni ? ` (leader from Patroni ${target.cluster.patroni.api.join(', ')})` : target.cluster?.members ? ' (leader: the member not in recovery)' : '';
  return `${where}${how}`;
}

function endpointLabel(endpoint: PgEndpoint): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
}

class PostgresSession implements DriverSession {
  description = '';
  private readonly target: PostgresTarget;
  private readonly baseDir: string;
  private readonly settings: Partial<Record<EndpointName, ConnectionSettings>> = {};
  private primaryDataDir: string | undefined;
  private sandbox: Sandbox | undefined;
  private binaries: PgBinaries | undefined;
  private user: OsUser | undefined;
  private heartbeatClients: pg.Client[] = [];
  private restored: RestoredCopy | undefined;
  private restorePoint: string | null = null;
  private restoredDataDir: string | undefined;
  private cluster: ClusterTarget | undefined;
  private checkedPrimary: CheckedPostmaster | undefined;

  constructor(private readonly ctx: RunContext) {
    this.target = postgresTarget(ctx.loaded);
    this.baseDir = path.dirname(ctx.loaded.file);
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

  /** target.cluster / target.endpoint: preflight every host, find the leader, then journal the row cleanup. */
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
        const fatal = this.copyExited();
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
    this.heartbeatsFrom ??= this.ctx.clock.elapsed();
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

  async requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant = () => ctx.clock.now()): Promise<RestoredCopy> {
    const user = this.user ?? databaseUser(this.target.runAs);
    const backup = this.backupSource();
    // Before T0: the backup can be restored, by binaries of its major; masking can be applied.
    const facts = backup.source.preflight(backup.spec, { user });
    const binDir = this.target.binDir ? path.resolve(this.baseDir, this.target.binDir) : undefined;
    let binaries: (PgBinaries & { major: number; where: string }) | undefined =
      this.sandbox && this.binaries
        ? { ...this.binaries, major: facts.major ?? 0, where: this.target.binDir ? 'target.binDir (sandbox)' : 'embedded (sandbox)' }
        : facts.major !== null
          ? binariesForMajor(facts.major, binDir)
          : undefined;
    this.facts = facts;
    ctx.record('backup preflight passed', { source: facts.source, label: facts.label, major: facts.major, binaries: binaries?.dir ?? 'after the restore (from its PG_VERSION)', checked: facts.checked });
    const rules = maskingRules(restore.masking);
    if (rules) {
      const source = await connect(this.endpoint('primary'), 10_000);
      try {
        await preflightMasking(source, rules.rules);
      } finally {
        await source.end().catch(() => undefined);
      }
      ctx.record('masking preflight passed on the source', { rules: rules.rules.length });
    }
    await this.recordArchiveInterval(ctx);
    this.warmup = await lengthenWarmup(ctx, this.endpoint('primary'), this.heartbeatsFrom, ctx.loaded.scenario.spec.probes);
    const dir = path.join(ctx.scratchRoot, `drillbook-restore-${ctx.runId.slice(0, 8)}`);
    const dataDir = path.join(dir, 'data');
    const port = await choosePort(restore);
    const keepMs = restore.keep ? ms(restore.keep) : 0;
    // A declared keep is a deadline, not a wait: teardown defers the destruction and
    // `drillbook recover` carries it out once the deadline has passed.
    const keepUntil = keepMs > 0 ? new Date(ctx.clock.wallMs() + keepMs).toISOString() : null;
    ctx.undo.push(
      { type: 'postgres.destroy-copy', params: { dir, dataDir, port, keepUntil } },
      keepUntil ? `destroy the restored copy in ${dir} (port ${port}) after ${restore.keep} (${restore.reason}) and verify` : `destroy the restored copy in ${dir} (port ${port}) and verify`,
    );
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (user) fs.chownSync(dir, user.uid, user.gid);
    let t0: Instant | undefined;
    const restored: RestoredData = await backup.source.restore(backup.spec, {
      ctx,
      markT0: (action) => (t0 = markT0(action)),
      dataDir,
      scratchDir: dir,
      restoreTo: restore.restoreTo,
      user,
      facts,
      readArchiver: () => readArchiver(this.endpoint('primary')),
    });
    if (!binaries) binaries = binariesForMajor(facts.major!, binDir);
    const added = configureCopy({ dataDir, restoreCommand: restored.restoreCommand, restoreTo: restore.restoreTo, user, writtenAsUser: restored.writtenAsUser });
    const commandLine: Record<string, string> = { ...COPY_SAFETY_SETTINGS };
    const logFile = path.join(dir, 'restore.log');
    const server = await startServer(binaries, { dataDir, port, logFile, user, settings: commandLine });
    fs.writeFileSync(`${dataDir}.pgid`, String(server.pid));
    this.copyPid = server.pid;
    this.copyLog = logFile;
    this.copyWatch = watchCopy(ctx, () => this.copyExited());
    const source = this.settings.primary!;
    this.restoredDataDir = dataDir;
    this.settings.restored = { host: '127.0.0.1', port, database: source.database, user: source.user, password: source.password };
    this.restorePoint = restore.restoreTo;
    this.restoredData = restored;
    const t0Wall = t0 ? Date.parse(t0.at) : ctx.clock.wallMs();
    const backupRecord: BackupRecord = {
      source: this.sandbox ? 'sandbox' : facts.source,
      label: facts.label,
      startedAt: facts.startedAt,
      stoppedAt: facts.stoppedAt,
      ageAtT0Seconds: facts.stoppedAt ? Math.max(0, Math.round((t0Wall - Date.parse(facts.stoppedAt)) / 100) / 10) : null,
      sizeBytes: facts.sizeBytes,
    };
    const safety: CopySafetyRecord = {
      settings: { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...commandLine },
      restoreCommand: restored.restoreCommand,
      walLimit: restored.walLimit,
      listen: `127.0.0.1:${port} only (TCP; no Unix socket)`,
      dataDirMode: '0700',
      owner: user ? `${user.name} (uid ${user.uid})` : `${os.userInfo().username} (drillbook's own user)`,
      added,
      archiveCheck: null,
    };
    this.restored = {
      endpoint: 'restored',
      record: {
        location: `${dataDir} on ${os.hostname()}, 127.0.0.1:${port}`,
        port,
        access: restore.access ?? `listening on 127.0.0.1:${port} only (no Unix socket, data directory 0700 owned by ${safety.owner}); reachable by local users holding the ${user ? `${user.name} OS account or the ` : ''}database password of the source`,
        masking: describeMasking(restore.masking),
        restorePoint: restore.restoreTo,
        baseBackup: this.sandbox ? describeBackup(this.sandbox.baseBackup) : restored.baseBackup,
        kept: keepUntil ? `until ${keepUntil} (${restore.keep}): ${restore.reason ?? ''}; destroyed then by drillbook recover, recorded in deferred.jsonl` : null,
        backup: backupRecord,
        binaries: { dir: binaries.dir, major: binaries.major, where: binaries.where },
        safety,
      },
    };
    ctx.record('restored copy started', { port, binaries: binaries.dir, major: facts.major, pid: server.pid });
    await this.waitForCopy(ctx);
    return this.restored;
  }

  private copyPid: number | undefined;
  private copyLog: string | undefined;
  private restoredData: RestoredData | undefined;
  private copyFatal: string | undefined;
  private copyWatch: CopyWatch | undefined;
  private heartbeatsFrom: number | undefined;
  private warmup: WarmupRecord | undefined;
  private archiveFloor: string | undefined;
  private facts: BackupFacts | undefined;

  /**
   * Fail fast: until the copy accepts connections (its recovery may take a while), watch its
   * postmaster every 100 ms. When it has exited, the drill stops here with the FATAL/PANIC
   * lines of its log, instead of probing a dead server until probes.maxWait.
   */
  private async waitForCopy(ctx: RunContext): Promise<void> {
    const deadline = ctx.clock.elapsed() + ms(ctx.loaded.scenario.spec.probes.maxWait);
    const settings = this.settings.restored!;
    while (ctx.clock.elapsed() < deadline) {
      ctx.signal.throwIfAborted();
      const fatal = this.copyExited();
      if (fatal !== undefined) {
        this.copyWatch?.report(fatal);
        throw new Error(`the restored copy's postmaster exited during startup: ${fatal}`);
      }
      try {
        const client = await connect(settings, 1_000);
        await client.end().catch(() => undefined);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** The FATAL/PANIC lines of the copy's log when its postmaster is gone; undefined while it runs. */
  private copyExited(): string | undefined {
    if (this.copyFatal !== undefined) return this.copyFatal;
    if (this.copyPid === undefined || processAlive(this.copyPid)) return undefined;
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(this.copyLog!, 'utf8').split('\n');
    } catch {
      // no log: the server never wrote one
    }
    // The FATAL line, with the line before it when that says why ("invalid value for parameter …").
    // Connection attempts during startup log FATALs of their own ("the database system is starting up"): not why it died.
    const clientSide = /the database system is (starting up|not yet accepting connections|shutting down|in recovery mode)|password authentication failed|no pg_hba\.conf entry/;
    const fatal = lines.flatMap((l, i) => (/\b(FATAL|PANIC):/.test(l) && !clientSide.test(l) ? [...(i > 0 && /\b(LOG|ERROR|DETAIL):/.test(lines[i - 1]!) ? [lines[i - 1]!] : []), l] : [])).slice(-4);
    this.copyFatal = this.ctx.redact(fatal.length > 0 ? fatal.join(' | ') : `no FATAL line; last log lines: ${lines.filter(Boolean).slice(-3).join(' | ') || '(empty log)'}`);
    return this.copyFatal;
  }

  /** Before T0: how often production archives WAL; the restore cannot hold heartbeats newer than the last archived segment. */
  private async recordArchiveInterval(ctx: RunContext): Promise<void> {
    try {
      const client = await connect(this.endpoint('primary'), 5_000);
      try {
        const { rows } = await client.query<{ timeout: string; mode: string; command: string; last: string | null }>(
          "SELECT current_setting('archive_timeout') AS timeout, current_setting('archive_mode') AS mode, current_setting('archive_command') AS command, (SELECT last_archived_time::text FROM pg_stat_archiver) AS last",
        );
        const row = rows[0]!;
        const seconds = parseDuration(/^\d+$/.test(row.timeout) ? `${row.timeout}s` : row.timeout.replace(/\s+/g, '')) ?? 0;
        const tool = /pgbackrest/.test(row.command) ? 'pgBackRest archive-push' : row.command ? 'archive_command' : 'none';
        this.archiveFloor =
          seconds > 0
            ? `production archives WAL every archive_timeout = ${row.timeout} at the latest (archive_mode ${row.mode}, ${tool}): heartbeats younger than that may not have reached the archive at T0, so ${row.timeout} is the floor of the RPO this drill can measure`
            : `production's archive_timeout is 0 (archive_mode ${row.mode}, ${tool}): a WAL segment is archived only when full, so the RPO floor is the time to fill one segment and the RPO may stay "not established"`;
        ctx.record('WAL archive interval (RPO floor)', { archiveTimeout: row.timeout, archiveMode: row.mode, archiver: tool, lastArchivedAt: row.last });
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      this.archiveFloor = `archive_timeout could not be read from production (${(error as Error).message}): the RPO floor is unknown`;
    }
  }

  /** The sandbox's own backup, or the one target.backup names (paths relative to the scenario). */
  private backupSource() {
    if (this.sandbox) return { source: directoryBackupSource as BackupSource<unknown>, spec: { baseBackupDir: this.sandbox.baseBackup.dir, walArchiveDir: this.sandbox.archiveDir } };
    return backupSourceFor(resolveBackupPaths(this.target.backup!, this.baseDir));
  }

  /** After the drill: the archive or repository gained no timeline history and no segment on a new timeline. */
  private async checkArchive(): Promise<void> {
    const record = this.restored?.record.safety;
    const restored = this.restoredData;
    if (!record || !restored) return;
    if (!restored.listArchive || !restored.archiveAtT0) {
      record.archiveCheck = { checked: false, newTimelineFiles: [], detail: 'not checked: this backup source cannot list its archive' };
      this.ctx.record('archive check after the drill: not possible for this source');
      return;
    }
    try {
      const before = new Set(restored.archiveAtT0);
      const timelineOf = (n: string) => parseInt(n.slice(0, 8), 16);
      const maxTimeline = Math.max(0, ...restored.archiveAtT0.filter((n) => /^[0-9A-F]{8}/.test(n)).map(timelineOf));
      const now = await restored.listArchive();
      const added = now.filter((n) => !before.has(n));
      const newTimeline = added.filter((n) => /\.history/.test(n) || (/^[0-9A-F]{24}/.test(n) && timelineOf(n) > maxTimeline));
      record.archiveCheck = {
        checked: true,
        newTimelineFiles: newTimeline,
        detail: newTimeline.length === 0
          ? `archive listed again after the drill: ${added.length} files added since T0, all on production's timeline ${maxTimeline} (none from the copy)`
          : `the archive gained ${newTimeline.join(', ')} after T0: a new timeline appeared — check that nothing but production writes to it`,
      };
      this.ctx.record(newTimeline.length === 0 ? 'archive check after the drill: no new timeline or .history file' : 'SAFETY: a new timeline appeared in the archive after T0', { added: added.length, newTimelineFiles: newTimeline });
    } catch (error) {
      record.archiveCheck = { checked: false, newTimelineFiles: [], detail: `the archive could not be listed after the drill: ${(error as Error).message}` };
    }
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
    const rules = maskingRules(ctx.loaded.scenario.spec.restore?.masking);
    if (name !== 'restored' || !rules || !this.restored) return results;
    // Masking comes right after the integrity checks that need the original values, before
    // the copy is confirmed, kept or handed to anyone; a failed verification fails the drill.
    const record: MaskingRecord = { applied: null, verification: null, error: null };
    this.restored.record.maskingApplied = record;
    const key = rules.key ? resolveSecret(rules.key, this.baseDir) : undefined;
    ctx.addSecret(key);
    const copy = await connect(this.endpoint('restored'), 10_000);
    const source = await connect(this.endpoint('primary'), 10_000);
    try {
      const applied = await applyMasking(copy, rules.rules, key);
      record.applied = applied;
      ctx.record('masking applied to the copy', { rules: applied.rules.length, rowsAffected: applied.rules.reduce((n, r) => n + r.rowsAffected, 0), durationMs: Math.round(applied.durationMs) });
      const verification = await verifyMasking(copy, source, rules.rules, 1_000, { applied });
      record.verification = verification;
      ctx.record(`masking ${verification.verdict}`, { matches: verification.matches, unmaskedRows: verification.unmaskedRows });
      results.push({
        name: 'masking verified: no original value of a masked column remains',
        type: 'masking',
        passed: verification.verdict === 'verified',
        expected: '0 sampled originals found, 0 unmasked rows',
        actual: `${verification.matches} sampled originals found, ${verification.unmaskedRows} unmasked rows over ${verification.rules.length} rules`,
      });
    } catch (error) {
      record.error = ctx.redact((error as Error).message);
      ctx.record('masking failed', { error: record.error });
      results.push({ name: 'masking verified: no original value of a masked column remains', type: 'masking', passed: false, expected: 'masking applied and verified', actual: record.error });
    } finally {
      await copy.end().catch(() => undefined);
      await source.end().catch(() => undefined);
    }
    return results;
  }

  integrityNotes(): { backup: string | null; notes: string[] } {
    const notes: string[] = [];
    if (this.sandbox) {
      notes.push(`sandbox WAL archive: ${this.sandbox.archiveDir} (archive_timeout 2s)`);
      notes.push(`synthetic workload: ${this.sandbox.workload.written} orders written, ${this.sandbox.workload.failed} failed during the drill`);
    }
    if (this.restored && this.restoredData) {
      notes.push(`restored copy recovered to ${this.restorePoint}; ${this.restoredData.walLimit}; archive_mode off and archive_command empty on the copy's command line`);
      const b = this.restored.record.backup;
      if (b) notes.push(`backup used: ${b.source} ${b.label}${b.stoppedAt ? `, stopped ${b.stoppedAt}` : ''}${b.ageAtT0Seconds !== null ? `, ${b.ageAtT0Seconds} s old at T0` : ''}; PostgreSQL ${this.restored.record.binaries?.major} binaries from ${this.restored.record.binaries?.dir} (${this.restored.record.binaries?.where})`);
    }
    if (this.facts && this.restored) notes.push(`backup checked before T0: ${this.facts.checked.join('; ')}`);
    if (this.archiveFloor) notes.push(`RPO floor: ${this.archiveFloor}`);
    if (this.warmup) notes.push(`heartbeat warm-up: ${this.warmup.note}`);
    const backup = this.restored ? this.restored.record.baseBackup : null;
    return { backup, notes };
  }

  async close(): Promise<void> {
    this.copyWatch?.stop();
    await this.checkArchive();
    const fatal = this.copyExited();
    if (fatal !== undefined && this.restored) this.ctx.record('restored copy not running at the end of the drill', { fatal });
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
    if (this.restoredDataDir) logs.push(['restored-copy.log', path.join(path.dirname(this.restoredDataDir), 'restore.log')]);
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

/** target.backup with its paths resolved against the scenario's directory. */
function resolveBackupPaths(backup: NonNullable<PostgresTarget['backup']>, baseDir: string): unknown {
  const abs = (p: string) => path.resolve(baseDir, p);
  if ('pgbackrest' in backup) return { pgbackrest: { ...backup.pgbackrest, ...(backup.pgbackrest.config ? { config: abs(backup.pgbackrest.config) } : {}) } };
  if ('basebackup' in backup) return { basebackup: { path: abs(backup.basebackup.path), walArchiveDir: abs(backup.basebackup.walArchiveDir) } };
  if ('command' in backup) return backup;
  return { baseBackupDir: abs(backup.baseBackupDir), walArchiveDir: abs(backup.walArchiveDir) };
}

function portRangeOf(restore: Scenario['spec']['restore']): [number, number] | undefined {
  if (restore?.port !== undefined) return [restore.port, restore.port];
  if (!restore?.portRange) return undefined;
  const [from, to] = restore.portRange.split('-').map(Number) as [number, number];
  return [from, to];
}

function portText(restore: Scenario['spec']['restore']): string {
  const range = portRangeOf(restore);
  return !range ? 'a free port' : range[0] === range[1] ? `port ${range[0]} (restore.port)` : `the first free port of ${range[0]}-${range[1]} (restore.portRange)`;
}

/** restore.port, the first free port of restore.portRange, or one the kernel picks. */
async function choosePort(restore: Scenario['spec']['restore']): Promise<number> {
  const range = portRangeOf(restore);
  if (!range) return freePort();
  for (let port = range[0]; port <= range[1]; port++) if (await isPortFree(port)) return port;
  throw new Error(range[0] === range[1] ? `restore.port ${range[0]} is taken on 127.0.0.1: nothing was restored` : `no free port in restore.portRange ${range[0]}-${range[1]} on 127.0.0.1: nothing was restored`);
}

function describeBackup(backup: BaseBackup): string {
  return `base backup ${backup.dir} taken ${backup.takenAt} (pg_backup_start/stop, WAL ${backup.startLsn}–${backup.stopLsn})`;
}
