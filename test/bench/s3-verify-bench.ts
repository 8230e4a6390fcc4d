/**
 * Bench section: `drillbook verify s3://…` over N runs in the fake S3 (test/helpers/fake-s3.ts),
 * timed, with the verifier's peak RSS (VmHWM of its process). The store is filled directly
 * (not through N uploads): one real signed bundle's objects under N run names, each with its
 * S3 checksum, and a chain of N signed ledger lines in the one-object-per-line layout. Ground
 * truth is what was put: verify must report exactly N intact runs. Run alone:
 * `node dist/test/bench/s3-verify-bench.js 1000`.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EvidenceBundle } from '../../reports/evidence.js';
import { listFilesRecursive, sha256Hex } from '../../reports/evidence-files.js';
import { LEDGER_GENESIS, composeLedgerLine } from '../../reports/evidence/ledger.js';
import { ledgerLineKey } from '../../reports/evidence/s3-ledger.js';
import { fakeObject, startFakeS3 } from '../helpers/fake-s3.js';
import { makeProbes, makeRunRecord } from '../helpers/run-record-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(ROOT, 'bin', 'drillbook.js');

export interface S3VerifyBench {
  runs: number;
  code: number | null;
  wallMs: number;
  peakRssKb: number;
  intactRuns: number;
  objects: number;
  requests: Record<string, number>;
}

export async function benchS3Verify(runs: number): Promise<S3VerifyBench> {
  const Bucket = 'bench-evidence';
  const prefix = 'bench';
  const fake = await startFakeS3({ buckets: [Bucket] });
  const work = await mkdtemp(path.join(os.tmpdir(), 'drillbook-bench-s3-'));
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
    const objects = fake.buckets.get(Bucket)!;
    const put = (key: string, body: Buffer) => objects.set(key, fakeObject(body));
    let position = { seq: 1, prev: LEDGER_GENESIS };
    for (let i = 0; i < runs; i++) {
      const name = `2026-12-01T000000Z-bench-${String(i).padStart(6, '0')}`;
      for (const { file, body } of bodies) put(`${prefix}/${name}/${file}`, body);
      const { line } = composeLedgerLine({ runId: record.runId, dir: name, manifestSha256 }, position, undefined, { signingKey: privateKey });
      put(ledgerLineKey({ bucket: Bucket, prefix }, position.seq), Buffer.from(`${line}\n`));
      position = { seq: position.seq + 1, prev: sha256Hex(line) };
    }
    const env = { ...process.env, AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', CI: 'true' };
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'verify', `s3://${Bucket}/${prefix}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Counted as the lines arrive: 10,000 runs print about 2 MB, more than is worth keeping.
    let intactRuns = 0;
    let partial = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      intactRuns += lines.filter((line) => / intact, signed by key /.test(line)).length;
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    let peakRssKb = 0;
    const sample = () => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peakRssKb = Math.max(peakRssKb, Number(hwm[1]));
      } catch {
        // exited
      }
    };
    const poller = setInterval(sample, 50);
    const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
    const wallMs = performance.now() - started;
    clearInterval(poller);
    if (code !== 0) throw new Error(`verify s3:// exited ${code}: ${stderr.slice(-2000)}`);
    if (intactRuns !== runs) throw new Error(`verify s3:// reported ${intactRuns} intact runs, ${runs} were put`);
    return { runs, code, wallMs, peakRssKb, intactRuns, objects: objects.size, requests: { ...fake.counts } };
  } finally {
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The BENCHMARKS.md section and its summary row. */
export function s3VerifySection(result: S3VerifyBench): { summary: { name: string; goal: string; value: string; ok: boolean }; section: string } {
  const seconds = result.wallMs / 1000;
  return {
    summary: { name: `verify s3:// over ${result.runs} runs (fake S3)`, goal: '< 10 s', value: `${seconds.toFixed(1)} s, peak RSS ${(result.peakRssKb / 1024).toFixed(0)} MiB`, ok: seconds < 10 },
    section: [
      '## 8. verify s3:// against the fake S3',
      '',
      `\`drillbook verify s3://…\` over ${result.runs} signed runs (${result.objects} objects) in the local fake S3 (test/helpers/fake-s3.ts, a real HTTP server on 127.0.0.1), the real AWS SDK client.`,
      'Figures against a fake on the same machine: no network latency, and the fake shares the 2 cores with the verifier; real S3 adds round trips that the bounded concurrency (16) hides only partly.',
      '',
      '| runs | wall | peak RSS (VmHWM) | requests |',
      '|---|---|---|---|',
      `| ${result.runs} | ${seconds.toFixed(2)} s | ${(result.peakRssKb / 1024).toFixed(0)} MiB | ${Object.entries(result.requests).map(([op, n]) => `${op} ${n}`).join(', ')} |`,
    ].join('\n'),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 1000);
  const result = await benchS3Verify(runs);
  console.log(JSON.stringify(result));
}
