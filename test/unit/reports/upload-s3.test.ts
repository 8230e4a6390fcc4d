import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, type Manifest } from '../../../reports/evidence.js';
import { EvidenceError, listFilesRecursive } from '../../../reports/evidence-files.js';
import { parseEvidenceTarget, uploadBundle, type EvidenceTarget } from '../../../reports/upload-s3.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const s3 = mockClient(S3Client);
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const TARGET: EvidenceTarget = { kind: 's3', bucket: 'acme-drill-evidence', prefix: 'prod/drills' };

let evidenceDir: string;

beforeEach(async () => {
  s3.reset();
  evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-upload-'));
});

afterEach(async () => {
  await rm(evidenceDir, { recursive: true, force: true });
});

/** A real finalized bundle: the ground truth is its manifest on disk. */
async function finalizedBundle(dirName = '2026-11-26T170000Z-orders-db-failover-0123abcd', options: { signingKey?: KeyObject } = {}) {
  const record = makeRunRecord();
  const bundle = await EvidenceBundle.create(evidenceDir, dirName, options);
  for (const event of record.timeline) await bundle.appendTimeline(event);
  for (const probe of makeProbes()) await bundle.appendProbe(probe);
  await bundle.writeAttachment('failover.log', 'promoted\n');
  const result = await bundle.finalize(record);
  const manifestText = await readFile(path.join(result.dir, 'manifest.json'), 'utf8');
  return { dir: result.dir, dirName, manifest: JSON.parse(manifestText) as Manifest, manifestText, ledgerEntry: result.ledgerEntry };
}

function putInputs(): PutObjectCommandInput[] {
  return s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: `${name} from S3` });
}

describe('parseEvidenceTarget', () => {
  it('reads bucket and prefix from s3:// and keeps anything else a local directory', () => {
    expect(parseEvidenceTarget('s3://acme-evidence/prod/drills/')).toEqual({ kind: 's3', bucket: 'acme-evidence', prefix: 'prod/drills' });
    expect(parseEvidenceTarget('s3://acme-evidence')).toEqual({ kind: 's3', bucket: 'acme-evidence', prefix: '' });
    expect(parseEvidenceTarget('./evidence')).toEqual({ kind: 'local', dir: './evidence' });
    expect(parseEvidenceTarget('C:\\evidence')).toEqual({ kind: 'local', dir: 'C:\\evidence' });
  });

  it.each([
    ['s3://', /bucket name is missing/],
    ['s3://Acme_Evidence/x', /lowercase letters/],
    ['s3://ab/x', /3 to 63 characters/],
    ['s3://192.168.1.10/x', /IP address/],
    ['s3://acme-evidence/a//b', /empty path segment/],
    ['s3://acme-evidence/a/../b', /"\." or "\.\." segment/],
    ['gs://acme-evidence/x', /unsupported evidence location/],
    ['  ', /empty/],
  ])('refuses %j with a clear message', (value, message) => {
    expect(() => parseEvidenceTarget(value)).toThrow(EvidenceError);
    expect(() => parseEvidenceTarget(value)).toThrow(message);
  });
});

describe('uploadBundle', () => {
  it('uploads every file with the manifest sha256 as its S3 checksum, then manifest.json, then the ledger line', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).resolves({});

    const result = await uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) });

    const inputs = putInputs();
    // Ground truth: every file of the run directory, plus its ledger line.
    const onDisk = (await listFilesRecursive(bundle.dir)).filter((file) => !file.startsWith('exports/'));
    expect(inputs.map((input) => input.Key).slice(0, -1).sort()).toEqual(onDisk.map((file) => `prod/drills/${bundle.dirName}/${file}`).sort());
    expect(inputs).toHaveLength(onDisk.length + 1);
    for (const input of inputs) expect(Buffer.from(input.ChecksumSHA256!, 'base64').toString('hex')).toBe(sha256(input.Body as Buffer));
    for (const entry of bundle.manifest.files) {
      const input = inputs.find((candidate) => candidate.Key === `prod/drills/${bundle.dirName}/${entry.path}`);
      expect(input, entry.path).toBeDefined();
      expect(input!.Bucket).toBe('acme-drill-evidence');
      // What S3 verifies on arrival is exactly the manifest's hash, and the body matches it.
      expect(Buffer.from(input!.ChecksumSHA256!, 'base64').toString('hex')).toBe(entry.sha256);
      expect(sha256(input!.Body as Buffer)).toBe(entry.sha256);
      expect(input!.IfNoneMatch).toBe('*');
      expect(input!.ObjectLockMode).toBeUndefined();
    }
    // The manifest goes after every file it lists.
    const manifestIndex = inputs.findIndex((input) => input.Key === `prod/drills/${bundle.dirName}/manifest.json`);
    const listedKeys = new Set(bundle.manifest.files.map((entry) => `prod/drills/${bundle.dirName}/${entry.path}`));
    expect(inputs.slice(0, manifestIndex).map((input) => input.Key).sort()).toEqual([...listedKeys].sort());
    const manifestPut = inputs[manifestIndex]!;
    expect(Buffer.from(manifestPut.ChecksumSHA256!, 'base64').toString('hex')).toBe(sha256(bundle.manifestText));
    const ledgerPut = inputs.at(-1)!;
    expect(ledgerPut.Key).toBe(`prod/drills/ledger/${bundle.dirName}.jsonl`);
    const ledgerLine = JSON.parse((ledgerPut.Body as Buffer).toString('utf8')) as { manifestSha256: string; dir: string };
    expect(ledgerLine).toMatchObject({ dir: bundle.dirName, manifestSha256: sha256(bundle.manifestText) });
    expect(result.objects).toEqual(inputs.map((input) => `s3://acme-drill-evidence/${input.Key}`));
  });

  it('uploads the signatures of a signed bundle after its manifest and before the ledger line', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const bundle = await finalizedBundle(undefined, { signingKey: privateKey });
    s3.on(PutObjectCommand).resolves({});

    await uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) });

    const keys = putInputs().map((input) => input.Key!.slice(`prod/drills/${bundle.dirName}/`.length));
    const manifestAt = keys.indexOf('manifest.json');
    for (const file of ['manifest.sig', 'SHA256SUMS', 'SHA256SUMS.sig']) {
      expect(keys.indexOf(file), file).toBeGreaterThan(manifestAt);
      expect(keys.indexOf(file), file).toBeLessThan(keys.length - 1);
    }
    const ledgerLine = (putInputs().at(-1)!.Body as Buffer).toString('utf8');
    expect(ledgerLine).toContain('"sig":"');
    expect(JSON.parse(ledgerLine)).toMatchObject({ dir: bundle.dirName, manifestSha256: sha256(bundle.manifestText) });
  });

  it('sets Object Lock mode and retain-until date on every object when a retention is given', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).resolves({});
    const now = new Date('2026-11-26T17:00:00.000Z');

    await uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }), retention: { mode: 'COMPLIANCE', days: 400 }, now: () => now });

    const inputs = putInputs();
    expect(inputs.length).toBeGreaterThan(2);
    for (const input of inputs) {
      expect(input.ObjectLockMode).toBe('COMPLIANCE');
      expect(input.ObjectLockRetainUntilDate).toEqual(new Date('2027-12-31T17:00:00.000Z'));
    }
  });

  it('names the file whose upload failed and never sends the manifest or the ledger line after it', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).resolves({});
    s3.on(PutObjectCommand, { Key: `prod/drills/${bundle.dirName}/probes.csv` }).rejects(s3Error('AccessDenied', 403));

    const upload = uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) });
    await expect(upload).rejects.toThrow(EvidenceError);
    await expect(uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) })).rejects.toThrow(
      /uploading probes\.csv to s3:\/\/acme-drill-evidence\/prod\/drills\/.*probes\.csv failed: access denied/,
    );
    const keys = putInputs().map((input) => input.Key);
    expect(keys.some((key) => key?.endsWith('manifest.json'))).toBe(false);
    expect(keys.some((key) => key?.includes('/ledger/'))).toBe(false);
  });

  it('reports an existing key as a refusal to overwrite evidence', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    await expect(uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) })).rejects.toThrow(
      /already exists, and drillbook never overwrites evidence/,
    );
  });

  it('retries a 409 ConditionalRequestConflict, as S3 says to, and uploads every object once it clears (finding 17)', async () => {
    const bundle = await finalizedBundle();
    const manifestKey = `prod/drills/${bundle.dirName}/manifest.json`;
    let conflicts = 0;
    s3.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
      if (input.Key === manifestKey && conflicts < 2) {
        conflicts++;
        return Promise.reject(s3Error('ConditionalRequestConflict', 409));
      }
      return Promise.resolve({});
    });
    const waits: number[] = [];
    const result = await uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }), sleep: async (ms) => void waits.push(ms) });
    expect(conflicts).toBe(2);
    expect(putInputs().filter((input) => input.Key === manifestKey)).toHaveLength(3);
    expect(result.objects).toContain(`s3://${TARGET.bucket}/${manifestKey}`);
    expect(result.objects.at(-1)).toContain('/ledger/');
    // Backoff: the second wait is longer than the first's lower bound doubled.
    expect(waits).toHaveLength(2);
    expect(waits[1]!).toBeGreaterThanOrEqual(200);
  });

  it('gives up on a 409 that never clears after a bounded number of attempts, and never retries a 412', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
    const client = new S3Client({ region: 'eu-west-1' });
    await expect(uploadBundle(bundle.dir, TARGET, { client, sleep: async () => undefined })).rejects.toThrow(/409 ConditionalRequestConflict\), still after 5 attempts/);
    expect(putInputs()).toHaveLength(5);
    s3.reset();
    s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    await expect(uploadBundle(bundle.dir, TARGET, { client, sleep: async () => undefined })).rejects.toThrow(/already exists/);
    expect(putInputs()).toHaveLength(1);
  });

  it('uploads nothing from a bundle that no longer matches its manifest', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).resolves({});
    await appendFile(path.join(bundle.dir, 'timeline.jsonl'), '{"at":"forged"}\n');

    await expect(uploadBundle(bundle.dir, TARGET, { client: new S3Client({ region: 'eu-west-1' }) })).rejects.toThrow(/timeline\.jsonl changed/);
    expect(putInputs()).toHaveLength(0);
  });

  it('refuses a local target and a bad retention before touching S3', async () => {
    const bundle = await finalizedBundle();
    s3.on(PutObjectCommand).resolves({});
    const client = new S3Client({ region: 'eu-west-1' });
    await expect(uploadBundle(bundle.dir, { kind: 'local', dir: evidenceDir }, { client })).rejects.toThrow(/needs an s3:\/\/ target/);
    await expect(uploadBundle(bundle.dir, TARGET, { client, retention: { mode: 'COMPLIANCE', days: 0 } })).rejects.toThrow(/whole number of days/);
    expect(putInputs()).toHaveLength(0);
  });
});
