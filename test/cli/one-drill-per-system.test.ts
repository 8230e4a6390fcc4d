/**
 * Two `drillbook run` processes on the same system, as two runners (a CronJob and a CI job)
 * would start them: with overlap skip one runs and the other leaves sealed evidence that it
 * skipped (exit 2: it did not run, as a refusal); with overlap wait the second starts only
 * after the first ended. Ground truth is the first run's own run.json (endedAt), not what the
 * second says about itself. Against the fake S3 (the S3 lock object) and the fake API server
 * (the Lease, as a CronJob in a cluster takes it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { RunRecord } from '../../reports/run-record.js';
import { leaseName } from '../../runners/coordination/lease-backend.js';
import { startCli } from '../helpers/cli.js';
import { TEST_PLAN } from '../helpers/drill-files.js';
import { type FakeKubeApi, startFakeKubeApi } from '../helpers/fake-kube-api.js';
import { type FakeS3, startFakeS3 } from '../helpers/fake-s3.js';

const Bucket = 'acme-drill-evidence';
let fake: FakeS3;
let kube: FakeKubeApi;
let tmp: string;
let counter = 0;

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket] });
  kube = await startFakeKubeApi();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-one-per-system-'));
  fs.writeFileSync(path.join(tmp, 'plan.yaml'), YAML.stringify(TEST_PLAN));
});
afterAll(async () => {
  await fake.close();
  await kube.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A walkthrough of orders-db whose one command step takes `seconds` (the drill "disrupting" the system). */
function scenario(name: string, overlap: 'skip' | 'wait', seconds: number): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'drillbook.dev/v1',
      kind: 'Scenario',
      metadata: { name, system: 'orders-db', environment: 'test' },
      spec: {
        type: 'simulation',
        plan: 'plan.yaml',
        schedule: { cron: '0 3 * * *', overlap },
        participants: [{ name: 'Ann', role: 'sre' }],
        rationale: { threat: 'The test system fails', likelihood: 'medium', impact: 'high' },
        steps: [{ id: 'hold', title: 'Work on the system', owner: 'sre', expected: '1m', command: `sleep ${seconds}` }],
      },
    }),
  );
  return file;
}

function runnerEnv(identity: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const own = fs.mkdtempSync(path.join(tmp, `${identity}-`));
  return {
    TMPDIR: own,
    AWS_ENDPOINT_URL_S3: fake.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'fake',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_PROFILE: '',
    DRILLBOOK_HOLDER_IDENTITY: identity,
    DRILLBOOK_LOCK_TTL: '3s',
    DRILLBOOK_LOCK_POLL: '200ms',
    ...extra,
  };
}

/** The run records uploaded under a prefix, by scenario name (the fake's objects are the ground truth). */
function uploadedRecords(prefix: string): Map<string, RunRecord> {
  const records = new Map<string, RunRecord>();
  for (const [key, object] of fake.buckets.get(Bucket)!) {
    if (!key.startsWith(`${prefix}/`) || !key.endsWith('/run.json')) continue;
    const record = JSON.parse(object.body.toString('utf8')) as RunRecord;
    records.set(record.scenario.name, record);
  }
  return records;
}

function localRecords(evidence: string): Map<string, RunRecord> {
  const records = new Map<string, RunRecord>();
  for (const dir of fs.readdirSync(evidence)) {
    const file = path.join(evidence, dir, 'run.json');
    if (!fs.existsSync(file)) continue;
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
    records.set(record.scenario.name, record);
  }
  return records;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const s3LockOwner = (prefix: string) => {
  const object = fake.buckets.get(Bucket)!.get(`${prefix}/locks/orders-db.json`);
  return object ? (JSON.parse(object.body.toString('utf8')) as { owner: string; released: boolean }) : undefined;
};

describe('two drillbook run processes on one system', () => {
  it('S3 evidence, overlap skip: the first runs; the second skips with sealed evidence naming the holder, exit 2', async () => {
    const prefix = `drills-${++counter}`;
    const evidence = `s3://${Bucket}/${prefix}`;
    const first = startCli(['run', scenario('orders-walk-a', 'skip', 3), '--evidence', evidence], { env: runnerEnv('runner-a') });
    await until(() => s3LockOwner(prefix)?.owner === 'runner-a' && !s3LockOwner(prefix)!.released, 'runner-a holds the lock');
    const second = await startCli(['run', scenario('orders-walk-b', 'skip', 1), '--evidence', evidence], { env: runnerEnv('runner-b') }).done;
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(/skipped: the system is being drilled by runner-a \(drill orders-walk-a\)/);

    const records = uploadedRecords(prefix);
    const a = records.get('orders-walk-a')!;
    const b = records.get('orders-walk-b')!;
    expect(a.coordination).toMatchObject({ lock: 's3-lock-object', holder: 'runner-a', result: 'acquired', heldBy: [], name: `s3://${Bucket}/${prefix}/locks/orders-db.json` });
    expect(a.coordination!.releasedAt).not.toBeNull();
    expect(b.outcome).toBe('aborted');
    expect(b.abort?.reason).toMatch(/skipped/);
    expect(b.coordination).toMatchObject({ holder: 'runner-b', overlap: 'skip', result: 'skipped', acquiredAt: null, heldBy: [{ identity: 'runner-a', scenario: 'orders-walk-a' }] });
    expect(b.walkthrough?.steps.every((s) => s.status !== 'done') ?? true).toBe(true); // nothing of the second drill ran
    // The skip happened while the first was running: inside its own start and end.
    expect(Date.parse(b.startedAt)).toBeGreaterThan(Date.parse(a.startedAt));
    expect(Date.parse(b.startedAt)).toBeLessThan(Date.parse(a.endedAt));
  }, 120_000);

  it('S3 evidence, overlap wait: the second starts after the first ended, and records how long it waited and for whom', async () => {
    const prefix = `drills-${++counter}`;
    const evidence = `s3://${Bucket}/${prefix}`;
    const first = startCli(['run', scenario('orders-walk-c', 'wait', 3), '--evidence', evidence], { env: runnerEnv('runner-c') });
    await until(() => s3LockOwner(prefix)?.owner === 'runner-c' && !s3LockOwner(prefix)!.released, 'runner-c holds the lock');
    const requested = Date.now();
    const second = await startCli(['run', scenario('orders-walk-d', 'wait', 1), '--evidence', evidence], { env: runnerEnv('runner-d') }).done;
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);

    const records = uploadedRecords(prefix);
    const c = records.get('orders-walk-c')!;
    const d = records.get('orders-walk-d')!;
    // Ground truth: the first run's own end. The second run started (and so ran its step) after it.
    expect(Date.parse(d.startedAt)).toBeGreaterThanOrEqual(Date.parse(c.endedAt));
    expect(Date.parse(d.coordination!.acquiredAt!)).toBeGreaterThanOrEqual(Date.parse(c.coordination!.releasedAt!));
    expect(d.coordination).toMatchObject({ result: 'acquired', overlap: 'wait', heldBy: [{ identity: 'runner-c', scenario: 'orders-walk-c' }], tookOverFrom: null });
    expect(d.coordination!.waitedSeconds).toBeGreaterThan(1);
    expect(Date.parse(d.coordination!.requestedAt)).toBeGreaterThanOrEqual(requested - 1000);
    expect(Date.parse(d.coordination!.requestedAt)).toBeLessThan(Date.parse(c.endedAt));
    expect(d.timeline.some((e) => /system lock taken: .* after waiting [\d.]+ s for runner-c \(drill orders-walk-c\)/.test(e.event))).toBe(true);
  }, 120_000);

  it('a coordination setting it cannot use is refused before anything runs (exit 2, no evidence)', async () => {
    const evidence = fs.mkdtempSync(path.join(tmp, 'evidence-'));
    const result = await startCli(['run', scenario('orders-walk-g', 'skip', 1), '--evidence', evidence], { env: runnerEnv('runner-g', { DRILLBOOK_OVERLAP: 'sometimes' }) }).done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/DRILLBOOK_OVERLAP=sometimes: use skip or wait; nothing was run/);
    expect(fs.readdirSync(evidence)).toEqual([]);
  }, 60_000);

  it('in a cluster (the Lease, as the CronJobs take it), overlap skip: one runs, the other records the Lease holder and exits 2', async () => {
    const evidence = fs.mkdtempSync(path.join(tmp, 'evidence-'));
    const kubeEnv = { KUBECONFIG: kube.writeKubeconfig(tmp), DRILLBOOK_COORDINATION: 'kubernetes', DRILLBOOK_LEASE_NAMESPACE: 'drillbook' };
    const first = startCli(['run', scenario('orders-walk-e', 'skip', 3), '--evidence', evidence], { env: runnerEnv('pod-e', kubeEnv) });
    const key = `drillbook/${leaseName('orders-db')}`;
    await until(() => kube.leases.leases.get(key)?.spec?.holderIdentity === 'pod-e', 'pod-e holds the Lease');
    const second = await startCli(['run', scenario('orders-walk-f', 'skip', 1), '--evidence', evidence], { env: runnerEnv('pod-f', kubeEnv) }).done;
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(2);
    const records = localRecords(evidence);
    const e = records.get('orders-walk-e')!;
    const f = records.get('orders-walk-f')!;
    expect(e.coordination).toMatchObject({ lock: 'kubernetes-lease', name: `Lease ${key}`, holder: 'pod-e', result: 'acquired' });
    expect(f.coordination).toMatchObject({ lock: 'kubernetes-lease', result: 'skipped', heldBy: [{ identity: 'pod-e', scenario: 'orders-walk-e' }] });
    // Released after the first drill: the Lease has no holder, and it was renewed while it ran.
    expect(kube.leases.leases.get(key)?.spec?.holderIdentity).toBeUndefined();
    expect(kube.leases.writes.filter((w) => w.key === key && w.verb === 'update' && w.holder === 'pod-e' && w.status === 200).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
