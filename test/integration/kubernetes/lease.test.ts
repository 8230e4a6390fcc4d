/**
 * The per-system Lease (runners/coordination/lease-backend.ts) through the real
 * @kubernetes/client-node CoordinationV1Api against the local fake API server, which answers
 * as a real one does: 409 AlreadyExists on a second create, 409 Conflict on a stale
 * resourceVersion, 400 on a millisecond MicroTime. Ground truth is the fake's own write log
 * and stored Lease, not what the backend says about itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { leaseBackend, leaseName, MicroTime } from '../../../runners/coordination/lease-backend.js';
import { enterSystemLock } from '../../../runners/coordination/gate.js';
import { type FakeKubeApi, startFakeKubeApi } from '../../helpers/fake-kube-api.js';

const NS = 'drillbook';
let api: FakeKubeApi;
let coordination: k8s.CoordinationV1Api;
let system = '';
let counter = 0;

beforeAll(async () => {
  api = await startFakeKubeApi();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-lease-'));
  const config = new k8s.KubeConfig();
  config.loadFromFile(api.writeKubeconfig(dir));
  coordination = config.makeApiClient(k8s.CoordinationV1Api);
});
afterAll(() => api.close());
beforeEach(() => {
  system = `orders-db-${++counter}`;
});

const contender = (identity: string, ttlMs = 1000) => leaseBackend({ api: coordination, namespace: NS, system, identity, scenario: `${identity}-drill`, ttlMs });
const stored = () => api.leases.leases.get(`${NS}/${leaseName(system)}`);
const writes = () => api.leases.writes.filter((w) => w.key === `${NS}/${leaseName(system)}`);

describe('the system Lease against the fake API server', () => {
  it('of two contenders for a free Lease exactly one holds it; the other got 409 AlreadyExists and names the winner', async () => {
    const [a, b] = [contender('runner-a'), contender('runner-b')];
    const [ra, rb] = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    expect([ra.acquired, rb.acquired].filter(Boolean)).toHaveLength(1);
    const winner = ra.acquired ? 'runner-a' : 'runner-b';
    const loser = ra.acquired ? rb : ra;
    expect(stored()?.spec.holderIdentity).toBe(winner);
    expect(writes().map((w) => w.status).sort()).toEqual([201, 409]);
    expect(loser.acquired ? null : loser.heldBy.identity).toBe(winner);
    expect(loser.acquired ? null : loser.heldBy.scenario).toBe(`${winner}-drill`);
  });

  it('is named from the system, and stamps MicroTime with six digits (the fake, like a real server, refuses three)', async () => {
    expect(leaseName('orders-db')).toBe('drillbook-system-orders-db');
    expect(leaseName('Orders_DB')).toMatch(/^drillbook-system-orders-db-[0-9a-f]{8}$/);
    expect(leaseName('Orders_DB')).not.toBe(leaseName('orders-db'));
    expect((await contender('runner-a').tryAcquire()).acquired).toBe(true);
    expect(stored()?.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(stored()?.spec.leaseDurationSeconds).toBe(1);
    const plain = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'plain-date' }, spec: { holderIdentity: 'x', renewTime: new Date() } };
    await expect(coordination.createNamespacedLease({ namespace: NS, body: plain })).rejects.toMatchObject({ code: 400 });
    expect(new MicroTime(0).toISOString()).toBe('1970-01-01T00:00:00.000000Z');
  });

  it('is taken over only after it expired: before, the holder is reported; after, the taker records whom it took it from, and the old holder cannot renew', async () => {
    const a = contender('runner-a');
    const b = contender('runner-b');
    expect((await a.tryAcquire()).acquired).toBe(true);
    const acquiredAt = Date.now();
    // runner-a is "killed": it never renews again.
    const early = await b.tryAcquire();
    expect(early).toMatchObject({ acquired: false, heldBy: { identity: 'runner-a' } });
    const expiresAt = Date.parse(stored()!.spec.renewTime) + 1000;
    await sleep(Math.max(0, expiresAt - Date.now()) + 50);
    const late = await b.tryAcquire();
    expect(Date.now()).toBeGreaterThan(acquiredAt + 1000);
    expect(late).toMatchObject({ acquired: true, tookOverFrom: { identity: 'runner-a' } });
    expect(stored()?.spec).toMatchObject({ holderIdentity: 'runner-b', leaseTransitions: 1 });
    // The old holder's renewal carries the old resourceVersion: 409, and it learns it lost.
    expect(await a.renew()).toBe(false);
    expect(writes().at(-1)).toMatchObject({ verb: 'update', status: 409 });
    expect(stored()?.spec.holderIdentity).toBe('runner-b');
  });

  it('of two runners taking over the same expired Lease one wins; the other gets 409 Conflict and reports the winner', async () => {
    expect((await contender('dead-runner').tryAcquire()).acquired).toBe(true);
    await sleep(1100);
    const [b, c] = [contender('runner-b'), contender('runner-c')];
    // Both read the expired Lease before either writes: the second write carries a stale resourceVersion.
    let reads = 0;
    const bothRead = new Promise<void>((resolve) => {
      api.leases.beforeWrite = () => {
        if (++reads === 2) resolve();
      };
    });
    const [rb, rc] = await Promise.all([b.tryAcquire(), c.tryAcquire(), bothRead]);
    api.leases.beforeWrite = undefined;
    expect([rb.acquired, rc.acquired].filter(Boolean)).toHaveLength(1);
    const updates = writes().filter((w) => w.verb === 'update');
    expect(updates.map((w) => w.status).sort()).toEqual([200, 409]);
    const winner = stored()!.spec.holderIdentity;
    const loser = rb.acquired ? rc : rb;
    expect(loser).toMatchObject({ acquired: false, heldBy: { identity: winner } });
  });

  it('renewed by its holder, it outlives its TTL and is never taken; released, the waiting runner gets it at once', async () => {
    const a = await enterSystemLock(contender('runner-a'), { overlap: 'skip', renewMs: 200 });
    expect(a.state).toBe('held');
    const firstRenew = stored()!.spec.renewTime as string;
    const b = enterSystemLock(contender('runner-b'), { overlap: 'wait', pollMs: 100 });
    await sleep(2500); // 2.5 TTLs: without renewals runner-b would have taken it
    expect(stored()?.spec.holderIdentity).toBe('runner-a');
    expect(Date.parse(stored()!.spec.renewTime)).toBeGreaterThan(Date.parse(firstRenew) + 1500);
    const releasedAt = Date.now();
    if (a.state === 'held') await a.release();
    const entered = await b;
    expect(entered.state).toBe('held');
    expect(entered.evidence.waitedSeconds).toBeGreaterThanOrEqual(2.4);
    expect(Date.parse(entered.evidence.acquiredAt!)).toBeGreaterThanOrEqual(releasedAt - 5);
    expect(Date.parse(entered.evidence.acquiredAt!)).toBeLessThan(releasedAt + 1000);
    expect(entered.evidence.heldBy).toMatchObject([{ identity: 'runner-a', scenario: 'runner-a-drill' }]);
    expect(entered.evidence.tookOverFrom).toBeNull();
    expect(a.evidence.releasedAt).not.toBeNull();
    if (entered.state === 'held') await entered.release();
    expect(stored()?.spec.holderIdentity).toBeUndefined();
  });

  it('a holder whose Lease was taken over hears of it at its next renewal', async () => {
    const a = await enterSystemLock(contender('runner-a'), { overlap: 'skip', renewMs: 150 });
    const lost = new Promise<string>((resolve) => (a.state === 'held' ? a.onLost(resolve) : resolve('not held')));
    // Someone with rights on the Lease overwrites it (an operator, a runner with a skewed clock).
    const current = await coordination.readNamespacedLease({ name: leaseName(system), namespace: NS });
    await coordination.replaceNamespacedLease({ name: leaseName(system), namespace: NS, body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new MicroTime(Date.now()) } } });
    expect(await lost).toMatch(/taken over/);
    expect(a.evidence.lost).toMatch(/taken over/);
  });
});
