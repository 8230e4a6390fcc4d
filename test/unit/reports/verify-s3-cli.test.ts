import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { uploadBundle } from '../../../reports/upload-s3.js';
import { runCli } from '../../helpers/cli.js';
import { startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const Bucket = 'acme-drill-evidence';
let fake: FakeS3;
let client: S3Client;
let staging: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket] });
  client = fake.client();
  staging = await mkdtemp(path.join(os.tmpdir(), 'drillbook-verify-s3-'));
  env = { AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_PROFILE: '' };
  const { privateKey } = generateKeyPairSync('ed25519');
  for (const name of ['2026-12-01T100000Z-orders-db-failover-00000001', '2026-12-01T110000Z-orders-db-failover-00000002']) {
    const record = makeRunRecord();
    const bundle = await EvidenceBundle.create(staging, name, { signingKey: privateKey });
    for (const event of record.timeline) await bundle.appendTimeline(event);
    for (const probe of makeProbes()) await bundle.appendProbe(probe);
    const { dir } = await bundle.finalize(record);
    await uploadBundle(dir, { kind: 's3', bucket: Bucket, prefix: 'prod' }, { client, ledger: 'chain', signingKey: privateKey });
  }
});
afterAll(async () => {
  client.destroy();
  await fake.close();
  await rm(staging, { recursive: true, force: true });
});

const summary = (stdout: string) => stdout.split('\n').filter((line) => line.startsWith('signatures:') || line.startsWith('verify:'));

describe('drillbook verify s3://…', () => {
  it('reports the same figures and exit codes as for the same evidence in a local directory, intact and changed', async () => {
    const local = await runCli(['verify', staging], { env });
    const remote = await runCli(['verify', `s3://${Bucket}/prod`], { env });
    expect(local.code, local.stderr).toBe(0);
    expect(remote.code, remote.stderr).toBe(0);
    expect(summary(remote.stdout)).toEqual(summary(local.stdout));
    expect(summary(remote.stdout)[0]).toMatch(/^signatures: 2 signed \(key [0-9a-f]+\), 0 unsigned/);
    expect(remote.stdout).toMatch(/ledger\/: chain intact \(2 runs\)/);

    // The same file changed in both places (in S3: a new object, with its own checksum).
    const name = '2026-12-01T110000Z-orders-db-failover-00000002';
    await appendFile(path.join(staging, name, 'probes.csv'), 'forged\n');
    const objects = fake.buckets.get(Bucket)!;
    const key = `prod/${name}/probes.csv`;
    const object = objects.get(key)!;
    const body = Buffer.concat([object.body, Buffer.from('forged\n')]);
    objects.set(key, { ...object, body, checksumSha256: createHash('sha256').update(body).digest('base64') });
    const localChanged = await runCli(['verify', staging], { env });
    const remoteChanged = await runCli(['verify', `s3://${Bucket}/prod`], { env });
    expect(localChanged.code).toBe(1);
    expect(remoteChanged.code).toBe(1);
    expect(localChanged.stderr).toMatch(/changed: probes\.csv/);
    expect(remoteChanged.stderr).toMatch(/changed: probes\.csv/);
    expect(remoteChanged.stderr).toMatch(/verify: NOT INTACT: 1 problem\b/);

    const bad = await runCli(['verify', 's3://Bad_Bucket/x'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid S3 bucket/);
  }, 60_000);

  it('a run whose copy of the signer key was swapped is caught, although its line is checked with the key the same id named earlier', async () => {
    // The chain checks run 2's line with the key run 1's copy gave for the same key id (a key id
    // is the key's hash) and does not read run 2's copy; the manifest's checksum still covers it.
    const name = '2026-12-01T110000Z-orders-db-failover-00000002';
    const objects = fake.buckets.get(Bucket)!;
    const key = `prod/${name}/signer.pub.pem`;
    const original = objects.get(key)!;
    const other = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
    objects.set(key, { ...original, body: other, checksumSha256: createHash('sha256').update(other).digest('base64') });
    try {
      const swapped = await runCli(['verify', `s3://${Bucket}/prod`], { env });
      expect(swapped.code).toBe(1);
      expect(swapped.stderr).toMatch(new RegExp(`${name}.*changed: signer\\.pub\\.pem|changed: signer\\.pub\\.pem`));
    } finally {
      objects.set(key, original);
    }
  }, 60_000);
});
