/**
 * A worker thread that sends HeadObject requests for the lean S3 reader (s3-http.ts →
 * `heads`), so `verify s3://` checks runs' files on two threads. Sending a request is CPU
 * work in the sender — signing, Node's HTTP client, and above all the socket write, which on
 * a VM costs tens of µs — and verify sends one per file: 60,000 HEADs for 10,000 runs, which
 * kept one thread busy while the second core sat mostly idle.
 *
 * The worker is this same module (`new Worker(import.meta.url)`), so it is found wherever the
 * module is: dist/ from tsc, or the esbuild chunk s3-http.ts imports it as (a dynamic import,
 * so the chunk holds this module and its few imports, not the SDK). It gets what a request
 * needs as plain data with each batch — the endpoint, the signing region and the current
 * credentials — and answers each key with exists + checksum, or null for anything the lean
 * path does not expect (an error status, a transport error), which the main thread sends
 * again through the SDK as it does for its own requests.
 */
import { Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pLimit from 'p-limit';
import { headOf, isExpected, leanSender, type S3ObjectHead, type S3RequestTarget } from './s3-request.js';
import type { SigningIdentity } from './s3-sigv4.js';

const WORKER_FLAG = 'drillbookS3HeadWorker';

interface HeadBatch {
  id: number;
  target: S3RequestTarget;
  identity: SigningIdentity;
  keys: string[];
}

interface HeadAnswer {
  id: number;
  /** null: not an answer the lean path knows (send it through the SDK). */
  heads: (S3ObjectHead | null)[];
}

export interface HeadWorker {
  /** Keys sent and not answered yet. */
  readonly pending: number;
  /** Rejects when the worker died (the caller then does the keys itself). */
  heads(target: S3RequestTarget, identity: SigningIdentity, keys: string[]): Promise<(S3ObjectHead | null)[]>;
  close(): void;
}

/**
 * The worker, `concurrency` requests in flight at most (on its own agent), or undefined when
 * this module is not loadable by a Worker (vitest runs the TypeScript source).
 * `moduleUrl` is for tests that start the built module.
 */
export function startHeadWorker(concurrency: number, moduleUrl: string = import.meta.url): HeadWorker | undefined {
  if (!moduleUrl.endsWith('.js')) return undefined;
  const worker = new Worker(new URL(moduleUrl), { workerData: { [WORKER_FLAG]: { concurrency } } });
  const waiting = new Map<number, { keys: number; resolve: (heads: (S3ObjectHead | null)[]) => void; reject: (error: Error) => void }>();
  let pending = 0;
  let nextId = 1;
  let failed: Error | undefined;
  // Referenced only while an answer is awaited: an idle worker never holds the process open,
  // and a busy one does (the main thread may be waiting on nothing else).
  worker.unref();
  worker.on('message', ({ id, heads }: HeadAnswer) => {
    const batch = waiting.get(id);
    if (!batch) return;
    waiting.delete(id);
    pending -= batch.keys;
    if (waiting.size === 0) worker.unref();
    batch.resolve(heads);
  });
  const fail = (error: Error) => {
    failed ??= error;
    for (const batch of waiting.values()) batch.reject(failed);
    waiting.clear();
    pending = 0;
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the S3 HEAD worker exited (code ${code})`)));
  return {
    get pending() {
      return pending;
    },
    heads: (target, identity, keys) => {
      if (failed) return Promise.reject(failed);
      const id = nextId++;
      const { accessKeyId, secretAccessKey, sessionToken } = identity;
      return new Promise((resolve, reject) => {
        waiting.set(id, { keys: keys.length, resolve, reject });
        pending += keys.length;
        worker.ref();
        worker.postMessage({ id, target, identity: { accessKeyId, secretAccessKey, sessionToken }, keys } satisfies HeadBatch);
      });
    },
    close: () => {
      void worker.terminate();
    },
  };
}

function serve(port: MessagePort, concurrency: number): void {
  const sender = leanSender(concurrency);
  const limit = pLimit(concurrency);
  const head = (batch: HeadBatch, key: string) =>
    limit(async () => {
      try {
        const response = await sender.send(batch.target, batch.identity, 'HEAD', key);
        return isExpected('HEAD', response) ? headOf(response) : null;
      } catch {
        return null;
      }
    });
  port.on('message', (batch: HeadBatch) => {
    void Promise.all(batch.keys.map((key) => head(batch, key))).then((heads) => port.postMessage({ id: batch.id, heads } satisfies HeadAnswer));
  });
}

if (!isMainThread && parentPort && (workerData as Record<string, { concurrency: number } | undefined> | null)?.[WORKER_FLAG]) {
  serve(parentPort, (workerData as Record<string, { concurrency: number }>)[WORKER_FLAG]!.concurrency);
}
