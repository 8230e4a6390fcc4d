import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { appendS3RemediationEvents, uploadS3Signoffs } from '../../../reports/evidence/s3-append.js';
import { verifyS3Ledger } from '../../../reports/evidence/verify-s3.js';
import { checkRegisterText, REGISTER_EVENT_VERSION, type UpdatedEvent } from '../../../reports/remediation-events.js';
import { appendSignoff } from '../../../reports/signoff.js';
import { uploadBundle } from '../../../reports/upload-s3.js';
import { startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const Bucket = 'acme-drill-evidence';
const location = { bucket: Bucket, prefix: 'prod' };
let fake: FakeS3;
let client: S3Client;
let staging: string;

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket] });
  client = fake.client();
  staging = await mkdtemp(path.join(os.tmpdir(), 'drillbook-s3-append-'));
});
afterAll(async () => {
  client.destroy();
  await fake.close();
  await rm(staging, { recursive: true, force: true });
});

const event = (i: number): UpdatedEvent => ({
  v: REGISTER_EVENT_VERSION,
  type: 'updated',
  id: `R-${i}`,
  at: new Date(Date.UTC(2026, 11, 1, 12, 0, i)).toISOString(),
  by: `runner${i}`,
  changes: { owner: `owner${i}` },
  previous: { owner: 'nobody' },
  note: `event ${i}`,
});

describe('everything appended reaches the S3 store, chained', () => {
  it('remediation events from concurrent runners form one register chain; sign-offs are uploaded and chained; verify catches a removed one', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const record = makeRunRecord();
    const name = '2026-12-01T100000Z-orders-db-failover-00000001';
    const bundle = await EvidenceBundle.create(staging, name, { signingKey: privateKey });
    for (const e of record.timeline) await bundle.appendTimeline(e);
    for (const probe of makeProbes()) await bundle.appendProbe(probe);
    const { dir } = await bundle.finalize(record);
    await uploadBundle(dir, { kind: 's3', ...location }, { client, ledger: 'chain', signingKey: privateKey });

    // 6 writers at once, 3 events each: none lost, one chain.
    await Promise.all(Array.from({ length: 6 }, (_, w) => appendS3RemediationEvents(client, location, [event(w * 3), event(w * 3 + 1), event(w * 3 + 2)])));
    const register = fake.buckets.get(Bucket)!.get('prod/remediation.jsonl')!.body.toString('utf8');
    const check = checkRegisterText(register);
    expect(check.chain).toEqual([]);
    expect(check.damaged).toEqual([]);
    expect(check.events.map((e) => e.id).sort()).toEqual(Array.from({ length: 18 }, (_, i) => `R-${i}`).sort());

    const reviewer = generateKeyPairSync('ed25519').privateKey;
    await appendSignoff(dir, { reviewer: 'auditor', decision: 'accepted', note: 'ok', signingKey: reviewer });
    const uploaded = await uploadS3Signoffs(client, location, dir, { signingKey: reviewer });
    expect(uploaded[0]!.entry.keyId).toBeDefined();
    expect(uploaded.map((r) => r.entry.seq)).toEqual([2]);
    expect(uploaded[0]!.entry.registerHead?.lines).toBe(18);
    // Uploading again adds nothing (the S3 file is already the local one).
    expect(await uploadS3Signoffs(client, location, dir, { signingKey: reviewer })).toEqual([]);

    const verification = await verifyS3Ledger(client, location);
    expect(verification.problems).toEqual([]);
    expect(verification.signoffs).toHaveLength(1);

    const objects = fake.buckets.get(Bucket)!;
    const signoffsKey = `prod/${name}/signoffs.jsonl`;
    const signoffs = objects.get(signoffsKey)!;
    objects.set(signoffsKey, { ...signoffs, body: Buffer.from(''), checksumSha256: undefined });
    const removed = await verifyS3Ledger(client, location);
    // As for a local directory: the record is gone, and with it the key its ledger line is checked with.
    expect(removed.problems.map((p) => p.message)).toEqual([expect.stringMatching(/line 2: cannot check its signature/), expect.stringMatching(/sign-off it records is missing/)]);
    objects.set(signoffsKey, signoffs);

    const registerObject = objects.get('prod/remediation.jsonl')!;
    const cut = register.split('\n').slice(0, 10).join('\n') + '\n';
    objects.set('prod/remediation.jsonl', { ...registerObject, body: Buffer.from(cut), checksumSha256: undefined });
    const rewound = await verifyS3Ledger(client, location);
    expect(rewound.problems.map((p) => p.message)).toEqual([expect.stringMatching(/anchors remediation\.jsonl at its line 18, but it has only 10/)]);
  }, 60_000);
});
