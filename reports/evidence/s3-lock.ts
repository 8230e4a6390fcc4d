/**
 * "One drill per system" across runners that share an S3 evidence store: a lock object
 * `<prefix>/locks/<system>.json` holding its owner and an expiry.
 *
 * - Taken with `If-None-Match: *`: of two runners, one gets 412 PreconditionFailed.
 * - A lock past its expiry (its owner died without releasing) is taken over with a
 *   conditional write on the ETag it was read with (`If-Match`): of two runners taking over
 *   the same expired lock, only one succeeds; the other gets 412 and sees the new owner.
 * - Renewed by its owner the same way (If-Match on its own ETag), so a lock that was taken
 *   over is never silently renewed by its old owner: renew reports the loss.
 * - Released by writing it as released (If-Match on its own ETag), not by deleting it: the
 *   drill role has no s3:DeleteObject, and under Object Lock a delete only adds a marker.
 *
 * Taken by `run` (and so by the scheduler's and the CronJobs' runs) through
 * runners/coordination/s3-lock-backend.ts when the evidence store is s3:// outside a cluster.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { EvidenceError } from '../evidence-files.js';
import { isNoSuchKey, s3Key, type S3Location } from './s3-ledger.js';

export const S3_LOCKS_PREFIX = 'locks';

export interface S3LockBody {
  system: string;
  owner: string;
  token: string;
  acquiredAt: string;
  expiresAt: string;
  released: boolean;
  /** The drill the owner runs, so a waiting runner can say whom it waited for. */
  scenario?: string;
}

export interface HeldS3Lock {
  key: string;
  body: S3LockBody;
  etag: string;
}

export type S3LockAttempt = { acquired: true; lock: HeldS3Lock; tookOverFrom?: S3LockBody } | { acquired: false; heldBy: S3LockBody };

export interface S3LockOptions {
  ttlMs: number;
  owner?: string;
  scenario?: string;
  now?: () => Date;
}

/** A system name as a key segment: what S3 keys and messages can carry. */
export function lockKey(location: S3Location, system: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(system)) throw new EvidenceError(`system name ${JSON.stringify(system)} cannot name a lock object`);
  return s3Key(location, S3_LOCKS_PREFIX, `${system}.json`);
}

const precondition = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 412 || e.$metadata?.httpStatusCode === 409;
};

async function readLock(client: S3Client, bucket: string, key: string): Promise<{ body: S3LockBody; etag: string } | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await response.Body?.transformToString('utf8')) ?? '';
    let body: S3LockBody;
    try {
      body = JSON.parse(text) as S3LockBody;
    } catch {
      throw new EvidenceError(`s3://${bucket}/${key} is not a drillbook lock (not JSON)`);
    }
    return { body, etag: response.ETag ?? '' };
  } catch (error) {
    if (isNoSuchKey(error)) return undefined;
    throw error;
  }
}

async function write(client: S3Client, bucket: string, key: string, body: S3LockBody, condition: { IfNoneMatch: '*' } | { IfMatch: string }): Promise<string | undefined> {
  try {
    const response = await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(JSON.stringify(body)), ContentType: 'application/json', ...condition }),
    );
    return response.ETag ?? '';
  } catch (error) {
    // 404 on If-Match: the object was removed since we read it; a lost race as well.
    if (precondition(error) || ('IfMatch' in condition && isNoSuchKey(error))) return undefined;
    throw error;
  }
}

/** One attempt to take the system's lock: free, released or expired → ours; else who holds it. */
export async function tryAcquireS3Lock(client: S3Client, location: S3Location, system: string, options: S3LockOptions): Promise<S3LockAttempt> {
  const key = lockKey(location, system);
  const now = options.now?.() ?? new Date();
  const body: S3LockBody = {
    system,
    owner: options.owner ?? `${os.hostname()}:${process.pid}`,
    token: randomBytes(8).toString('hex'),
    acquiredAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + options.ttlMs).toISOString(),
    released: false,
    ...(options.scenario ? { scenario: options.scenario } : {}),
  };
  for (let round = 0; round < 5; round++) {
    const current = await readLock(client, location.bucket, key);
    if (current === undefined) {
      const etag = await write(client, location.bucket, key, body, { IfNoneMatch: '*' });
      if (etag !== undefined) return { acquired: true, lock: { key, body, etag } };
      continue; // someone created it meanwhile: read who
    }
    const expired = Date.parse(current.body.expiresAt) <= now.getTime();
    if (!current.body.released && !expired) return { acquired: false, heldBy: current.body };
    const etag = await write(client, location.bucket, key, body, { IfMatch: current.etag });
    if (etag !== undefined) return { acquired: true, lock: { key, body, etag }, ...(current.body.released ? {} : { tookOverFrom: current.body }) };
  }
  const holder = await readLock(client, location.bucket, key);
  if (holder) return { acquired: false, heldBy: holder.body };
  throw new EvidenceError(`s3://${location.bucket}/${key}: the lock kept changing; try again`);
}

/** Extend our lock; false when it is no longer ours (it expired and was taken over). */
export async function renewS3Lock(client: S3Client, location: S3Location, lock: HeldS3Lock, ttlMs: number, now: Date = new Date()): Promise<boolean> {
  const body = { ...lock.body, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
  const etag = await write(client, location.bucket, lock.key, body, { IfMatch: lock.etag });
  if (etag === undefined) return false;
  lock.body = body;
  lock.etag = etag;
  return true;
}

/** Release our lock; false when it was no longer ours (nothing is changed then). */
export async function releaseS3Lock(client: S3Client, location: S3Location, lock: HeldS3Lock): Promise<boolean> {
  const etag = await write(client, location.bucket, lock.key, { ...lock.body, released: true }, { IfMatch: lock.etag });
  return etag !== undefined;
}
