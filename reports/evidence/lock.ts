/**
 * An exclusive cross-process lock file (created whole by link(), which fails like O_EXCL) holding its owner (pid, host, token): the
 * ledger's appends and the remediation register's appends are serialised by it. A lock whose
 * owner process is gone (same host) is taken over at once; one of another host after
 * `foreignLockStaleMs`. proper-lockfile was weighed and not used: it judges staleness by mtime
 * alone (a dead owner's lock would block for its whole stale time) and locks with a directory,
 * not this owner file.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { EvidenceError } from '../evidence-files.js';

export interface LockOptions {
  lockTimeoutMs?: number | undefined;
  /** Lock files of another host are considered abandoned after this long (pid cannot be checked). */
  foreignLockStaleMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  at: string;
}

/** Exclusive cross-process lock file (O_EXCL); also serialises the remediation register's appends. */
export async function acquireLock(lockFile: string, options: LockOptions): Promise<() => Promise<void>> {
  const timeoutMs = options.lockTimeoutMs ?? 10_000;
  const foreignStaleMs = options.foreignLockStaleMs ?? 60_000;
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), at: new Date().toISOString() };
  const ownerText = JSON.stringify(owner);
  const deadline = Date.now() + timeoutMs;
  let backoffMs = 5;
  for (;;) {
    // The owner is written to a file of our own first and then linked into place: link() fails
    // with EEXIST like O_EXCL, but the lock file never exists without its owner, so a writer
    // killed at any instant leaves a lock whose dead pid frees it at once (with O_EXCL + write,
    // a kill between the two left an empty lock that blocked every writer for the stale time).
    const staged = `${lockFile}.${owner.pid}-${owner.token}.tmp`;
    let linked = false;
    try {
      await writeFile(staged, ownerText, { mode: 0o644 });
      await link(staged, lockFile);
      linked = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        await rm(staged, { force: true });
        throw error;
      }
    }
    await rm(staged, { force: true });
    if (linked) {
      return async () => {
        // Only remove the lock if it is still ours: if it was (wrongly) broken as stale and
        // taken by another writer, deleting it would let a third one in.
        const current = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (current === ownerText) await rm(lockFile, { force: true });
      };
    }
    await breakLockIfStale(lockFile, foreignStaleMs);
    if (Date.now() >= deadline) {
      throw new EvidenceError(`timed out after ${timeoutMs} ms waiting for ${lockFile}; if no drill is finishing, delete it`);
    }
    await sleep(backoffMs + Math.random() * backoffMs);
    backoffMs = Math.min(backoffMs * 2, 200);
  }
}

async function breakLockIfStale(lockFile: string, foreignStaleMs: number): Promise<void> {
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text === undefined) return; // released meanwhile
  let lockOwner: Partial<LockOwner>;
  try {
    lockOwner = JSON.parse(text) as Partial<LockOwner>;
  } catch {
    // Empty or partial: the owner is between O_EXCL create and write, or died there. Only
    // treat it as stale once it is clearly old.
    const { mtimeMs } = await stat(lockFile).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > foreignStaleMs) await removeLockIfUnchanged(lockFile, text);
    return;
  }
  const stale =
    lockOwner.host === os.hostname()
      ? typeof lockOwner.pid === 'number' && !isProcessAlive(lockOwner.pid)
      : Date.now() - Date.parse(lockOwner.at ?? '') > foreignStaleMs;
  if (stale) await removeLockIfUnchanged(lockFile, text);
}

/**
 * Remove a stale lock without removing a fresh one that replaced it since we read it: move
 * it aside atomically, then check we moved the one we judged stale; if not, put it back.
 */
async function removeLockIfUnchanged(lockFile: string, staleText: string): Promise<void> {
  const aside = `${lockFile}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockFile, aside);
  } catch {
    return; // someone else handled it
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== staleText) {
    // We took a live lock: restore it unless a new one exists already (link fails then).
    await link(aside, lockFile).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

