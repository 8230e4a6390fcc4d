/**
 * An exclusive cross-process lock (proper-lockfile): the ledger's appends and the remediation
 * register's appends are serialised by it. The lock is a directory created with mkdir (atomic,
 * also on network file systems) whose mtime its holder refreshes every second; a lock not
 * refreshed for `foreignLockStaleMs` is abandoned (its writer died, on this host or another)
 * and taken over. A writer killed with SIGKILL therefore blocks the next one for that long at
 * most (5 s by default), never for a whole timeout.
 */
import { rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { EvidenceError } from '../evidence-files.js';

export interface LockOptions {
  lockTimeoutMs?: number | undefined;
  /** A lock whose holder stopped refreshing it this long ago is abandoned (proper-lockfile `stale`, at least 2 s). */
  foreignLockStaleMs?: number;
}

const DEFAULT_STALE_MS = 5_000;

/** Takes the lock at `lockFile`, waiting up to lockTimeoutMs (default 10 s); resolves to its release. */
export async function acquireLock(lockFile: string, options: LockOptions): Promise<() => Promise<void>> {
  const timeoutMs = options.lockTimeoutMs ?? 10_000;
  const stale = options.foreignLockStaleMs ?? DEFAULT_STALE_MS;
  const deadline = Date.now() + timeoutMs;
  let backoffMs = 5;
  for (;;) {
    try {
      const release = await lockfile.lock(lockFile, {
        lockfilePath: lockFile,
        // The locked path is the lock itself: the ledger or register may not exist yet.
        realpath: false,
        stale,
        // The default throws from a timer: an uncaught exception mid-drill. A holder that could
        // not refresh its lock in time has lost it; proper-lockfile then leaves it alone.
        onCompromised: () => undefined,
      });
      return async () => {
        // Only removes the lock if it is still ours (ERELEASED otherwise): one taken over as
        // stale belongs to another writer now, and deleting it would let a third one in.
        await release().catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ERELEASED') throw error;
        });
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        // A lock file (not directory) an older drillbook left: stale by now, as mkdir found it and rmdir could not remove it.
        if (Date.now() - (await stat(lockFile).catch(() => ({ mtimeMs: 0 }))).mtimeMs > stale) await rm(lockFile, { force: true });
      } else if (code !== 'ELOCKED') throw error;
    }
    if (Date.now() >= deadline) {
      throw new EvidenceError(`timed out after ${timeoutMs} ms waiting for ${lockFile}; if no drill is finishing, delete it`);
    }
    await sleep(backoffMs + Math.random() * backoffMs);
    backoffMs = Math.min(backoffMs * 2, 200);
  }
}
