/**
 * The parallel restore of the postgres driver: preflight the backup, restore it into a
 * scratch copy under the undo that destroys it, start the copy with the copy-safety settings,
 * watch it until it accepts connections; afterwards mask it, list the archive again and say
 * what was restored in the evidence.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackupRecord, CheckResult, CopySafetyRecord, MaskingRecord } from '../../../reports/run-record.js';
import type { PostgresTarget, Scenario } from '../../../scenarios/schema.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { describeMasking, maskingRules } from '../../../scenarios/masking.js';
import type { Instant } from '../../clock.js';
import type { RunContext } from '../../context.js';
import { resolveSecret } from '../../secrets.js';
import { type OsUser, databaseUser, processAlive } from '../../system.js';
import type { EndpointName, RestoredCopy } from '../types.js';
import { applyMasking, preflightMasking, verifyMasking } from '../../restore/masking.js';
import { type ConnectionSettings, connect } from '../../sql/connection.js';
import { COPY_SAFETY_SETTINGS, configureCopy } from './backup.js';
import { directoryBackupSource } from './backup-sources/directory.js';
import { backupSourceFor } from './backup-sources/registry.js';
import type { BackupFacts, BackupSource, RestoredData } from './backup-sources/types.js';
import { type PgBinaries, binariesForMajor } from './binaries.js';
import type { Sandbox } from './sandbox.js';
import { type CopyWatch, watchCopy } from './copy-watch.js';
import { type WarmupRecord, lengthenWarmup, readArchiver } from './archive-cycle.js';
import { startServer } from './server.js';
import { choosePort, describeBackup, ms, resolveBackupPaths } from './target-settings.js';

/** What the session has built before the restore: the sandbox and its binaries, or neither. */
export interface RestoreFrom {
  user: OsUser | undefined;
  sandbox: Sandbox | undefined;
  binaries: PgBinaries | undefined;
}

export class PostgresRestore {
  restored: RestoredCopy | undefined;
  restoredDataDir: string | undefined;
  /** When the first heartbeat sink opened (run clock): the warm-up is counted from there. */
  heartbeatsFrom: number | undefined;
  private restorePoint: string | null = null;
  private sandbox: Sandbox | undefined;

  /** settings is the session's own endpoint table: the restore reads the primary and adds the restored copy. */
  constructor(
    private readonly ctx: RunContext,
    private readonly target: PostgresTarget,
    private readonly baseDir: string,
    private readonly settings: Partial<Record<EndpointName, ConnectionSettings>>,
  ) {}

  private endpoint(name: EndpointName): ConnectionSettings {
    const settings = this.settings[name];
    if (!settings) throw new Error(`no ${name} endpoint in this drill`);
    return settings;
  }

  async requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant, from: RestoreFrom): Promise<RestoredCopy> {
    this.sandbox = from.sandbox;
    const user = from.user ?? databaseUser(this.target.runAs);
    const backup = this.backupSource();
    // Before T0: the backup can be restored, by binaries of its major; masking can be applied.
    const facts = backup.source.preflight(backup.spec, { user });
    const binDir = this.target.binDir ? path.resolve(this.baseDir, this.target.binDir) : undefined;
    let binaries: (PgBinaries & { major: number; where: string }) | undefined =
      this.sandbox && from.binaries
        ? { ...from.binaries, major: facts.major ?? 0, where: this.target.binDir ? 'target.binDir (sandbox)' : 'embedded (sandbox)' }
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
    // As often as the probes would look (at most every 100 ms): the copy's readiness is inside
    // the RTO, so a slower poll here would be drillbook's delay, not the restore's.
    const pollMs = Math.min(100, ms(ctx.loaded.scenario.spec.probes.interval));
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
        await new Promise((r) => setTimeout(r, pollMs));
      }
    }
  }

  /** The FATAL/PANIC lines of the copy's log when its postmaster is gone; undefined while it runs. */
  copyExited(): string | undefined {
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
  async checkArchive(): Promise<void> {
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

  /** The masking of the copy and its verification, as a check (none when the scenario masks nothing). */
  async maskingChecks(ctx: RunContext): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    const rules = maskingRules(ctx.loaded.scenario.spec.restore?.masking);
    if (!rules || !this.restored) return results;
    // Masking comes right after the integrity checks that need the original values, before
    // the copy is confirmed, kept or handed to anyone; a failed verification fails the drill.
    const record: MaskingRecord = { applied: null, verification: null, error: null };
    this.restored.record.maskingApplied = record;
    const key = rules.key ? resolveSecret(rules.key, this.baseDir) : undefined;
    ctx.addSecret(key);
    const copy = await connect(this.endpoint('restored'), 10_000);
    const source = await connect(this.endpoint('primary'), 10_000);
    try {
      const applied = await applyMasking(copy, rules.rules, key, { clock: ctx.clock });
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

  /** What the evidence says about the restored copy, the backup it came from and the RPO floor. */
  /** The copy's postmaster is watched from its start until the drill ends. */
  stopCopyWatch(): void {
    this.copyWatch?.stop();
  }

  notes(): string[] {
    const notes: string[] = [];
    if (this.restored && this.restoredData) {
      notes.push(`restored copy recovered to ${this.restorePoint}; ${this.restoredData.walLimit}; archive_mode off and archive_command empty on the copy's command line`);
      const b = this.restored.record.backup;
      if (b) notes.push(`backup used: ${b.source} ${b.label}${b.stoppedAt ? `, stopped ${b.stoppedAt}` : ''}${b.ageAtT0Seconds !== null ? `, ${b.ageAtT0Seconds} s old at T0` : ''}; PostgreSQL ${this.restored.record.binaries?.major} binaries from ${this.restored.record.binaries?.dir} (${this.restored.record.binaries?.where})`);
    }
    if (this.facts && this.restored) notes.push(`backup checked before T0: ${this.facts.checked.join('; ')}`);
    if (this.archiveFloor) notes.push(`RPO floor: ${this.archiveFloor}`);
    if (this.warmup) notes.push(`heartbeat warm-up: ${this.warmup.note}`);
    return notes;
  }
}
