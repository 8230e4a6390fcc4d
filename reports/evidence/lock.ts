/**
 * An exclusive cross-process lock file (O_EXCL) holding its owner (pid, host, token): the
 * ledger's appends and the remediation register's appends are serialised by it. A lock whose
 * owner process is gone (same host) is taken over at once; one of another host after
 * `foreignLockStaleMs`. proper-lockfile was weighed and not used: it judges staleness by mtime
 * alone (a dead owner's lock would block for its whole stale time) and locks with a directory,
 * not this owner file.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
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
    try {
      const handle = await open(lockFile, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
      try {
        await handle.writeFile(ownerText);
      } finally {
        await handle.close();
      }
      return async () => {
        // Only remove the lock if it is still ours: if it was (wrongly) broken as stale and
        // taken by another writer, deleting it would let a third one in.
        const current = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (current === ownerText) await rm(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
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

