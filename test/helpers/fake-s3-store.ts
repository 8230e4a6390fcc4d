/**
 * A fake S3 store of N signed runs, filled directly (not through N uploads): one real signed
 * bundle's objects under N run names, each with its S3 checksum, and a chain of N signed
 * ledger lines in the one-object-per-line layout (s3-ledger.ts). For the verify bench and
 * the tests that tamper with many runs; no vitest, so a plain `node` script can use it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EvidenceBundle } from '../../reports/evidence.js';
import { listFilesRecursive, sha256Hex } from '../../reports/evidence-files.js';
import { LEDGER_GENESIS, composeLedgerLine } from '../../reports/evidence/ledger.js';
import { ledgerLineKey } from '../../reports/evidence/s3-ledger.js';
import { fakeObject, type FakeS3 } from './fake-s3.js';
import { makeProbes, makeRunRecord } from './run-record-fixture.js';

export interface FakeS3Runs {
  /** Run directory names, in ledger order. */
  names: string[];
  /** Each run's files (relative paths), the same for every run. */
  files: string[];
}

export async function putSignedRuns(fake: FakeS3, bucket: string, prefix: string, runs: number): Promise<FakeS3Runs> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'drillbook-fake-s3-runs-'));
  try {
    const { privateKey } = generateKeyPairSync('ed25519');
    const record = makeRunRecord();
    const bundle = await EvidenceBundle.create(work, 'template', { signingKey: privateKey });
    for (const event of record.timeline) await bundle.appendTimeline(event);
    for (const probe of makeProbes()) await bundle.appendProbe(probe);
    const { dir } = await bundle.finalize(record);
    const files = (await listFilesRecursive(dir)).filter((file) => !file.startsWith('exports/'));
    const bodies = await Promise.all(files.map(async (file) => ({ file, body: await readFile(path.join(dir, file)) })));
    const manifestSha256 = sha256Hex(await readFile(path.join(dir, 'manifest.json')));
    const objects = fake.buckets.get(bucket)!;
    const put = (key: string, body: Buffer) => objects.set(key, fakeObject(body));
    const names: string[] = [];
    let position = { seq: 1, prev: LEDGER_GENESIS };
    for (let i = 0; i < runs; i++) {
      const name = `2026-12-01T000000Z-bench-${String(i).padStart(6, '0')}`;
      names.push(name);
      for (const { file, body } of bodies) put(`${prefix}/${name}/${file}`, body);
      const { line } = composeLedgerLine({ runId: record.runId, dir: name, manifestSha256 }, position, undefined, { signingKey: privateKey });
      put(ledgerLineKey({ bucket, prefix }, position.seq), Buffer.from(`${line}\n`));
      position = { seq: position.seq + 1, prev: sha256Hex(line) };
    }
    return { names, files };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
