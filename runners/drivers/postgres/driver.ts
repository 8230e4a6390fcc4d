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
import { commandSucceeded, formatCommandResult, runCommand } from '../../shell.js';
import { type OsUser, databaseUser, freePort, signal as sendSignal } from '../../system.js';
import type { Driver, DriverSession, EndpointName, FaultEffect, PlanItem, RestoredCopy } from '../types.js';
import { type BaseBackup, prepareRestoredCopy, snapshotArchive } from './backup.js';
import { type PgBinaries, pgBinaries } from './binaries.js';
import { type Sandbox, buildSandbox } from './sandbox.js';
import { type ConnectionSettings, connect, postmasterPid, serverProcesses, startServer } from './server.js';
import { preparedSession } from '../prepared.js';

const HEARTBEAT_TABLE = 'drillbook_heartbeat';
const MAX_LOG_CHARS = 256 * 1024;
const PROBE_TABLE = 'drillbook_probe';

function ms(duration: string): number {
  return parseDuration(duration) ?? 0;
}

/** Closes a client without waiting on a server that may be frozen or gone. */
export function discard(client: pg.Client | undefined): void {
  if (!client) return;
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => undefined);
}

function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function postgresTarget(loaded: LoadedScenario): PostgresTarget {
  return loaded.scenario.spec.target as PostgresTarget;
}

export const postgresDriver: Driver = {
  name: 'postgres',

  validate(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const at = (...p: (string | number)[]) => ['spec', ...p];
    const usesStandby = spec.type === 'failover' && spec.recovery?.action === 'promote';
    if (!target.sandbox) {
      if (!target.primary) report(at('target'), 'an existing server needs target.primary (or set sandbox: true)', { hint: 'add primary: { host, port, user, password: { env: PGPASSWORD } }' });
      if (usesStandby && !target.standby) report(at('target'), 'recovery.action promote needs target.standby');
      if (spec.type === 'parallel-restore' && !target.backup)
        report(at('target'), 'parallel-restore needs target.backup (baseBackupDir, walArchiveDir)', { hint: 'or set sandbox: true to drill the built-in sandbox' });
      for (const [index, fault] of spec.faults.entries()) {
        if ((fault.type === 'kill-primary' || fault.type === 'pause-primary') && !target.primary?.dataDir)
          report(at('faults', index, 'type'), `${fault.type} needs target.primary.dataDir on this host to find the postmaster`, { hint: 'or use type: command with your own fault command' });
      }
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
      if (!['command', 'kill-primary', 'pause-primary'].includes(fault.type))
        report(at('faults', index, 'type'), `fault ${fault.type} does not apply to the postgres driver`, { hint: 'postgres faults: command, kill-primary, pause-primary' });
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

  plan(loaded) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const items: PlanItem[] = [];
    const primary = target.sandbox ? 'sandbox primary (temporary directory, free port)' : endpointLabel(target.primary!);
    if (target.sandbox) {
      items.push({
        action: `build a sandbox: primary with WAL archiving${spec.type === 'failover' ? ', streaming standby' : ''}, base backup, orders schema, ${target.workload?.ordersPerSecond ?? 20} orders/s workload`,
        touches: `a new directory under the system temp dir; ${spec.type === 'failover' ? 'two' : 'one'} PostgreSQL server(s) on free 127.0.0.1 ports`,
        undo: 'stop every sandbox server, delete the directory, verify both',
      });
    } else {
      items.push({ action: `create ${HEARTBEAT_TABLE} and ${PROBE_TABLE} if missing; write this run's heartbeat and probe rows`, touches: primary, undo: "delete this run's rows" });
    }
    for (const fault of spec.faults) items.push(describeFaultPlan(fault, primary));
    if (spec.recovery?.action === 'promote')
      items.push({ action: 'promote the standby: SELECT pg_promote()', touches: target.sandbox ? 'sandbox standby' : endpointLabel(target.standby!), undo: 'none automatic: failing back is a DBA procedure (listed in the evidence)' });
    if (spec.recovery?.action === 'command') items.push({ action: `run recovery command: ${spec.recovery.command}`, touches: 'what the command touches', undo: 'none automatic' });
    if (spec.type === 'parallel-restore') {
      items.push({
        action: `restore ${target.sandbox ? 'the sandbox base backup' : target.backup!.baseBackupDir} + WAL archive to ${spec.restore?.restoreTo ?? 'latest'} into a scratch copy`,
        touches: 'a new directory under the system temp dir; a PostgreSQL server on a free 127.0.0.1 port (archive_mode off: it never writes to the archive)',
        undo: spec.restore?.keep ? `kept for ${spec.restore.keep} (${spec.restore.reason ?? 'no reason given'}); then \`drillbook recover\` destroys it and verifies` : 'stop the copy, delete its directory, verify process gone, directory gone, port free',
      });
    }
    return items;
  },

  open(ctx) {
    return preparedSession(new PostgresSession(ctx));
  },
};

function endpointLabel(endpoint: PgEndpoint): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
}

function describeFaultPlan(fault: Fault, primary: string): PlanItem {
  switch (fault.type) {
    case 'kill-primary':
      return { action: `${fault.signal} the primary's postmaster and its backends`, touches: primary, undo: 'none possible: the standby takes over; the sandbox is destroyed at teardown' };
    case 'pause-primary':
      return { action: `freeze every process of the primary (SIGSTOP) for ${fault.duration}`, touches: primary, undo: 'SIGCONT (registered before the pause)' };
    case 'command':
      return { action: `run fault command: ${fault.command}`, touches: 'what the command touches', undo: fault.undo ? `run: ${fault.undo}` : 'none declared' };
    default:
      return { action: `${fault.type}: not a postgres fault (refused by validate)`, touches: 'nothing', undo: 'none' };
  }
}

// ---------------------------------------------------------------- SQL shared with other drivers
// The probe, heartbeat and check SQL any PostgreSQL-speaking target uses (the RDS driver
// imports these): one implementation, so every driver measures the same way.

/** Creates the heartbeat and probe tables on a writable endpoint if they are missing. */
export async function ensureDrillTables(settings: ConnectionSettings): Promise<void> {
  const admin = await connect(settings);
  try {
    await admin.query(`CREATE TABLE IF NOT EXISTS ${HEARTBEAT_TABLE} (run_id text NOT NULL, seq integer NOT NULL, client_time timestamptz NOT NULL, PRIMARY KEY (run_id, seq))`);
    await admin.query(`CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  } finally {
    await admin.end();
  }
}

/** A real, durable write through a fresh connection each attempt; `settings` is read per attempt. */
export function sqlWriteProbe(settings: () => ConnectionSettings, runId: string, connectTimeoutMs: number): ProbeFn {
  const runIdLiteral = quoteLiteral(runId);
  return async (attempt, signal) => {
    let client: pg.Client | undefined;
    const onAbort = () => discard(client);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The probe loop owns the attempt timeout (and tells a timeout from a refusal); the
      // driver's own connect timeout only backs it up.
      client = await connect(settings(), connectTimeoutMs);
      // A real, durable write: it fails on a server in recovery or read-only.
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO ${PROBE_TABLE} (run_id, attempt) VALUES (${runIdLiteral}, ${Number(attempt)})`,
      );
      await client.end();
      client = undefined;
    } finally {
      signal.removeEventListener('abort', onAbort);
      discard(client);
    }
  };
}

/** A heartbeat sink on one held connection; the caller discards `client` when done. */
export async function openHeartbeatSink(settings: ConnectionSettings, runId: string): Promise<{ sink: HeartbeatSink; client: pg.Client }> {
  const client = await connect(settings);
  return {
    client,
    sink: {
      write: async (seq, clientTime) => {
        await client.query(`INSERT INTO ${HEARTBEAT_TABLE} (run_id, seq, client_time) VALUES ($1, $2, $3)`, [runId, seq, clientTime]);
      },
    },
  };
}

/** The heartbeat seqs of a run present at an endpoint. */
export async function readPresentHeartbeats(settings: ConnectionSettings, runId: string): Promise<Set<number>> {
  const client = await connect(settings, 5_000);
  try {
    const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [HEARTBEAT_TABLE]);
    if (!exists.rows[0]?.present) return new Set();
    const { rows } = await client.query<{ seq: number }>(`SELECT seq FROM ${HEARTBEAT_TABLE} WHERE run_id = $1`, [runId]);
    return new Set(rows.map((r) => r.seq));
  } finally {
    await client.end();
  }
}

/** Runs data checks on `copy`; checks that compare with the source connect to `source()` lazily. */
export async function runSqlChecks(checks: Check[], copy: ConnectionSettings, source: () => ConnectionSettings, signal: AbortSignal): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const client = await connect(copy, 5_000);
  let sourceClient: pg.Client | undefined;
  try {
    for (const check of checks) {
      signal.throwIfAborted();
      try {
        const needsSource = check.type === 'checksum' || (check.type === 'row-count' && check.compareWithSource);
        if (needsSource && !sourceClient) sourceClient = await connect(source(), 5_000);
        results.push(await runCheck(check, client, sourceClient));
      } catch (error) {
        results.push({ name: check.name, type: check.type, passed: false, expected: 'check runs', actual: 'error', detail: error instanceof Error ? error.message : String(error) });
      }
    }
  } finally {
    await client.end().catch(() => undefined);
    await sourceClient?.end().catch(() => undefined);
  }
  return results;
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

  constructor(private readonly ctx: RunContext) {
    this.target = postgresTarget(ctx.loaded);
    this.baseDir = path.dirname(ctx.loaded.file);
  }

  async prepare(): Promise<void> {
    const spec = this.ctx.loaded.scenario.spec;
    if (this.target.sandbox) {
      this.binaries = await pgBinaries(this.target.binDir);
      this.user = databaseUser(this.target.runAs);
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
    } else {
      this.settings.primary = this.endpointSettings(this.target.primary!);
      if (this.target.standby) this.settings.standby = this.endpointSettings(this.target.standby);
      this.primaryDataDir = this.target.primary!.dataDir;
      // The evidence names how credentials were supplied, never their values.
      this.description = `PostgreSQL ${endpointLabel(this.target.primary!)} (password ${describeSecret(this.target.primary!.password)})${this.target.standby ? ` → standby ${endpointLabel(this.target.standby)} (password ${describeSecret(this.target.standby.password)})` : ''}`;
      this.ctx.undo.push(
        {
          type: 'postgres.delete-run-rows',
          params: {
            endpoints: [this.target.primary!, this.target.standby].filter((e) => e !== undefined).map((e) => ({ ...e, password: e.password ?? null })),
            baseDir: this.baseDir,
            runId: this.ctx.runId,
          },
        },
        `delete this run's heartbeat and probe rows on ${endpointLabel(this.target.primary!)}`,
      );
    }
    await ensureDrillTables(this.settings.primary!);
  }

  private endpointSettings(endpoint: PgEndpoint): ConnectionSettings {
    const password = resolveSecret(endpoint.password, this.baseDir);
    this.ctx.addSecret(password);
    return { host: endpoint.host, port: endpoint.port, database: endpoint.database, user: endpoint.user, password };
  }

  endpoints(): Partial<Record<EndpointName, string>> {
    const labels: Partial<Record<EndpointName, string>> = {};
    for (const [name, s] of Object.entries(this.settings)) labels[name as EndpointName] = `${s.user}@${s.host}:${s.port}/${s.database}`;
    return labels;
  }

  private endpoint(name: EndpointName): ConnectionSettings {
    const settings = this.settings[name];
    if (!settings) throw new Error(`no ${name} endpoint in this drill`);
    return settings;
  }

  async confirmSteadyState(ctx: RunContext): Promise<string[]> {
    const facts: string[] = [];
    if (ctx.loaded.scenario.spec.type === 'failover' && this.settings.standby) {
      // A failover drill against a standby that is not streaming would measure nothing real.
      const deadline = Date.now() + 30_000;
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
          if (Date.now() > deadline) throw new Error(`standby is not streaming (in recovery: ${rows[0]?.in_recovery}, receiver: ${rows[0]?.status ?? 'none'})`);
        } finally {
          await client.end();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return facts;
  }

  writeProbe(name: EndpointName): ProbeFn {
    return sqlWriteProbe(() => this.endpoint(name), this.ctx.runId, ms(this.ctx.loaded.scenario.spec.probes.timeout) + 1_000);
  }

  async heartbeatSink(name: EndpointName): Promise<HeartbeatSink> {
    const { sink, client } = await openHeartbeatSink(this.endpoint(name), this.ctx.runId);
    this.heartbeatClients.push(client);
    return sink;
  }

  presentHeartbeats(name: EndpointName): Promise<Set<number>> {
    return readPresentHeartbeats(this.endpoint(name), this.ctx.runId);
  }

  async injectFault(fault: Fault, ctx: RunContext, markT0: (action: string) => Instant): Promise<FaultEffect> {
    switch (fault.type) {
      case 'kill-primary': {
        const pids = this.primaryProcesses();
        // No undo can revive a killed server: recovery is the standby's job, and the
        // sandbox (when used) is destroyed by its own registered undos.
        markT0(`${fault.signal} primary postmaster (pid ${pids[0]})`);
        for (const pid of pids) sendSignal(pid, fault.signal);
        return { description: `${fault.signal} sent to the primary's ${pids.length} processes` };
      }
      case 'pause-primary': {
        const pids = this.primaryProcesses();
        const undoId = ctx.undo.push({ type: 'postgres.resume-server', params: { pids } }, `SIGCONT the paused primary (pids ${pids.join(', ')})`);
        const durationMs = ms(fault.duration);
        const t0 = markT0(`SIGSTOP primary for ${fault.duration}`);
        for (const pid of pids) sendSignal(pid, 'SIGSTOP');
        const ended = new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            for (const pid of [...pids].reverse()) sendSignal(pid, 'SIGCONT');
            const end = ctx.record('fault ended: primary resumed (SIGCONT)', { pausedMs: ctx.clock.elapsed() - t0.mono });
            ctx.undo.settle(undoId, `resumed after ${Math.round(end.mono - t0.mono)} ms`);
            resolve();
          }, durationMs);
          ctx.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
        return { description: `SIGSTOP sent to the primary's ${pids.length} processes for ${fault.duration}`, ended };
      }
      case 'command': {
        if (fault.undo) ctx.undo.push({ type: 'shell.command', params: { command: fault.undo, cwd: this.baseDir, timeoutMs: ms(fault.timeout) } }, `run fault undo: ${fault.undo}`);
        markT0(`fault command: ${fault.command}`);
        const result = await runCommand(fault.command, { cwd: this.baseDir, timeoutMs: ms(fault.timeout), signal: ctx.signal });
        const file = await ctx.attach('fault-command.txt', formatCommandResult(result));
        if (!commandSucceeded(result)) throw new Error(`fault command failed (exit ${result.exitCode ?? result.signal}); output in ${file}`);
        return { description: `fault command exited 0 (output in ${file})` };
      }
      default:
        throw new Error(`fault ${fault.type} is not a postgres fault`);
    }
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
      case 'command': {
        const result = await runCommand(recovery.command!, { cwd: this.baseDir, timeoutMs: ms(recovery.timeout), signal: ctx.signal });
        const file = await ctx.attach('recovery-command.txt', formatCommandResult(result));
        if (!commandSucceeded(result)) throw new Error(`recovery command failed (exit ${result.exitCode ?? result.signal}); output in ${file}`);
        return `recovery command exited 0 (output in ${file})`;
      }
    }
  }

  async requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant = () => ctx.clock.now()): Promise<RestoredCopy> {
    const binaries = this.binaries ?? (await pgBinaries(this.target.binDir));
    const user = this.user ?? databaseUser(this.target.runAs);
    const baseBackupDir = this.sandbox?.baseBackup.dir ?? path.resolve(this.baseDir, this.target.backup!.baseBackupDir);
    const walArchiveDir = this.sandbox?.archiveDir ?? path.resolve(this.baseDir, this.target.backup!.walArchiveDir);
    const dir = path.join(ctx.scratchRoot, `drillbook-restore-${ctx.runId.slice(0, 8)}`);
    const dataDir = path.join(dir, 'data');
    const port = await freePort();
    const keepMs = restore.keep ? ms(restore.keep) : 0;
    // A declared keep is a deadline, not a wait: teardown defers the destruction and
    // `drillbook recover` carries it out once the deadline has passed.
    const keepUntil = keepMs > 0 ? new Date(Date.now() + keepMs).toISOString() : null;
    ctx.undo.push(
      { type: 'postgres.destroy-copy', params: { dir, dataDir, port, keepUntil } },
      keepUntil ? `destroy the restored copy in ${dir} (port ${port}) after ${restore.keep} (${restore.reason}) and verify` : `destroy the restored copy in ${dir} (port ${port}) and verify`,
    );
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const archiveListFile = path.join(dir, 'archive-at-t0.list');
    markT0(`restore requested: ${path.basename(baseBackupDir)} + WAL archive → ${restore.restoreTo}`);
    const archive = snapshotArchive(walArchiveDir, archiveListFile);
    ctx.record('WAL archive as of T0', { files: archive.files, newestSegment: archive.newest });
    prepareRestoredCopy({ baseBackupDir, walArchiveDir, dataDir, restoreTo: restore.restoreTo, user, archiveListFile });
    if (user) fs.chownSync(dir, user.uid, user.gid);
    const server = await startServer(binaries, { dataDir, port, logFile: path.join(dir, 'restore.log'), user });
    fs.writeFileSync(`${dataDir}.pgid`, String(server.pid));
    const source = this.settings.primary!;
    this.restoredDataDir = dataDir;
    this.settings.restored = { host: '127.0.0.1', port, database: source.database, user: source.user, password: source.password };
    this.restorePoint = restore.restoreTo;
    this.restored = {
      endpoint: 'restored',
      record: {
        location: `${dataDir} on ${os.hostname()}, 127.0.0.1:${port}`,
        port,
        access: restore.access ?? `listening on 127.0.0.1 only; reachable by local users holding the ${user ? `${user.name} OS account or the ` : ''}database password of the source`,
        masking: describeMasking(restore.masking),
        restorePoint: restore.restoreTo,
        baseBackup: this.sandbox ? describeBackup(this.sandbox.baseBackup) : baseBackupDir,
        kept: keepUntil ? `until ${keepUntil} (${restore.keep}): ${restore.reason ?? ''}; destroyed then by drillbook recover, recorded in deferred.jsonl` : null,
      },
    };
    return this.restored;
  }

  runChecks(checks: Check[], name: EndpointName, ctx: RunContext): Promise<CheckResult[]> {
    return runSqlChecks(checks, this.endpoint(name), () => this.endpoint('primary'), ctx.signal);
  }

  integrityNotes(): { backup: string | null; notes: string[] } {
    const notes: string[] = [];
    if (this.sandbox) {
      notes.push(`sandbox WAL archive: ${this.sandbox.archiveDir} (archive_timeout 2s)`);
      notes.push(`synthetic workload: ${this.sandbox.workload.written} orders written, ${this.sandbox.workload.failed} failed during the drill`);
    }
    if (this.restored)
      notes.push(`restored copy recovered to ${this.restorePoint} using only the WAL archived before T0 (archive-at-t0.list); archive_mode off on the copy`);
    const backup = this.restored ? this.restored.record.baseBackup : null;
    return { backup, notes };
  }

  async close(): Promise<void> {
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

function describeBackup(backup: BaseBackup): string {
  return `base backup ${backup.dir} taken ${backup.takenAt} (pg_backup_start/stop, WAL ${backup.startLsn}–${backup.stopLsn})`;
}

async function runCheck(check: Check, copy: pg.Client, source: pg.Client | undefined): Promise<CheckResult> {
  switch (check.type) {
    case 'sql': {
      const { rows, fields } = await copy.query(check.query);
      const first = rows[0] && fields[0] ? rows[0][fields[0].name] : undefined;
      const actual = first === undefined || first === null ? 'null' : String(first);
      return { name: check.name, type: 'sql', passed: actual === check.expect, expected: check.expect, actual, detail: check.query };
    }
    case 'row-count': {
      const table = quoteIdent(check.table);
      if (check.compareWithSource && source && check.key) {
        const key = quoteIdent(check.key);
        const bound = await copy.query(`SELECT max(${key})::text AS bound, count(*)::bigint AS n FROM ${table}`);
        const copyCount = Number(bound.rows[0].n);
        const sourceCount = Number((await source.query(`SELECT count(*)::bigint AS n FROM ${table} WHERE ${key} <= $1`, [bound.rows[0].bound])).rows[0].n);
        const passed = copyCount === sourceCount && (check.min === undefined || copyCount >= check.min);
        return { name: check.name, type: 'row-count', passed, expected: `${sourceCount} (source up to ${check.key} ${bound.rows[0].bound})${check.min !== undefined ? `, ≥ ${check.min}` : ''}`, actual: String(copyCount) };
      }
      const count = Number((await copy.query(`SELECT count(*)::bigint AS n FROM ${table}`)).rows[0].n);
      return { name: check.name, type: 'row-count', passed: count >= (check.min ?? 0), expected: `≥ ${check.min ?? 0}`, actual: String(count) };
    }
    case 'checksum': {
      if (!source) throw new Error('no source to compare with');
      const table = quoteIdent(check.table);
      const key = quoteIdent(check.key);
      const row = `concat_ws('|', ${check.columns.map(quoteIdent).join(', ')})`;
      const bound = (await copy.query(`SELECT max(${key})::text AS bound FROM ${table}`)).rows[0].bound as string | null;
      const sql = `SELECT md5(coalesce(string_agg(${row}, E'\\n' ORDER BY ${key}), '')) AS digest, count(*)::bigint AS n FROM ${table} WHERE ${key} <= $1`;
      const [mine, theirs] = [(await copy.query(sql, [bound])).rows[0], (await source.query(sql, [bound])).rows[0]];
      return {
        name: check.name,
        type: 'checksum',
        passed: mine.digest === theirs.digest,
        expected: `md5 ${theirs.digest} over ${theirs.n} source rows (${check.key} ≤ ${bound})`,
        actual: `md5 ${mine.digest} over ${mine.n} rows`,
      };
    }
  }
}

