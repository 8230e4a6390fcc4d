import { describe, expect, it } from 'vitest';
import { releaseS3Lock, renewS3Lock, tryAcquireS3Lock } from '../../../reports/evidence/s3-lock.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const Bucket = 'acme-drill-evidence';
let n = 0;
const location = () => ({ bucket: Bucket, prefix: `locks-test-${n}` });

const s3 = useFakeS3([Bucket]);

describe('S3 lock object per system', () => {
  it('of 10 runners racing for a free lock exactly one gets it; the others are told who holds it', async () => {
    n++;
    const attempts = await Promise.all(Array.from({ length: 10 }, (_, i) => tryAcquireS3Lock(s3.client, location(), 'orders-db', { ttlMs: 60_000, owner: `runner${i}` })));
    const won = attempts.filter((a) => a.acquired);
    expect(won).toHaveLength(1);
    const owner = won[0]!.acquired ? won[0]!.lock.body.owner : '';
    for (const lost of attempts.filter((a) => !a.acquired)) expect(!lost.acquired && lost.heldBy.owner).toBe(owner);
  });

  it('an expired lock is taken over by exactly one of several runners (If-Match), and its old owner can neither renew nor release it', async () => {
    n++;
    const t0 = new Date('2026-12-01T10:00:00Z');
    const first = await tryAcquireS3Lock(s3.client, location(), 'orders-db', { ttlMs: 1000, owner: 'dead', now: () => t0 });
    expect(first.acquired).toBe(true);
    const later = new Date(t0.getTime() + 5000);
    const stillHeld = await tryAcquireS3Lock(s3.client, location(), 'orders-db', { ttlMs: 1000, owner: 'early', now: () => new Date(t0.getTime() + 500) });
    expect(stillHeld.acquired).toBe(false);
    const takeovers = await Promise.all(Array.from({ length: 6 }, (_, i) => tryAcquireS3Lock(s3.client, location(), 'orders-db', { ttlMs: 60_000, owner: `new${i}`, now: () => later })));
    const won = takeovers.filter((a) => a.acquired);
    expect(won).toHaveLength(1);
    expect(won[0]!.acquired && won[0]!.tookOverFrom?.owner).toBe('dead');
    if (!first.acquired || !won[0]!.acquired) throw new Error('unreachable');
    expect(await renewS3Lock(s3.client, location(), first.lock, 1000, later)).toBe(false);
    expect(await releaseS3Lock(s3.client, location(), first.lock)).toBe(false);
    // The new owner renews and releases; then the lock is free for the next drill.
    expect(await renewS3Lock(s3.client, location(), won[0]!.lock, 60_000, later)).toBe(true);
    expect(await releaseS3Lock(s3.client, location(), won[0]!.lock)).toBe(true);
    const next = await tryAcquireS3Lock(s3.client, location(), 'orders-db', { ttlMs: 60_000, owner: 'next', now: () => later });
    expect(next.acquired && next.tookOverFrom).toBeUndefined();
    expect(next.acquired).toBe(true);
  });

  it('refuses a system name that cannot be a key segment', async () => {
    await expect(tryAcquireS3Lock(s3.client, location(), '../x', { ttlMs: 1000 })).rejects.toThrow(/cannot name a lock object/);
  });
});
