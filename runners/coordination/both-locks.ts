/**
 * A runner in the cluster with S3 evidence takes both locks of its system: the Lease (which
 * the other CronJobs take) and then the S3 lock object (which runners outside the cluster —
 * CI, laptops — take). Either alone would let a CronJob and a CI job disrupt the system at
 * once, the case issue 16 starts from. Always in this order, and the Lease is given back when
 * the S3 lock is held elsewhere, so two runners never each hold one lock waiting for the other.
 */
import type { LockAttempt, SystemLockBackend } from './types.js';

export function bothLocks(first: SystemLockBackend, second: SystemLockBackend): SystemLockBackend {
  return {
    kind: `${first.kind}+${second.kind}` as SystemLockBackend['kind'],
    name: `${first.name} and ${second.name}`,
    identity: first.identity,
    ttlMs: Math.min(first.ttlMs, second.ttlMs),
    async tryAcquire(): Promise<LockAttempt> {
      const a = await first.tryAcquire();
      if (!a.acquired) return a;
      let b: LockAttempt;
      try {
        b = await second.tryAcquire();
      } catch (error) {
        await first.release().catch(() => false);
        throw error;
      }
      if (!b.acquired) {
        await first.release();
        return b;
      }
      const tookOverFrom = a.tookOverFrom ?? b.tookOverFrom;
      return tookOverFrom ? { acquired: true, tookOverFrom } : { acquired: true };
    },
    async renew() {
      const [a, b] = await Promise.all([first.renew(), second.renew()]);
      return a && b;
    },
    async release() {
      const [a, b] = await Promise.allSettled([first.release(), second.release()]);
      if (a.status === 'rejected') throw a.reason;
      if (b.status === 'rejected') throw b.reason;
      return a.value && b.value;
    },
  };
}
