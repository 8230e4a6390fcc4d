/**
 * One drill per system across runners (issue 16): the contract every shared lock meets. A
 * backend is one lock for one system, held by one identity; `gate.ts` applies the overlap
 * policy (skip or wait), renews while the drill runs, and writes the evidence.
 */

/** Who holds a lock, as the lock itself says. */
export interface LockHolder {
  identity: string;
  scenario: string | null;
  /** When the lock runs out unless renewed (UTC), by the holder's own writing. */
  expiresAt: string | null;
}

export type LockAttempt = { acquired: true; tookOverFrom?: LockHolder } | { acquired: false; heldBy: LockHolder };

export interface SystemLockBackend {
  kind: 'kubernetes-lease' | 's3-lock-object' | 'kubernetes-lease+s3-lock-object';
  /** `Lease <namespace>/<name>`, the lock object's s3:// URL, or both. */
  name: string;
  /** This runner's identity in the lock. */
  identity: string;
  /** How long the lock holds without a renewal. */
  ttlMs: number;
  /** One attempt: free, released or expired → ours (a conditional write: one winner); else who holds it. */
  tryAcquire(): Promise<LockAttempt>;
  /** Extend our hold; false when the lock is no longer ours (it expired and was taken over). */
  renew(): Promise<boolean>;
  /** Give the lock up; false when it was no longer ours (nothing is changed then). */
  release(): Promise<boolean>;
}

export type OverlapPolicy = 'skip' | 'wait';
