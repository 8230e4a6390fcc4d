/**
 * `run.json` → `coordination`: how the drill made sure it was the only one disrupting its
 * system across runners (CronJobs, `drillbook schedule`, CI, laptops; issue 16). Absent when
 * the run took no shared lock (local evidence outside a cluster: only `drillbook schedule`
 * keeps one drill per system, inside its own process).
 */
export interface RunCoordination {
  /**
   * The shared lock: a Kubernetes Lease (in a cluster), an S3 lock object (S3 evidence
   * elsewhere), or both (in a cluster with S3 evidence, so CronJobs and outside runners exclude each other).
   */
  lock: 'kubernetes-lease' | 's3-lock-object' | 'kubernetes-lease+s3-lock-object';
  /** Which: `Lease <namespace>/<name>`, `s3://bucket/prefix/locks/<system>.json`, or both joined by "and". */
  name: string;
  /** Who this run was in the lock (the Lease's holderIdentity, the lock object's owner). */
  holder: string;
  /** The scenario's policy when another runner held the system (`spec.schedule.overlap`, default skip). */
  overlap: 'skip' | 'wait';
  /** acquired: the drill ran holding the lock; skipped: another runner held it; interrupted: stopped while waiting; unavailable: the lock could not be reached (nothing was run). */
  result: 'acquired' | 'skipped' | 'interrupted' | 'unavailable';
  /** When this run asked for the lock (UTC). */
  requestedAt: string;
  acquiredAt: string | null;
  /** Seconds between asking and getting the lock (0 when it was free); or waited before skipping. */
  waitedSeconds: number;
  /** Each other holder seen while waiting or when skipping, first seen → last seen, with its scenario when the lock says. */
  heldBy: { identity: string; scenario: string | null; firstSeenAt: string; lastSeenAt: string; expiresAt: string | null }[];
  /** The lock was taken over from a holder whose lock had expired (it died or lost its connection). */
  tookOverFrom: { identity: string; expiredAt: string | null } | null;
  /** Why the run did not go ahead (skipped / interrupted). */
  reason: string | null;
  /** Set when the lock was released at the end of the drill (after teardown). */
  releasedAt: string | null;
  /** Set when the holder could not renew the lock during the drill: the drill was aborted. */
  lost: string | null;
}

/** A lock just asked for: nothing acquired, waited, seen or released yet. */
export function requestedCoordination(fields: Pick<RunCoordination, 'lock' | 'name' | 'holder' | 'overlap' | 'requestedAt'>): RunCoordination {
  return { ...fields, result: 'acquired', acquiredAt: null, waitedSeconds: 0, heldBy: [], tookOverFrom: null, reason: null, releasedAt: null, lost: null };
}
