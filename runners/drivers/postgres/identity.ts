/**
 * Which server is this? The identity of the server behind an endpoint (system identifier,
 * timeline, role, data directory, port, postmaster start) and the matching facts read from
 * a local data directory (global/pg_control, postmaster.pid), so a fault aimed at local
 * processes can check before T0 that they belong to the server the drill measures.
 *
 * Issue 11, finding 1: the kill-primary fault was given the data directory of the node that had led
 * before a failover, SIGKILLed what was by then the replica, and the drill passed. The
 * system identifier alone cannot catch that (a streaming standby shares its primary's
 * identifier); the role and the running instance (port, postmaster start time, data
 * directory) can.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { processAlive } from '../../system.js';

export interface ServerIdentity {
  /** pg_control_system().system_identifier, as decimal text (a uint64 does not fit a JS number). */
  systemIdentifier: string;
  /** The timeline the server is on now (see `timelineSource`). */
  timeline: number;
  /**
   * How `timeline` was read. `wal-insert`: a primary's WAL insert timeline, from the name of
   * the current WAL file — exact, also right after a promotion. `wal-receiver`: a standby's
   * streamed timeline. `checkpoint`: pg_control's last checkpoint, which lags a promotion
   * until the next checkpoint — the fallback for a standby that is not streaming.
   */
  timelineSource: 'wal-insert' | 'wal-receiver' | 'checkpoint';
  inRecovery: boolean;
  /** SHOW data_directory; null without superuser or pg_read_all_settings. */
  dataDirectory: string | null;
  /** The port the server itself listens on (inet_server_port()), also behind a proxy. */
  serverPort: number | null;
  /** pg_postmaster_start_time() in whole Unix seconds: tells one run of a postmaster from the next. */
  postmasterStartedAt: number;
  /** server_version_num, e.g. 150008. */
  serverVersionNum: number;
  serverVersion: string;
}

/** Reads the identity of the server `client` is connected to. */
export async function serverIdentity(client: pg.Client): Promise<ServerIdentity> {
  let systemIdentifier: string;
  try {
    systemIdentifier = (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
  } catch (error) {
    // PUBLIC may run pg_control_system() by default, but managed and hardened servers revoke it.
    if ((error as { code?: string }).code === '42501')
      throw new Error('this user may not read the system identifier (pg_control_system() is not granted): GRANT EXECUTE ON FUNCTION pg_control_system() TO the drill user, or connect as a superuser');
    throw error;
  }
  const { rows } = await client.query<{ in_recovery: boolean; version_num: string; version: string; port: number | null; started: string }>(
    `SELECT pg_is_in_recovery() AS in_recovery,
            current_setting('server_version_num') AS version_num,
            current_setting('server_version') AS version,
            inet_server_port() AS port,
            floor(extract(epoch FROM pg_postmaster_start_time()))::bigint::text AS started`,
  );
  const row = rows[0]!;
  const { timeline, timelineSource } = await currentTimeline(client, row.in_recovery);
  let dataDirectory: string | null = null;
  try {
    dataDirectory = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory ?? null;
  } catch {
    // 42501: only superusers and pg_read_all_settings may read it; the other facts still identify the server
  }
  return {
    systemIdentifier,
    timeline,
    timelineSource,
    inRecovery: row.in_recovery,
    dataDirectory,
    serverPort: row.port,
    postmasterStartedAt: Number(row.started),
    serverVersionNum: Number(row.version_num),
    serverVersion: row.version,
  };
}

async function currentTimeline(client: pg.Client, inRecovery: boolean): Promise<Pick<ServerIdentity, 'timeline' | 'timelineSource'>> {
  if (!inRecovery) {
    // pg_walfile_name() names the segment with the WAL insert timeline, which changes the
    // moment promotion ends; pg_control_checkpoint().timeline_id changes only at the next
    // checkpoint. (pg_walfile_name is refused during recovery, hence the branch; a promotion
    // between the two queries surfaces as that error and the caller asks again.)
    const { rows } = await client.query<{ walfile: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS walfile');
    return { timeline: parseInt(rows[0]!.walfile.slice(0, 8), 16), timelineSource: 'wal-insert' };
  }
  const received = await client.query<{ tli: number | null }>('SELECT received_tli AS tli FROM pg_stat_wal_receiver');
  const tli = received.rows[0]?.tli;
  if (typeof tli === 'number' && tli > 0) return { timeline: tli, timelineSource: 'wal-receiver' };
  const { rows } = await client.query<{ tli: number }>('SELECT timeline_id AS tli FROM pg_control_checkpoint()');
  return { timeline: rows[0]!.tli, timelineSource: 'checkpoint' };
}

/** Same server, same timeline, still not in recovery: what "the recovery holds" checks between probes. */
export function sameServer(before: ServerIdentity, after: ServerIdentity): { same: true } | { same: false; reason: string } {
  if (before.systemIdentifier !== after.systemIdentifier) return { same: false, reason: `another cluster answered (system identifier ${after.systemIdentifier}, was ${before.systemIdentifier})` };
  if (after.inRecovery && !before.inRecovery) return { same: false, reason: 'the server went into recovery (demoted)' };
  if (after.timeline !== before.timeline) return { same: false, reason: `the timeline changed from ${before.timeline} to ${after.timeline}` };
  if (after.postmasterStartedAt !== before.postmasterStartedAt || after.serverPort !== before.serverPort || after.dataDirectory !== before.dataDirectory)
    return { same: false, reason: 'another server of the cluster answered (postmaster start time, port or data directory changed)' };
  return { same: true };
}

// ---------------------------------------------------------------- a local data directory

/** pg_control's DBState (src/include/catalog/pg_control.h; unchanged from 9.x to 18). */
export const DB_STATES = ['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production'] as const;
export type DbState = (typeof DB_STATES)[number];

export interface ControlFile {
  systemIdentifier: string;
  /** pg_control_version, e.g. 1300 (PostgreSQL 15 to 16), 1700, 1800. */
  controlVersion: number;
  state: DbState | `unknown (${number})`;
  /** The timeline of the last checkpoint (lags a promotion until the next checkpoint). */
  checkpointTimeline: number;
}

/**
 * Reads the start of global/pg_control without pg_controldata (whose version must match the
 * cluster's). ControlFileData begins, in every release since 9.x: uint64 system_identifier,
 * uint32 pg_control_version, uint32 catalog_version_no, DBState state (int) at 16, pg_time_t
 * time at 24, XLogRecPtr checkPoint at 32, then CheckPoint checkPointCopy at 40 whose first
 * fields are XLogRecPtr redo and TimeLineID ThisTimeLineID (at 48). The file is written in
 * the server's byte order, which is this machine's for a local data directory.
 */
export function readControlFile(dataDir: string): ControlFile {
  const file = path.join(dataDir, 'global', 'pg_control');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(52);
  try {
    if (fs.readSync(fd, buffer, 0, buffer.length, 0) < buffer.length) throw new Error(`${file} is too short to be a pg_control file`);
  } finally {
    fs.closeSync(fd);
  }
  const le = os.endianness() === 'LE';
  const u64 = le ? buffer.readBigUInt64LE(0) : buffer.readBigUInt64BE(0);
  const u32 = (offset: number) => (le ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset));
  const stateNumber = u32(16);
  const controlVersion = u32(8);
  if (controlVersion < 900 || controlVersion > 9999) throw new Error(`${file} does not look like a pg_control file (pg_control_version ${controlVersion})`);
  return {
    systemIdentifier: u64.toString(),
    controlVersion,
    state: DB_STATES[stateNumber] ?? `unknown (${stateNumber})`,
    checkpointTimeline: u32(48),
  };
}

export interface PostmasterPidFile {
  pid: number;
  dataDirectory: string;
  /** Unix seconds. */
  startedAt: number;
  port: number;
  /**
   * Line 8 (PostgreSQL 10+): `starting`, `stopping`, `ready` or `standby`. A hot standby that
   * accepts connections says `ready`, like a primary; `standby` is only a standby without
   * hot_standby. The role comes from pg_control's state and standby.signal instead.
   */
  status: string | null;
}

/** postmaster.pid (src/include/utils/pidfile.h line numbers), or undefined when there is none. */
export function readPostmasterPid(dataDir: string): PostmasterPidFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  return {
    pid: Number(lines[0]),
    dataDirectory: lines[1] ?? '',
    startedAt: Number(lines[2]),
    port: Number(lines[3]),
    status: lines[7]?.trim() || null,
  };
}

export type MismatchKind = 'not-a-data-directory' | 'system-identifier' | 'not-running' | 'role' | 'instance';

export type BelongsResult =
  | { belongs: true; pid: number; facts: string[] }
  | { belongs: false; kind: MismatchKind; reason: string; facts: string[] };

/**
 * Do the processes running from `dataDir` belong to the server with `identity` (the one
 * behind the endpoint)? Checked, in order: a pg_control is there; its system identifier is
 * the endpoint's (same cluster); a postmaster runs from it; its role is the endpoint's
 * (pg_control says `in archive recovery`, standby.signal is there, or postmaster.pid says
 * `standby`, while the endpoint is a primary — the failover-leftover case); and it is the same running instance (port, start
 * time and, when the endpoint may read it, the data directory). The reason names both sides.
 */
export function checkProcessesBelong(identity: ServerIdentity, dataDir: string): BelongsResult {
  const facts: string[] = [];
  let control: ControlFile;
  try {
    control = readControlFile(dataDir);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it has no global/pg_control' : error instanceof Error ? error.message : String(error);
    return { belongs: false, kind: 'not-a-data-directory', reason: `${dataDir} is not a PostgreSQL data directory: ${why}`, facts };
  }
  facts.push(`${dataDir}: system identifier ${control.systemIdentifier}, pg_control state ${control.state}`);
  if (control.systemIdentifier !== identity.systemIdentifier)
    return {
      belongs: false,
      kind: 'system-identifier',
      reason: `${dataDir} belongs to another cluster: its system identifier is ${control.systemIdentifier}, the endpoint's server has ${identity.systemIdentifier}`,
      facts,
    };
  const pidFile = readPostmasterPid(dataDir);
  if (!pidFile || !Number.isInteger(pidFile.pid) || pidFile.pid <= 0 || !processAlive(pidFile.pid))
    return { belongs: false, kind: 'not-running', reason: `no postmaster is running from ${dataDir}${pidFile ? ` (postmaster.pid names pid ${pidFile.pid}, which is gone)` : ''}`, facts };
  facts.push(`postmaster pid ${pidFile.pid}, port ${pidFile.port}, status ${pidFile.status ?? 'unknown'}, started ${new Date(pidFile.startedAt * 1000).toISOString()}`);
  const localInRecovery = pidFile.status === 'standby' || control.state === 'in archive recovery' || fs.existsSync(path.join(dataDir, 'standby.signal'));
  if (localInRecovery !== identity.inRecovery) {
    const local = localInRecovery ? 'a standby (in recovery)' : 'a primary';
    const remote = identity.inRecovery ? 'a standby' : 'the primary';
    return {
      belongs: false,
      kind: 'role',
      reason: `the server running from ${dataDir} is ${local}, but the endpoint's server is ${remote}: the fault would hit the wrong node (after a failover, the old primary's directory is a replica's)`,
      facts,
    };
  }
  const differences: string[] = [];
  if (identity.serverPort !== null && identity.serverPort !== pidFile.port) differences.push(`port ${pidFile.port} here, ${identity.serverPort} behind the endpoint`);
  // postmaster.pid and pg_postmaster_start_time() take the clock a moment apart: allow a second either way.
  if (Math.abs(identity.postmasterStartedAt - pidFile.startedAt) > 1) differences.push(`started at ${pidFile.startedAt} here, ${identity.postmasterStartedAt} behind the endpoint`);
  if (identity.dataDirectory !== null && realpath(identity.dataDirectory) !== realpath(dataDir)) differences.push(`the endpoint's server runs from ${identity.dataDirectory}`);
  if (differences.length > 0)
    return { belongs: false, kind: 'instance', reason: `the postmaster running from ${dataDir} is another server of the same cluster than the one behind the endpoint: ${differences.join('; ')}`, facts };
  return { belongs: true, pid: pidFile.pid, facts };
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
