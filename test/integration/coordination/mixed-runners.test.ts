/**
 * A CronJob (in the cluster, S3 evidence: the Lease and the S3 lock object) and a CI job
 * (outside: the S3 lock object only) on one system exclude each other, whichever came first;
 * a CronJob that finds the S3 lock taken gives its Lease back, so no runner holds one lock
 * while waiting for the other. Against the fake API server and the fake S3; ground truth is
 * what both fakes store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bothLocks } from '../../../runners/coordination/both-locks.js';
import { enterSystemLock } from '../../../runners/coordination/gate.js';
import { leaseBackend, leaseName } from '../../../runners/coordination/lease-backend.js';
import { s3LockBackend } from '../../../runners/coordination/s3-lock-backend.js';
import { type FakeKubeApi, startFakeKubeApi } from '../../helpers/fake-kube-api.js';
import { type FakeS3, startFakeS3 } from '../../helpers/fake-s3.js';

const Bucket = 'acme-drill-evidence';
let kube: FakeKubeApi;
let s3: FakeS3;
let client: S3Client;
let coordination: k8s.CoordinationV1Api;
let n = 0;

beforeAll(async () => {
  kube = await startFakeKubeApi();
  s3 = await startFakeS3({ buckets: [Bucket] });
  client = s3.client();
  const config = new k8s.KubeConfig();
  config.loadFromFile(kube.writeKubeconfig(fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-mixed-'))));
  coordination = config.makeApiClient(k8s.CoordinationV1Api);
});
afterAll(async () => {
  client.destroy();
  await s3.close();
  await kube.close();
});

function runners() {
  const system = `orders-db-${++n}`;
  const location = { bucket: Bucket, prefix: `drills-${n}` };
  const ttlMs = 5000;
  const s3Lock = (identity: string) => s3LockBackend({ client, location, system, identity, scenario: `${identity}-drill`, ttlMs });
  const cronJob = (identity: string) => bothLocks(leaseBackend({ api: coordination, namespace: 'drillbook', system, identity, scenario: `${identity}-drill`, ttlMs }), s3Lock(identity));
  const lease = () => kube.leases.leases.get(`drillbook/${leaseName(system)}`);
  const s3Owner = () => {
    const object = s3.buckets.get(Bucket)!.get(`${location.prefix}/locks/${system}.json`);
    return object ? (JSON.parse(object.body.toString('utf8')) as { owner: string; released: boolean }) : undefined;
  };
  return { s3Lock, cronJob, lease, s3Owner };
}

describe('CronJobs and runners outside the cluster on one system', () => {
  it('a CI job holding the S3 lock makes the CronJob skip, and the CronJob gives its Lease back', async () => {
    const { s3Lock, cronJob, lease, s3Owner } = runners();
    const ci = await enterSystemLock(s3Lock('ci-job'), { overlap: 'skip' });
    expect(ci.state).toBe('held');
    const job = await enterSystemLock(cronJob('pod-1'), { overlap: 'skip' });
    expect(job.state).toBe('skipped');
    expect(job.evidence.lock).toBe('kubernetes-lease+s3-lock-object');
    expect(job.evidence.heldBy[0]?.identity).toBe('ci-job');
    expect(lease()?.spec.holderIdentity).toBeUndefined(); // taken, then given back
    expect(s3Owner()).toMatchObject({ owner: 'ci-job', released: false });
    // Another CronJob is not blocked by the first one's Lease: it too sees the CI job.
    const other = await enterSystemLock(cronJob('pod-2'), { overlap: 'skip' });
    expect(other.evidence.heldBy[0]?.identity).toBe('ci-job');
    if (ci.state === 'held') await ci.release();
  });

  it('a CronJob holding both makes the CI job skip and other CronJobs wait; released, a waiter gets both', async () => {
    const { s3Lock, cronJob, lease, s3Owner } = runners();
    const job = await enterSystemLock(cronJob('pod-1'), { overlap: 'skip' });
    expect(job.state).toBe('held');
    expect(lease()?.spec.holderIdentity).toBe('pod-1');
    expect(s3Owner()).toMatchObject({ owner: 'pod-1', released: false });
    const ci = await enterSystemLock(s3Lock('ci-job'), { overlap: 'skip' });
    expect(ci).toMatchObject({ state: 'skipped', evidence: { heldBy: [{ identity: 'pod-1' }] } });
    const waiting = enterSystemLock(cronJob('pod-2'), { overlap: 'wait', pollMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lease()?.spec.holderIdentity).toBe('pod-1');
    if (job.state === 'held') await job.release();
    const second = await waiting;
    expect(second.state).toBe('held');
    expect(second.evidence.heldBy[0]?.identity).toBe('pod-1');
    expect(lease()?.spec.holderIdentity).toBe('pod-2');
    expect(s3Owner()).toMatchObject({ owner: 'pod-2', released: false });
    if (second.state === 'held') await second.release();
    expect(lease()?.spec.holderIdentity).toBeUndefined();
    expect(s3Owner()?.released).toBe(true);
  });
});
