/**
 * A sign-off made after the run was uploaded reaches the store: `drillbook signoff --upload
 * s3://…` appends it to the run's signoffs.jsonl in S3 and to the shared ledger chain (its own
 * line, signed by the reviewer), and `verify s3://…` then shows it. Ground truth: the objects
 * the fake holds; an edit of the uploaded sign-off must make verify fail.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { uploadBundle } from '../../../reports/upload-s3.js';
import { runCli } from '../../helpers/cli.js';
import { startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const Bucket = 'acme-drill-evidence';
const S3 = `s3://${Bucket}/prod`;
let fake: FakeS3;
let work: string;
let runDir: string;
let keyFile: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket] });
  work = await mkdtemp(path.join(os.tmpdir(), 'drillbook-s3-signoff-'));
  const { privateKey } = generateKeyPairSync('ed25519');
  const record = makeRunRecord();
  const bundle = await EvidenceBundle.create(path.join(work, 'evidence'), 'orders-db-failover', { signingKey: privateKey });
  for (const event of record.timeline) await bundle.appendTimeline(event);
  for (const probe of makeProbes()) await bundle.appendProbe(probe);
  runDir = (await bundle.finalize(record)).dir;
  const client = fake.client();
  await uploadBundle(runDir, { kind: 's3', bucket: Bucket, prefix: 'prod' }, { client, ledger: 'chain', signingKey: privateKey });
  client.destroy();
  keyFile = path.join(work, 'reviewer.pem');
  fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  env = { AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_PROFILE: '' };
}, 60_000);

afterAll(async () => {
  await fake.close();
  await rm(work, { recursive: true, force: true });
});

describe('a sign-off after the upload', () => {
  it('is uploaded and chained; verify s3:// shows it, and fails when it is edited', async () => {
    const objects = fake.buckets.get(Bucket)!;
    const name = path.basename(runDir);
    const before = await runCli(['verify', S3], { env });
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/ledger\/: chain intact \(1 runs\)/);

    const signoff = await runCli(['signoff', runDir, '--reviewer', 'Dana Lee', '--decision', 'accepted', '--note', 'RTO and RPO met', '--sign-key', `file:${keyFile}`, '--upload', S3], { env });
    expect(signoff.code, signoff.stderr).toBe(0);
    expect(signoff.stdout).toContain('prod/ledger/000000000002.json');
    // In S3: the run's signoffs.jsonl is the local one, and the chain's line 2 records its hash.
    const local = fs.readFileSync(path.join(runDir, 'signoffs.jsonl'));
    expect(objects.get(`prod/${name}/signoffs.jsonl`)!.body).toEqual(local);
    const line2 = JSON.parse(objects.get('prod/ledger/000000000002.json')!.body.toString('utf8')) as { kind: string; dir: string; signoffSha256: string; prev: string };
    expect(line2).toMatchObject({ kind: 'signoff', dir: name, signoffSha256: createHash('sha256').update(local.toString('utf8').trimEnd()).digest('hex') });
    expect(line2.prev).toBe(createHash('sha256').update(objects.get('prod/ledger/000000000001.json')!.body.toString('utf8').trimEnd()).digest('hex'));

    const after = await runCli(['verify', S3], { env });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/: intact, signed by key [0-9a-f]+, 1 sign-off /);
    expect(after.stdout).toMatch(/ledger\/: chain intact \(1 runs, 1 sign-off\)/);

    // Someone with write access turns the decision around: the reviewer's signature and the
    // hash its ledger line records no longer match.
    const key = `prod/${name}/signoffs.jsonl`;
    const object = objects.get(key)!;
    const edited = Buffer.from(object.body.toString('utf8').replace('"decision":"accepted"', '"decision":"rejected"'));
    expect(edited.equals(object.body)).toBe(false);
    objects.set(key, { ...object, body: edited, checksumSha256: createHash('sha256').update(edited).digest('base64') });
    const tampered = await runCli(['verify', S3], { env });
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/CHAIN BROKEN/);
    expect(tampered.stderr).toMatch(/line 2/);
    objects.set(key, object);

    // And a removed sign-off line object (the chain's line 2) is a gap.
    const line = objects.get('prod/ledger/000000000002.json')!;
    objects.delete('prod/ledger/000000000002.json');
    objects.set('prod/ledger/000000000003.json', line);
    const removed = await runCli(['verify', S3], { env });
    expect(removed.code).toBe(1);
    expect(removed.stderr).toMatch(/line 2 is missing: there is no object ledger\/000000000002\.json/);
  }, 60_000);
});
