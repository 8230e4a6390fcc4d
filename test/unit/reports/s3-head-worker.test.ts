/**
 * The HEAD worker thread (reports/evidence/s3-head-worker.ts) and the reader's `heads`, which
 * shares its keys between its own thread and the worker. A Worker cannot load the TypeScript
 * source vitest runs, so these start the built module (dist/, from `npm run build`), as the
 * CLI does. Ground truth is the fake's own objects: every answer must be what it holds,
 * whichever thread asked, also when the worker answers "not expected" or dies.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HeadWorker } from '../../../reports/evidence/s3-head-worker.js';
import { s3ObjectReader, type S3ObjectHead } from '../../../reports/evidence/s3-http.js';
import type { S3RequestTarget } from '../../../reports/evidence/s3-request.js';
import { REPO_ROOT, runCli } from '../../helpers/cli.js';
import { fakeObject } from '../../helpers/fake-s3.js';
import { putSignedRuns } from '../../helpers/fake-s3-store.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const Bucket = 'acme-drill-evidence';
const s3 = useFakeS3([Bucket]);
const BUILT = path.join(REPO_ROOT, 'dist', 'reports', 'evidence', 's3-head-worker.js');

const startBuilt = async (concurrency: number): Promise<HeadWorker | undefined> => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npm run build first`);
  const built = (await import(pathToFileURL(BUILT).href)) as typeof import('../../../reports/evidence/s3-head-worker.js');
  return built.startHeadWorker(concurrency);
};

const targetOf = (endpoint: string): S3RequestTarget => {
  const url = new URL(endpoint);
  return { protocol: 'http:', hostname: url.hostname, port: url.port, host: url.host, basePath: `/${Bucket}`, signingRegion: 'us-east-1' };
};
const identity = { accessKeyId: 'fake', secretAccessKey: 'fake' };

/** 40 runs of 5 files: most with a checksum, some without, some removed; the expected answers. */
function fillStore(prefix: string): { keys: string[][]; truth: Map<string, S3ObjectHead> } {
  const objects = s3.fake.buckets.get(Bucket)!;
  const keys: string[][] = [];
  const truth = new Map<string, S3ObjectHead>();
  for (let run = 0; run < 40; run++) {
    const files: string[] = [];
    for (let file = 0; file < 5; file++) {
      const key = `${prefix}/run-${run}/file ${file}.json`;
      files.push(key);
      const body = Buffer.from(`run ${run} file ${file}\n`);
      if ((run + file) % 7 === 0) {
        truth.set(key, { exists: false, checksumSha256: undefined });
        continue;
      }
      const object = fakeObject(body);
      if ((run + file) % 11 === 0) object.checksumSha256 = undefined;
      objects.set(key, object);
      truth.set(key, { exists: true, checksumSha256: object.checksumSha256 });
    }
    keys.push(files);
  }
  return { keys, truth };
}

describe('the HEAD worker thread', () => {
  it('answers each key as the fake holds it, null when it cannot reach the endpoint, and rejects once closed', async () => {
    const { keys, truth } = fillStore('direct');
    const worker = await startBuilt(4);
    expect(worker).toBeDefined();
    try {
      const answers = await Promise.all(keys.map((batch) => worker!.heads(targetOf(s3.fake.endpoint), identity, batch)));
      expect(answers).toEqual(keys.map((batch) => batch.map((key) => truth.get(key))));
      expect(worker!.pending).toBe(0);
      // Port 9 (discard) on 127.0.0.1: nothing listens, a transport error is "not expected".
      expect(await worker!.heads({ ...targetOf('http://127.0.0.1:9'), basePath: `/${Bucket}` }, identity, ['direct/run-1/file 1.json'])).toEqual([null]);
    } finally {
      worker!.close();
    }
    await expect(
      new Promise((resolve, reject) => setTimeout(() => worker!.heads(targetOf(s3.fake.endpoint), identity, keys[0]!).then(resolve, reject), 200)),
    ).rejects.toThrow(/exited/);
  });

  it('is not started from the TypeScript source (vitest), so a reader there works on its own thread', async () => {
    const { startHeadWorker } = await import('../../../reports/evidence/s3-head-worker.js');
    expect(startHeadWorker(4)).toBeUndefined();
  });
});

describe('s3ObjectReader.heads with the worker', () => {
  it('shares the keys between both threads, and every answer is the fake’s', async () => {
    const { keys, truth } = fillStore('shared');
    let workerKeys = 0;
    const reader = s3ObjectReader(s3.client, Bucket, 4, {
      startWorker: async (concurrency) => {
        const worker = (await startBuilt(concurrency))!;
        return { ...worker, get pending() { return worker.pending; }, heads: (target, who, batch) => ((workerKeys += batch.length), worker.heads(target, who, batch)), close: () => worker.close() };
      },
    });
    try {
      const before = s3.fake.counts.HeadObject ?? 0;
      const answers = await Promise.all(keys.map((batch) => reader.heads(batch)));
      expect(answers).toEqual(keys.map((batch) => batch.map((key) => truth.get(key))));
      const all = (s3.fake.counts.HeadObject ?? 0) - before;
      expect(all).toBe(200);
      expect(workerKeys).toBeGreaterThan(0);
      expect(all - workerKeys).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
  });

  it('sends what the worker did not expect through the SDK, and does without a worker that died', async () => {
    const { keys, truth } = fillStore('fallback');
    const expected = keys.map((batch) => batch.map((key) => truth.get(key)));
    const surprised = s3ObjectReader(s3.client, Bucket, 4, {
      startWorker: async (concurrency) => {
        const worker = (await startBuilt(concurrency))!;
        return { ...worker, get pending() { return worker.pending; }, heads: async (target, who, batch) => (await worker.heads(target, who, batch)).map((answer, index) => (index === 0 ? null : answer)), close: () => worker.close() };
      },
    });
    const dead = s3ObjectReader(s3.client, Bucket, 4, {
      startWorker: async () => ({ pending: 0, heads: () => Promise.reject(new Error('the S3 HEAD worker exited (code 1)')), close: () => {} }),
    });
    try {
      expect(await Promise.all(keys.map((batch) => surprised.heads(batch)))).toEqual(expected);
      expect(await Promise.all(keys.map((batch) => dead.heads(batch)))).toEqual(expected);
    } finally {
      surprised.close();
      dead.close();
    }
    // Checksums the fake holds are the bodies' (fakeObject): the answers are real ones.
    const present = [...truth.entries()].find(([, head]) => head.checksumSha256 !== undefined)!;
    expect(present[1].checksumSha256).toBe(createHash('sha256').update(s3.fake.buckets.get(Bucket)!.get(present[0])!.body).digest('base64'));
  });
});

describe('verify s3:// (the built CLI, its worker thread running)', () => {
  it('reports every removed, changed and checksum-less file of 24 runs, whichever thread checked it', async () => {
    const { names } = await putSignedRuns(s3.fake, Bucket, 'cli', 24);
    const objects = s3.fake.buckets.get(Bucket)!;
    const manifest = JSON.parse(objects.get(`cli/${names[0]}/manifest.json`)!.body.toString('utf8')) as { files: { path: string }[] };
    const file = manifest.files[0]!.path;
    const expected: string[] = [];
    // Every third run, in turn: the file removed, changed (a new object with its own checksum), or without a checksum.
    names.forEach((name, index) => {
      if (index % 3 !== 0) return;
      const key = `cli/${name}/${file}`;
      const kind = (index / 3) % 3;
      if (kind === 0) {
        objects.delete(key);
        expected.push(`${name}: NOT INTACT\n  - missing: ${file}`);
      } else if (kind === 1) {
        objects.set(key, fakeObject(Buffer.concat([objects.get(key)!.body, Buffer.from('forged\n')])));
        expected.push(`${name}: NOT INTACT\n  - changed: ${file} (its sha256 differs`);
      } else {
        objects.set(key, { ...objects.get(key)!, checksumSha256: undefined });
        expected.push(`${name}: NOT INTACT\n  - ${file}: S3 holds no SHA-256 checksum for it`);
      }
    });
    const env = { AWS_ENDPOINT_URL_S3: s3.fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_PROFILE: '' };
    const result = await runCli(['verify', `s3://${Bucket}/cli`], { env });
    expect(result.code, result.stderr).toBe(1);
    for (const line of expected) expect(result.stderr).toContain(line);
    expect(result.stderr).toMatch(new RegExp(`verify: NOT INTACT: ${expected.length} problems\\b`));
    expect(result.stdout.split('\n').filter((line) => / intact, signed by key /.test(line))).toHaveLength(names.length - expected.length);
  }, 60_000);
});
