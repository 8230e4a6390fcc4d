/**
 * What is appended after the run was uploaded reaches the store with the same chaining:
 * remediation events (`remediation update/close/reopen --evidence s3://…`, chained to the last
 * line of the register in S3, anchored by the next ledger line) and sign-offs (`signoff
 * --upload s3://…`: the run's signoffs.jsonl in S3 and a line of the shared chain signed by the
 * reviewer). `verify s3://…` then shows them. Ground truth: the objects the fake holds; an
 * edit of the uploaded sign-off must make verify fail.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { uploadRunRemediation } from '../../../reports/evidence/s3-append.js';
import { checkRegisterText } from '../../../reports/remediation-events.js';
import { recordRunItems } from '../../../reports/remediation.js';
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
  // As `run --evidence s3://…` does: the run's items into the store's register, then the bundle.
  await recordRunItems(path.join(work, 'evidence'), record);
  await uploadRunRemediation(client, { bucket: Bucket, prefix: 'prod' }, path.join(work, 'evidence'), record.runId);
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

describe('appended after the upload', () => {
  it('remediation update, close and reopen on s3:// append chained events to the store\'s register', async () => {
    const objects = fake.buckets.get(Bucket)!;
    const register = () => objects.get('prod/remediation.jsonl')!.body.toString('utf8');
    expect(register().split('\n').filter(Boolean)).toHaveLength(1);

    const update = await runCli(['remediation', 'update', 'R-2026-001', '--evidence', S3, '--owner', 'team-dba', '--note', 'moved to the DBAs', '--by', 'lead'], { env });
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('updated R-2026-001: P3, owner team-dba');
    const refused = await runCli(['remediation', 'close', 'R-2026-001', '--evidence', S3, '--verified-by', 'abcd1234', '--note', 'fixed', '--by', 'lead'], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--verified-by checks the re-test's bundle in an evidence directory/);
    const close = await runCli(['remediation', 'close', 'R-2026-001', '--evidence', S3, '--accept-risk', '--owner', 'cfo', '--note', 'accepted for Q1', '--by', 'lead'], { env });
    expect(close.code, close.stderr).toBe(0);
    const reopen = await runCli(['remediation', 'reopen', 'R-2026-001', '--evidence', S3, '--note', 'risk no longer accepted', '--by', 'lead'], { env });
    expect(reopen.code, reopen.stderr).toBe(0);

    // In S3: four events, one chain (each line's prev is the line before), none in local staging.
    const check = checkRegisterText(register());
    expect(check.chain).toEqual([]);
    expect(check.damaged).toEqual([]);
    expect(check.events.map((e) => e.type)).toEqual(['opened', 'updated', 'closed', 'reopened']);
    expect(fs.readFileSync(path.join(work, 'evidence', 'remediation.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    const list = await runCli(['remediation', 'list', '--json', '--evidence', S3], { env });
    expect(JSON.parse(list.stdout)).toMatchObject([{ id: 'R-2026-001', owner: 'team-dba', status: 'open' }]);
    const verify = await runCli(['verify', S3], { env });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/remediation\.jsonl: chain intact \(4 events\)/);
    const missing = await runCli(['remediation', 'update', 'R-2026-001', '--evidence', 's3://no-such-bucket/prod', '--owner', 'x', '--note', 'y', '--by', 'z'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/there is no bucket no-such-bucket/);
  }, 60_000);

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
    // The next ledger line anchors the register as the changes above left it (4 lines).
    expect((line2 as { registerHead?: { lines: number } }).registerHead?.lines).toBe(4);
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
