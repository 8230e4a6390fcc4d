/**
 * Operating-system helpers: the unprivileged user PostgreSQL runs as, free ports, and
 * finding processes by what they serve. PostgreSQL refuses to run as root, so when
 * drillbook runs as root its database processes run as `nobody` (or DRILLBOOK_PG_USER).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user database processes and their files belong to; undefined means "this process". */
export function databaseUser(requested?: string): OsUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = requested ?? process.env.DRILLBOOK_PG_USER ?? 'nobody';
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) throw new Error(`user ${name} does not exist: PostgreSQL cannot run as root; set DRILLBOOK_PG_USER to an unprivileged user`);
  const [, , uid, gid] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid) };
}

/**
 * The first directory on the way to `dir` (itself included, when it exists) that `user`
 * cannot enter, or undefined when every one can be searched. As root, drillbook creates the
 * database's files under its scratch area and hands them to `user`; a private TMPDIR (a
 * 0700 directory from `mktemp -d`, systemd's PrivateTmp, a per-user temp dir) lets root in
 * but not that user, and initdb then fails deep inside with "Permission denied".
 */
export function unreachableAncestor(dir: string, user: OsUser): string | undefined {
  const chain: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    chain.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const at of chain) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(at);
    } catch {
      return undefined; // the rest is created by drillbook, owned by the user
    }
    const searchBit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & searchBit) === 0) return at;
  }
  return undefined;
}

/** Gives a path (recursively) to the database user, so the server can own its files. */
export function chownTree(target: string, user: OsUser | undefined): void {
  if (!user) return;
  fs.chownSync(target, user.uid, user.gid);
  if (!fs.lstatSync(target).isDirectory()) return;
  for (const entry of fs.readdirSync(target, { withFileTypes: true })) {
    const child = path.join(target, entry.name);
    if (entry.isSymbolicLink()) fs.lchownSync(child, user.uid, user.gid);
    else chownTree(child, user);
  }
}

/** A port that is free right now on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on the port (we can bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids whose command line mentions `needle` (e.g. a data directory): survivors of a crash. */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
}

/** Every process with its parent and process group, from /proc. */
export function listProcesses(): ProcessInfo[] {
  const processes: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command name, which may itself hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      processes.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // the process ended while we looked
    }
  }
  return processes;
}

export function isPostgresProcess(pid: number): boolean {
  try {
    return path.basename(fs.readlinkSync(`/proc/${pid}/exe`)) === 'postgres';
  } catch {
    return false;
  }
}
