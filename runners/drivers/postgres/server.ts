/**
 * PostgreSQL server processes that drillbook itself starts (sandbox primary and standby,
 * restored copies). Each postmaster is spawned detached, so it leads its own process group
 * and a terminal Ctrl+C reaches drillbook only: drillbook decides when the servers stop.
 * Stopping works from another process too (`recover`): it needs only the data directory.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Clock, sleep, systemClock } from '../../clock.js';
import { type OsUser, chownTree, isPostgresProcess, listProcesses, processAlive, processesMentioning, signal } from '../../system.js';
import { type ConnectionSettings, connect } from '../../sql/connection.js';
import type { PgBinaries } from './binaries.js';

const execFileAsync = promisify(execFile);

export { type ConnectionSettings, connect } from '../../sql/connection.js';

export async function initCluster(binaries: PgBinaries, dataDir: string, password: string, user: OsUser | undefined): Promise<void> {
  const pwFile = `${dataDir}.pw`;
  fs.writeFileSync(pwFile, password, { mode: 0o600 });
  chownTree(pwFile, user);
  try {
    await execFileAsync(
      binaries.initdb,
      // 1 MB WAL segments: the sandbox archives often (archive_timeout) and a 16 MB segment
      // per switch would fill the disk with mostly empty files.
      ['-D', dataDir, '-U', 'postgres', '-A', 'scram-sha-256', '--pwfile', pwFile, '-E', 'UTF8', '--locale=C', '--wal-segsize=1', '--no-instructions', '-N'],
      { uid: user?.uid, gid: user?.gid, timeout: 120_000 },
    );
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

/** Appends settings to postgresql.auto.conf (read last, so they win). */
export function writeSettings(dataDir: string, settings: Record<string, string | number>, user: OsUser | undefined): void {
  const file = path.join(dataDir, 'postgresql.auto.conf');
  const lines = Object.entries(settings).map(([key, value]) => `${key} = '${String(value).replaceAll("'", "''")}'`);
  fs.appendFileSync(file, `\n# written by drillbook\n${lines.join('\n')}\n`);
  chownTree(file, user);
}

export interface StartedServer {
  pid: number;
  port: number;
  dataDir: string;
}

export async function startServer(
  binaries: PgBinaries,
  options: { dataDir: string; port: number; logFile: string; user: OsUser | undefined; settings?: Record<string, string> },
): Promise<StartedServer> {
  const log = fs.openSync(options.logFile, 'a', 0o600);
  try {
    const child = spawn(
      binaries.postgres,
      // Command-line settings win over every configuration file and over ALTER SYSTEM.
      ['-D', options.dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
      { uid: options.user?.uid, gid: options.user?.gid, detached: true, stdio: ['ignore', log, log] },
    );
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start postgres for ${options.dataDir}`);
    return { pid: child.pid, port: options.port, dataDir: options.dataDir };
  } finally {
    fs.closeSync(log);
  }
}

/** Waits until the server accepts connections; used for servers drillbook starts itself. */
export async function waitUntilAccepting(settings: ConnectionSettings, deadlineMs: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  const deadline = clock.monoMs() + deadlineMs;
  let lastError: unknown;
  while (clock.monoMs() < deadline) {
    signal?.throwIfAborted();
    try {
      const client = await connect(settings, 1_000);
      await client.end();
      return;
    } catch (error) {
      lastError = error;
      await sleep(50, signal);
    }
  }
  throw new Error(`server on port ${settings.port} did not accept connections within ${deadlineMs} ms: ${String(lastError)}`);
}

/** The postmaster of a data directory, if one is running from it. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid) && processesMentioning(dataDir).includes(pid)) return pid;
  } catch {
    // no postmaster.pid: the server is not running
  }
  const mentioning = processesMentioning(`-D ${dataDir} `);
  return mentioning[0];
}

/** A postmaster and the backends it forked (by parent pid), postmaster first. */
export function serverProcesses(postmaster: number): number[] {
  return [postmaster, ...listProcesses().filter((p) => p.ppid === postmaster).map((p) => p.pid)];
}

/** Pids in a process group (the postmaster and every backend it forked). */
export function processGroupMembers(pgid: number): number[] {
  // Only PostgreSQL processes: a stale group id must never take an unrelated process down.
  return listProcesses()
    .filter((p) => p.pgid === pgid && isPostgresProcess(p.pid))
    .map((p) => p.pid);
}

/** The process group drillbook noted when it started the server (survives a SIGKILLed postmaster). */
function recordedPgid(dataDir: string): number | undefined {
  try {
    const pgid = Number(fs.readFileSync(`${dataDir}.pgid`, 'utf8'));
    return Number.isInteger(pgid) && pgid > 0 ? pgid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a drill-owned server immediately (its data is about to be destroyed, so no
 * checkpoint is worth waiting for): SIGCONT in case a fault froze it, SIGQUIT to the
 * postmaster, then SIGKILL to whatever of its process group is left.
 */
export async function stopServer(dataDir: string, knownPgid?: number): Promise<{ stoppedPids: number[] }> {
  const pid = postmasterPid(dataDir);
  const pgid = pid ?? knownPgid ?? recordedPgid(dataDir);
  if (pgid === undefined) return { stoppedPids: [] };
  const members = processGroupMembers(pgid);
  signal(-pgid, 'SIGCONT');
  if (pid !== undefined) signal(pid, 'SIGQUIT');
  for (let waited = 0; waited < 5_000 && processGroupMembers(pgid).length > 0; waited += 50) await sleep(50);
  if (processGroupMembers(pgid).length > 0) signal(-pgid, 'SIGKILL');
  for (let waited = 0; waited < 5_000 && processGroupMembers(pgid).length > 0; waited += 50) await sleep(50);
  const left = processGroupMembers(pgid);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} of the server in ${dataDir} did not stop`);
  return { stoppedPids: members };
}
