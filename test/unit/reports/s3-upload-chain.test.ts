import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { verifyS3Ledger } from '../../../reports/evidence/verify-s3.js';
import { uploadBundle } from '../../../reports/upload-s3.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const Bucket = 'acme-drill-evidence';
const target = { kind: 's3' as const, bucket: Bucket, prefix: 'prod' };
const dirs: string[] = [];

const s3 = useFakeS3([Bucket]);
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A runner's own staging directory (its own local ledger), with one finalized bundle. */
async function stagedBundle(name: string, signingKey: import('node:crypto').KeyObject) {
  const staging = await mkdtemp(path.join(os.tmpdir(), 'drillbook-s3chain-'));
  dirs.push(staging);
  const record = makeRunRecord();
  const bundle = await EvidenceBundle.create(staging, name, { signingKey });
  for (const event of record.timeline) await bundle.appendTimeline(event);
  for (const probe of makeProbes()) await bundle.appendProbe(probe);
  return (await bundle.finalize(record)).dir;
}

describe('uploadBundle with the shared chain', () => {
  it('runs from two runners (each its own staging ledger) land in one chain that verifies against the bundles in S3', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const first = await stagedBundle('2026-12-01T100000Z-orders-db-failover-00000001', privateKey);
    const second = await stagedBundle('2026-12-01T110000Z-orders-db-failover-00000002', privateKey);
    const a = await uploadBundle(first, target, { client: s3.client, ledger: 'chain', signingKey: privateKey });
    const b = await uploadBundle(second, target, { client: s3.client, ledger: 'chain', signingKey: privateKey });
    expect(a.objects.at(-1)).toBe(`s3://${Bucket}/prod/ledger/000000000001.json`);
    expect(b.objects.at(-1)).toBe(`s3://${Bucket}/prod/ledger/000000000002.json`);
    // No per-run copy of the staging ledgers (each of which starts at seq 1).
    expect([...s3.fake.buckets.get(Bucket)!.keys()].filter((key) => key.endsWith('.jsonl') && key.startsWith('prod/ledger/'))).toEqual([]);

    const verification = await verifyS3Ledger(s3.client, { bucket: Bucket, prefix: 'prod' });
    expect(verification.problems).toEqual([]);
    expect(verification.runs.map((run) => run.dir)).toEqual([path.basename(first), path.basename(second)]);

    // A manifest replaced in S3 is caught through the chain's manifestSha256.
    const objects = s3.fake.buckets.get(Bucket)!;
    const manifestKey = `prod/${path.basename(first)}/manifest.json`;
    const manifest = objects.get(manifestKey)!;
    objects.set(manifestKey, { ...manifest, body: Buffer.from(manifest.body.toString().replace('"', ' "')), checksumSha256: undefined });
    const tampered = await verifyS3Ledger(s3.client, { bucket: Bucket, prefix: 'prod' });
    expect(tampered.problems.map((p) => p.message)).toEqual([expect.stringMatching(/manifest\.json does not match the manifestSha256/)]);
    objects.set(manifestKey, manifest);
  });
});
