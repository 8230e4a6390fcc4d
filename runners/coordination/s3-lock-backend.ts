/**
 * The system lock outside a cluster when the evidence store is S3: the lock object of
 * reports/evidence/s3-lock.ts (`<prefix>/locks/<system>.json`, created with If-None-Match,
 * taken over after its expiry and renewed with If-Match on its ETag: one winner each time).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { releaseS3Lock, renewS3Lock, tryAcquireS3Lock, lockKey, type HeldS3Lock, type S3LockBody } from '../../reports/evidence/s3-lock.js';
import type { S3Location } from '../../reports/evidence/s3-ledger.js';
import { systemClock } from '../clock.js';
import type { LockHolder, SystemLockBackend } from './types.js';

export interface S3LockBackendOptions {
  client: S3Client;
  location: S3Location;
  system: string;
  identity: string;
  scenario: string;
  ttlMs: number;
  now?: () => number;
}

export function s3LockBackend(options: S3LockBackendOptions): SystemLockBackend {
  const { client, location, system, identity, ttlMs } = options;
  const now = () => new Date(options.now?.() ?? systemClock.wallMs());
  let held: HeldS3Lock | undefined;
  const holder = (body: S3LockBody): LockHolder => ({ identity: body.owner, scenario: body.scenario ?? null, expiresAt: body.expiresAt });
  return {
    kind: 's3-lock-object',
    name: `s3://${location.bucket}/${lockKey(location, system)}`,
    identity,
    ttlMs,
    async tryAcquire() {
      const attempt = await tryAcquireS3Lock(client, location, system, { ttlMs, owner: identity, scenario: options.scenario, now });
      if (!attempt.acquired) return { acquired: false, heldBy: holder(attempt.heldBy) };
      held = attempt.lock;
      return { acquired: true, ...(attempt.tookOverFrom ? { tookOverFrom: holder(attempt.tookOverFrom) } : {}) };
    },
    async renew() {
      return held !== undefined && (await renewS3Lock(client, location, held, ttlMs, now()));
    },
    async release() {
      if (!held) return false;
      const ours = await releaseS3Lock(client, location, held);
      held = undefined;
      return ours;
    },
  };
}
