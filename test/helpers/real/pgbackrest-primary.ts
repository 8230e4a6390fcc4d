/**
 * A real PostgreSQL 15 primary (Debian's /usr/lib/postgresql/15/bin, run as `postgres`) whose
 * WAL is archived by pgBackRest into a local repository (one stanza, default compression gz),
 * and at the same time copied with `cp` into a plain WAL archive directory, so the same server
 * serves pgBackRest restores and pg_basebackup (plain/tar, compressed) restores.
 *
 *   const primary = new PgBackRestPrimary({ archiveTimeout: '2s' });
 *   await primary.start();
 *   await primary.backup('full');
 *   const [stanza] = await primary.info();
 *   const tarBackup = await primary.pgBaseBackupTar({ compress: 'gzip', format: 'tar' });
 *   await primary.stop();
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { type OsUser, type ProcessRef, type Spawned, descendants, freePort, isRunning, ownedDir, ownedFile, postgresUser, queryRows, run, scratchRoot, spawnLogged, stopProcesses, sweepAndRemoveScratch, tail, waitFor } from './processes.js';
import { PG15_BIN, binary } from './require-real.js';

export interface PgBackRestPrimaryOptions {
  /** pgBackRest stanza name (default `main`). */
  stanza?: string;
  /** PostgreSQL's archive_timeout (default '5s'): how often a partly filled WAL segment is archived. */
  archiveTimeout?: string;
  /** pgBackRest compress-type (default gz, pgBackRest's own default). */
  compressType?: 'gz' | 'lz4' | 'zst' | 'bz2' | 'none';
  /** Extra postgresql.conf settings. */
  parameters?: Record<string, string | number>;
  /** Extra lines for the `[global]` section of pgbackrest.conf. */
  pgbackrestGlobal?: Record<string, string | number>;
}

export interface PgBackRestPrimaryInfo {
  root: string;
  host: '127.0.0.1';
  port: number;
  dataDir: string;
  socketDir: string;
  superuser: { user: string; password: string };
  /** postgres://postgres:…@127.0.0.1:<port>/postgres */
  connectionString: string;
  stanza: string;
  /** pgbackrest.conf (pass as `--config`). */
  configFile: string;
  repoPath: string;
  /** The `cp` WAL archive beside the pgBackRest repo. */
  walArchiveDir: string;
  archiveCommand: string;
  pid: number;
  logFile: string;
  startupMs: number;
}

export interface PgBackRestBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  prior: string | null;
  /** Epoch seconds. */
  timestamp: { start: number; stop: number };
  archive: { start: string | null; stop: string | null };
  lsn?: { start: string; stop: string };
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  error?: boolean;
}

export interface PgBackRestStanzaInfo {
  name: string;
  status: { code: number; message: string; lock?: unknown };
  cipher: string;
  db: Array<{ id: number; 'system-id': number; version: string }>;
  archive: Array<{ id: string; min: string | null; max: string | null; database: { id: number } }>;
  backup: PgBackRestBackup[];
}

export type BaseBackupCompression = 'gzip' | 'lz4' | 'zstd' | 'none';

export interface BaseBackupResult {
  /** The backup: a data directory (plain) or a directory holding base.tar[.gz|.lz4|.zst] and pg_wal.tar[…] (tar). */
  dir: string;
  format: 'tar' | 'plain';
  compress: BaseBackupCompression;
  /** Files directly in `dir` (for tar: base.tar.gz, pg_wal.tar.gz, backup_manifest). */
  files: string[];
  /** tar only: the base tar's file name (base.tar, base.tar.gz, base.tar.lz4, base.tar.zst). */
  baseTar?: string;
  /**
   * tar only: the streamed WAL's tar. PostgreSQL 15 compresses it only with gzip: with lz4 or
   * zstd it stays a plain `pg_wal.tar` beside the compressed `base.tar.*`, as real backups look.
   */
  walTar?: string;
  /** The `cp` WAL archive that holds the WAL after the backup. */
  walArchiveDir: string;
  /** Epoch ms around the pg_basebackup run. */
  startedAt: number;
  finishedAt: number;
}

export interface RestoredCopy {
  port: number;
  dataDir: string;
  connection: pg.ClientConfig;
  logFile: string;
  ref: ProcessRef;
  /** From spawn to accepting writes (recovery included). */
  readyMs: number;
  /** Fast shutdown by PID, SIGKILL after 20 s; throws if anything survived. */
  stop(): Promise<ProcessRef[]>;
}

const TAR_SUFFIX: Record<BaseBackupCompression, string> = { gzip: '.gz', lz4: '.lz4', zstd: '.zst', none: '' };

export class PgBackRestPrimary {
  readonly stanza: string;
  private readonly options: PgBackRestPrimaryOptions;
  private archiveTimeoutValue: string;
  private user?: OsUser;
  private root?: string;
  private postmaster?: Spawned;
  private information?: PgBackRestPrimaryInfo;
  private backupCount = 0;
  private readonly password = crypto.randomBytes(12).toString('hex');

  constructor(options: PgBackRestPrimaryOptions = {}) {
    this.options = options;
    this.stanza = options.stanza ?? 'main';
    this.archiveTimeoutValue = options.archiveTimeout ?? '5s';
  }

  /** What start() returned. */
  get details(): PgBackRestPrimaryInfo {
    if (!this.information) throw new Error('PgBackRestPrimary: start() first');
    return this.information;
  }

  /** The current archive_timeout. */
  get archiveTimeout(): string {
    return this.archiveTimeoutValue;
  }

  /** initdb, archiving configured, server started, stanza created and `pgbackrest check` passed. */
  async start(): Promise<PgBackRestPrimaryInfo> {
    if (this.root) throw new Error('PgBackRestPrimary: already started');
    const started = Date.now();
    const user = (this.user = postgresUser());
    const root = (this.root = scratchRoot('drillbook-pgbackrest'));
    try {
      ownedDir(path.join(root, 'pg'), user, 0o755);
      const dataDir = path.join(root, 'pg', 'data');
      const socketDir = ownedDir(path.join(root, 'pg', 'socket'), user);
      const repoPath = ownedDir(path.join(root, 'repo'), user, 0o750);
      const walArchiveDir = ownedDir(path.join(root, 'wal-archive'), user, 0o750);
      for (const dir of ['log', 'lock', 'spool']) ownedDir(path.join(root, 'pgbackrest', dir), user);
      fs.chmodSync(path.join(root, 'pgbackrest'), 0o755);
      const pwfile = ownedFile(path.join(root, 'pg', 'pwfile'), `${this.password}\n`, user);
      await run(`${PG15_BIN}/initdb`, ['-D', dataDir, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C', '--data-checksums', '--no-sync'], { as: user });
      fs.rmSync(pwfile);
      const port = await freePort();
      const configFile = path.join(root, 'pgbackrest', 'pgbackrest.conf');
      const global: Record<string, string | number> = {
        'repo1-path': repoPath,
        'repo1-retention-full': 4,
        'log-path': path.join(root, 'pgbackrest', 'log'),
        'lock-path': path.join(root, 'pgbackrest', 'lock'),
        'spool-path': path.join(root, 'pgbackrest', 'spool'),
        'log-level-console': 'warn',
        'log-level-file': 'info',
        'start-fast': 'y',
        'compress-type': this.options.compressType ?? 'gz',
        ...this.options.pgbackrestGlobal,
      };
      const conf = `[global]\n${Object.entries(global).map(([k, v]) => `${k}=${v}`).join('\n')}\n\n[${this.stanza}]\npg1-path=${dataDir}\npg1-port=${port}\npg1-socket-path=${socketDir}\npg1-user=postgres\n`;
      ownedFile(configFile, conf, user, 0o640);
      // pgBackRest first, then the plain copy; `test -f ||` keeps a retried segment from failing forever.
      const archiveCommand = `${binary('pgbackrest')} --config=${configFile} --stanza=${this.stanza} archive-push %p && (test -f ${walArchiveDir}/%f || cp %p ${walArchiveDir}/%f)`;
      const settings: Record<string, string | number> = {
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: socketDir,
        wal_level: 'replica',
        max_wal_senders: 10,
        archive_mode: 'on',
        archive_command: archiveCommand,
        archive_timeout: this.archiveTimeoutValue,
        shared_buffers: '32MB',
        max_connections: 50,
        logging_collector: 'off',
        log_line_prefix: '%m [%p] ',
        ...this.options.parameters,
      };
      fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n# drillbook test harness\n${Object.entries(settings).map(([k, v]) => `${k} = ${quote(v)}`).join('\n')}\n`);
      const logFile = path.join(root, 'pg', 'postgres.log');
      this.postmaster = spawnLogged(`${PG15_BIN}/postgres`, ['-D', dataDir], { label: 'postgres (pgbackrest primary)', logFile, as: user });
      this.information = {
        root,
        host: '127.0.0.1',
        port,
        dataDir,
        socketDir,
        superuser: { user: 'postgres', password: this.password },
        connectionString: `postgres://postgres:${this.password}@127.0.0.1:${port}/postgres`,
        stanza: this.stanza,
        configFile,
        repoPath,
        walArchiveDir,
        archiveCommand,
        pid: this.postmaster.ref.pid,
        logFile,
        startupMs: 0,
      };
      await waitFor(
        'PostgreSQL to accept connections',
        async () => {
          if (!isRunning(this.postmaster!.ref)) throw new Error(`postgres exited: ${tail(logFile, 8)}`);
          await this.query('SELECT 1');
          return true;
        },
        30_000,
        100,
      );
      await this.pgbackrest(['stanza-create']);
      await this.pgbackrest(['check']);
      this.information.startupMs = Date.now() - started;
      return this.information;
    } catch (error) {
      const logs = this.postmaster ? tail(this.postmaster.logFile, 15) : '';
      await this.stop().catch(() => undefined);
      throw new Error(`pgBackRest primary did not start: ${(error as Error).message}\n${logs}`);
    }
  }

  /** Runs pgbackrest as postgres with this primary's config and stanza; resolves with stdout. */
  async pgbackrest(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
    const { stdout } = await run(binary('pgbackrest'), [`--config=${this.details.configFile}`, `--stanza=${this.stanza}`, ...args], { as: this.user, timeoutMs: options.timeoutMs ?? 180_000 });
    return stdout;
  }

  /** Takes a pgBackRest backup (an incr without a prior full becomes a full) and returns it from `info`. */
  async backup(type: 'full' | 'incr' | 'diff' = 'full'): Promise<PgBackRestBackup> {
    const before = new Set(((await this.info())[0]?.backup ?? []).map((b) => b.label));
    await this.pgbackrest(['backup', `--type=${type}`]);
    const after = (await this.info())[0]?.backup ?? [];
    const made = after.find((b) => !before.has(b.label));
    if (!made) throw new Error(`pgbackrest backup --type=${type} finished but no new backup is listed in info`);
    return made;
  }

  /** `pgbackrest info --output=json` for the stanza, parsed. */
  async info(): Promise<PgBackRestStanzaInfo[]> {
    return JSON.parse(await this.pgbackrest(['info', '--output=json'])) as PgBackRestStanzaInfo[];
  }

  /** Sets archive_timeout (ALTER SYSTEM + reload) and waits until new sessions see it. */
  async setArchiveTimeout(value: string): Promise<void> {
    const [wanted] = await this.query<{ seconds: string }>('SELECT round(EXTRACT(EPOCH FROM $1::interval))::int::text AS seconds', [value]);
    await this.query(`ALTER SYSTEM SET archive_timeout = '${value.replaceAll("'", "''")}'`);
    await this.query('SELECT pg_reload_conf()');
    await waitFor(
      `archive_timeout = ${value}`,
      async () => {
        const [row] = await this.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'archive_timeout'");
        return row?.setting === wanted?.seconds;
      },
      10_000,
    );
    this.archiveTimeoutValue = value;
  }

  /** Switches to a new WAL segment and waits until the one it closed is in both archives. Returns its file name. */
  async archiveCurrentWal(timeoutMs = 30_000): Promise<string> {
    const [row] = await this.query<{ file: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS file WHERE pg_current_wal_lsn() IS NOT NULL");
    const file = row!.file;
    await waitFor(
      `WAL ${file} archived`,
      async () => {
        const [archiver] = await this.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
        return archiver?.last !== null && archiver?.last !== undefined && archiver.last >= file && fs.existsSync(path.join(this.details.walArchiveDir, file));
      },
      timeoutMs,
      100,
    );
    return file;
  }

  /**
   * A pg_basebackup of this primary (WAL streamed into the backup) plus the plain `cp` WAL
   * archive. tar: client-side compression (base.tar.gz/.lz4/.zst, pg_wal.tar.…); plain:
   * server-side compression, decompressed by pg_basebackup, so a plain directory either way.
   */
  async pgBaseBackupTar(options: { compress?: BaseBackupCompression; format?: 'tar' | 'plain' } = {}): Promise<BaseBackupResult> {
    const compress = options.compress ?? 'gzip';
    const format = options.format ?? 'tar';
    this.backupCount++;
    const parent = ownedDir(path.join(this.details.root, 'basebackups'), this.user, 0o755);
    const dir = path.join(parent, `${this.backupCount}-${format}-${compress}`);
    const args = ['-h', this.details.socketDir, '-p', String(this.details.port), '-U', 'postgres', '-D', dir, '-X', 'stream', '-c', 'fast', '--no-sync'];
    if (format === 'tar') args.push('-F', 't', `--compress=${compress === 'none' ? 'none' : `client-${compress}`}`);
    else {
      args.push('-F', 'p');
      if (compress !== 'none') args.push(`--compress=server-${compress}`);
    }
    const startedAt = Date.now();
    await run(`${PG15_BIN}/pg_basebackup`, args, { as: this.user, timeoutMs: 300_000 });
    const finishedAt = Date.now();
    const files = fs.readdirSync(dir).sort();
    const result: BaseBackupResult = { dir, format, compress, files, walArchiveDir: this.details.walArchiveDir, startedAt, finishedAt };
    if (format === 'tar') {
      result.baseTar = `base.tar${TAR_SUFFIX[compress]}`;
      if (!files.includes(result.baseTar)) throw new Error(`pg_basebackup wrote ${files.join(', ')} without ${result.baseTar}`);
      result.walTar = files.find((f) => f.startsWith('pg_wal.tar'));
    }
    return result;
  }

  /**
   * Starts PostgreSQL 15 (as postgres) on a restored data directory — a bare restore, to compare
   * a drill's RTO with — on a free 127.0.0.1 port, its own socket dir, `archive_mode=off` (a
   * copy must never push into the production repo), and waits until it accepts connections
   * (after recovery, when it has a recovery.signal). Stop it by PID with the returned stop().
   */
  async startCopy(dataDir: string, options: { timeoutMs?: number; settings?: Record<string, string | number> } = {}): Promise<RestoredCopy> {
    const port = await freePort();
    const socketDir = ownedDir(`${dataDir}.socket`, this.user);
    const settings: Record<string, string | number> = { port, listen_addresses: '127.0.0.1', unix_socket_directories: socketDir, archive_mode: 'off', archive_command: '', ...options.settings };
    const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const logFile = `${dataDir}.log`;
    const startedAt = Date.now();
    const spawned = spawnLogged(`${PG15_BIN}/postgres`, args, { label: `postgres (copy in ${dataDir})`, logFile, as: this.user });
    const connection: pg.ClientConfig = { ...this.connection(), port };
    const stop = async () => {
      const stopped = await stopProcesses([{ ref: spawned.ref, signal: 'SIGINT' }], 20_000);
      fs.rmSync(socketDir, { recursive: true, force: true });
      return stopped;
    };
    try {
      await waitFor(
        `the copy in ${dataDir} to accept writes`,
        async () => {
          if (!isRunning(spawned.ref)) throw new Error(`postgres exited: ${tail(logFile, 8)}`);
          const rows = await queryRows<{ recovery: boolean }>(connection, 'SELECT pg_is_in_recovery() AS recovery', [], 30_000);
          return rows[0]?.recovery === false;
        },
        options.timeoutMs ?? 120_000,
        100,
      );
    } catch (error) {
      await stop().catch(() => undefined);
      throw error;
    }
    return { port, dataDir, connection, logFile, ref: spawned.ref, readyMs: Date.now() - startedAt, stop };
  }

  /** An empty directory in the scratch root owned by postgres (0700): where a test restores to. */
  scratchDir(name: string): string {
    ownedDir(path.join(this.details.root, 'scratch'), this.user, 0o755);
    return ownedDir(path.join(this.details.root, 'scratch', name), this.user);
  }

  connection(): pg.ClientConfig {
    return { host: '127.0.0.1', port: this.details.port, user: 'postgres', password: this.password, database: 'postgres', connectionTimeoutMillis: 5_000 };
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return queryRows<R>(this.connection(), sql, values, 30_000);
  }

  /** The postmaster and its children running now. */
  processes(): ProcessRef[] {
    if (!this.postmaster || !isRunning(this.postmaster.ref)) return [];
    return [this.postmaster.ref, ...descendants(this.postmaster.ref.pid, 'postgres')];
  }

  /** Fast shutdown by PID (SIGINT), SIGKILL after 20 s; sweeps strays; removes the scratch root. Returns what it stopped. */
  async stop(): Promise<ProcessRef[]> {
    if (!this.root) return [];
    const stopped = this.postmaster ? await stopProcesses([{ ref: this.postmaster.ref, signal: 'SIGINT' }], 20_000) : [];
    const root = this.root;
    this.root = undefined;
    await sweepAndRemoveScratch(root);
    return stopped;
  }
}


function quote(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}
