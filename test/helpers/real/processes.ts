/**
 * The plumbing every real-component helper shares: a scratch root the `postgres` user can
 * reach, free 127.0.0.1 ports, processes spawned as root or as `postgres` with their output
 * in a log file, and stopping by PID — the PIDs a helper started, their descendants and the
 * postmasters it found through `postmaster.pid` — with a check that none of them survived.
 *
 * Deliberately independent of drillbook's own code: these helpers build the world the
 * drills are graded in, so a bug in drillbook must not be able to hide here.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The OS user from /etc/passwd, or undefined when it does not exist. */
export function osUser(name: string): OsUser | undefined {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  const line = passwd.split('\n').find((l) => l.split(':')[0] === name);
  if (!line) return undefined;
  const [, , uid, gid, , home] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

/** The `postgres` user PostgreSQL and Patroni run as; throws when it is missing. */
export function postgresUser(): OsUser {
  const user = osUser('postgres');
  if (!user) throw new Error('the postgres OS user does not exist (install postgresql-15)');
  return user;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// ---------------------------------------------------------------------------------------
// Scratch directories

/**
 * A fresh scratch root under the system temp dir. `mkdtemp` makes it 0700 root, which the
 * postgres user cannot traverse, so it is opened to 0755 (its children that hold data are
 * 0700 and owned by postgres). `DRILLBOOK_REAL_KEEP=1` keeps it after stop() for post-mortems.
 */
export function scratchRoot(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** A directory owned by `owner` (0700 unless told): what PostgreSQL wants for its data. */
export function ownedDir(dir: string, owner: OsUser | undefined, mode = 0o700): string {
  fs.mkdirSync(dir, { recursive: true, mode });
  fs.chmodSync(dir, mode);
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** A file the `owner` can read (config files, password files). */
export function ownedFile(file: string, content: string, owner: OsUser | undefined, mode = 0o600): string {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
  return file;
}

export function removeScratch(dir: string): void {
  if (process.env.DRILLBOOK_REAL_KEEP === '1') return;
  fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------
// Ports

const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port free right now on 127.0.0.1, never one handed out before in this process. Chosen
 * below the kernel's ephemeral range (32768+) so that outgoing connections of the components
 * themselves cannot be holding it by the time the component binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free 127.0.0.1 port found in 20000-31999 after 200 tries');
}

// ---------------------------------------------------------------------------------------
// Processes

/** Identifies one process: the PID plus its start time, so a reused PID is never taken for it. */
export interface ProcessRef {
  pid: number;
  /** /proc/<pid>/stat field 22 (start time in clock ticks since boot). */
  startTicks: string;
  label: string;
}

interface ProcStat {
  state: string;
  ppid: number;
  startTicks: string;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTicks: rest[19] ?? '' };
}

/** A reference to a running process, or undefined when there is no such process. */
export function processRef(pid: number, label: string): ProcessRef | undefined {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z') return undefined;
  return { pid, startTicks: stat.startTicks, label };
}

/** True while the process runs (zombies and reused PIDs count as gone). */
export function isRunning(ref: ProcessRef): boolean {
  const stat = procStat(ref.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTicks === ref.startTicks;
}

/** Every running descendant of `pid` (children, grandchildren…), found through /proc. */
export function descendants(pid: number, label = 'child'): ProcessRef[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat || stat.state === 'Z') continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const found: ProcessRef[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    const ref = processRef(next, `child of ${label}`);
    if (ref) found.push(ref);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

/** The postmaster of a data directory, from the first line of `postmaster.pid`. */
export function postmasterOf(dataDir: string): ProcessRef | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const ref = processRef(pid, `postmaster of ${dataDir}`);
  // A stale postmaster.pid can name a PID that now belongs to something else.
  if (!ref) return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres')) return undefined;
  } catch {
    return undefined;
  }
  return ref;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await sleep(everyMs);
  }
}

export interface Spawned {
  ref: ProcessRef;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

export interface SpawnOptions {
  label: string;
  logFile: string;
  /** Run as this user (uid/gid, HOME, USER); root otherwise. */
  as?: OsUser;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * Starts a long-running component with stdout and stderr appended to `logFile`. The child is
 * registered so that a test process that exits without stop() still SIGKILLs it.
 */
export function spawnLogged(command: string, args: string[], options: SpawnOptions): Spawned {
  const fd = fs.openSync(options.logFile, 'a', 0o644);
  if (options.as) fs.fchownSync(fd, options.as.uid, options.as.gid);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd ?? os.tmpdir(),
      env: baseEnv(options.as, options.env),
      stdio: ['ignore', fd, fd],
      ...(options.as ? { uid: options.as.uid, gid: options.as.gid } : {}),
    });
  } finally {
    fs.closeSync(fd);
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => resolve(`spawn error: ${error.message}`));
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.label} (${command}); see ${options.logFile}`);
  const ref = processRef(child.pid, options.label) ?? { pid: child.pid, startTicks: '', label: options.label };
  track(ref);
  return { ref, child, logFile: options.logFile, exited };
}

function baseEnv(as: OsUser | undefined, extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
    HOME: as?.home ?? process.env.HOME ?? '/root',
    USER: as?.name ?? 'root',
    LOGNAME: as?.name ?? 'root',
  };
  return { ...env, ...extra };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a short command (as `as` when given) and resolves with its output; rejects with it on failure. */
export function run(command: string, args: string[], options: { as?: OsUser; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd ?? os.tmpdir(),
        env: baseEnv(options.as, options.env),
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        ...(options.as ? { uid: options.as.uid, gid: options.as.gid } : {}),
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr}`.trim()));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

// Safety net: whatever a test forgot to stop dies with the test process.
const leftovers = new Set<ProcessRef>();
let exitHookInstalled = false;

/** Registers a process found later (a postmaster a component started) for the exit safety net. */
export function track(ref: ProcessRef): void {
  leftovers.add(ref);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const left of leftovers) if (isRunning(left)) killQuietly(left.pid, 'SIGKILL');
    });
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The signal to send to each process: the first step of a polite shutdown. */
export interface StopStep {
  ref: ProcessRef;
  /** Omitted: only wait for it (another process stops it), SIGKILL after the grace time. */
  signal?: NodeJS.Signals;
}

/**
 * Stops processes by PID: sends each its signal, waits up to `graceMs` for all of them (and
 * every descendant found at the moment of the signal) to be gone, SIGKILLs whatever is left,
 * and throws if any PID still runs after that. Returns every PID that was stopped.
 */
export async function stopProcesses(steps: StopStep[], graceMs = 15_000): Promise<ProcessRef[]> {
  const all: ProcessRef[] = [];
  for (const step of steps) {
    if (!isRunning(step.ref)) continue;
    all.push(step.ref, ...descendants(step.ref.pid, step.ref.label));
    if (step.signal) killQuietly(step.ref.pid, step.signal);
  }
  for (const step of steps) track(step.ref);
  const deadline = Date.now() + graceMs;
  while (all.some(isRunning) && Date.now() < deadline) await sleep(50);
  for (const ref of all.filter(isRunning)) {
    // Grandchildren that appeared meanwhile go too.
    for (const late of descendants(ref.pid, ref.label)) {
      all.push(late);
      killQuietly(late.pid, 'SIGKILL');
    }
    killQuietly(ref.pid, 'SIGKILL');
  }
  const killDeadline = Date.now() + 5_000;
  while (all.some(isRunning) && Date.now() < killDeadline) await sleep(50);
  const survivors = all.filter(isRunning);
  if (survivors.length > 0) throw new Error(`still running after SIGKILL: ${survivors.map((s) => `${s.pid} (${s.label})`).join(', ')}`);
  for (const ref of all) leftovers.delete(ref);
  return all;
}

/** Processes whose command line mentions `needle` (a scratch root): a last sweep for strays. */
export function processesMentioning(needle: string): ProcessRef[] {
  const found: ProcessRef[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!cmdline.includes(needle)) continue;
    } catch {
      continue;
    }
    const ref = processRef(Number(entry), `process mentioning ${needle}`);
    if (ref) found.push(ref);
  }
  return found;
}

/**
 * The last step of a helper's stop(): SIGKILLs every process still mentioning `root` (and their
 * descendants) plus `extra`, removes the scratch root, and throws if anything had to be killed so.
 */
export async function sweepAndRemoveScratch(root: string, extra: ProcessRef[] = []): Promise<void> {
  const strays = processesMentioning(root).flatMap((ref) => [ref, ...descendants(ref.pid, ref.label)]);
  strays.push(...extra);
  if (strays.length > 0) await stopProcesses(strays.map((ref) => ({ ref, signal: 'SIGKILL' as const })), 5_000);
  removeScratch(root);
  if (strays.length > 0) throw new Error(`stop() had to SIGKILL processes it did not know: ${strays.map((s) => s.pid).join(', ')}`);
}

// ---------------------------------------------------------------------------------------
// HTTP on 127.0.0.1

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request with a hard timeout (no keep-alive, so nothing lingers after stop()). */
export function httpRequest(url: string, options: { method?: string; body?: string; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers, ...(options.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(options.body)) } : {}) };
    const request = http.request(url, { method: options.method ?? 'GET', agent: false, headers, timeout: options.timeoutMs ?? 2_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer within ${options.timeoutMs ?? 2_000} ms`)));
    request.on('error', reject);
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------
// One SQL query on its own connection

/** Runs `sql` on a fresh connection (closed afterwards) with the given query timeout; returns its rows. */
export async function queryRows<R extends pg.QueryResultRow>(config: pg.ClientConfig, sql: string, values: unknown[], queryTimeoutMs: number): Promise<R[]> {
  const client = new pg.Client({ ...config, query_timeout: queryTimeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
