/**
 * Bench section: `drillbook verify s3://…` over N runs in the fake S3 (test/helpers/fake-s3.ts),
 * timed, with the verifier's peak RSS (VmHWM of its process, its worker thread included). The
 * store is filled directly (test/helpers/fake-s3-store.ts: one real signed bundle's objects
 * under N run names, each with its S3 checksum, and a chain of N signed ledger lines). Ground
 * truth is what was put: verify must report exactly N intact runs. Run alone:
 * `node dist/test/bench/s3-verify-bench.js 1000`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startFakeS3 } from '../helpers/fake-s3.js';
import { putSignedRuns } from '../helpers/fake-s3-store.js';

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
  try {
    await putSignedRuns(fake, Bucket, prefix, runs);
    const objects = fake.buckets.get(Bucket)!;
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
      `\`drillbook verify s3://…\` over ${result.runs} signed runs (${result.objects} objects) in the local fake S3 (test/helpers/fake-s3.ts, a real HTTP server on 127.0.0.1), read as the CLI reads real S3 (credentials and endpoint from the AWS SDK client, objects by the lean signed reader of reports/evidence/s3-http.ts).`,
      'Figures against a fake on the same machine: no network latency, and the fake shares the 2 cores with the verifier; real S3 adds round trips that the bounded concurrency (16 requests on the main thread and 16 on its HEAD worker thread) hides only partly.',
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
