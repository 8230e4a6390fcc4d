/**
 * GetObject and HeadObject for reading a store object by object (verify, site, coverage over
 * tens of thousands of runs), without the SDK's per-request middleware stack: measured against
 * the fake S3, a HeadObject through `client.send` costs 0.9–1.5 ms of CPU, the same request
 * signed here and sent on a keep-alive agent about 0.1 ms. 10,000 runs are about 90,000 such
 * requests, so this is what keeps `verify s3://` of them under 10 s.
 *
 * Everything that varies by account and deployment still comes from the client: its
 * credentials (the standard chain: IRSA, SSO, instance metadata...), region, custom endpoint,
 * FIPS / dual-stack and path-style settings; the URL and signing region from its own endpoint
 * rules (`endpointProvider`). The request is signed as the SDK's SigV4 signer signs it
 * (s3-sigv4.ts: header form, `UNSIGNED-PAYLOAD`, as the SDK signs S3 GETs). Whatever this path does not expect —
 * an auth scheme other than sigv4, a redirect, an error status other than 404 — is sent again
 * through `client.send`, and the rest of the reads then go through the SDK, so its retries,
 * region redirects and error messages apply unchanged.
 *
 * `heads` (verify's per-file checks) shares its HEADs between this thread and a worker thread
 * (s3-head-worker.ts), each with its own agent of `concurrency` sockets: sending requests is
 * what verify's CPU goes to, and the worker puts the second core to it.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { HeadWorker } from './s3-head-worker.js';
import { headOf, isExpected, leanSender, type LeanResponse, type S3ObjectHead, type S3RequestTarget } from './s3-request.js';
import { isNoSuchKey } from './s3-ledger.js';
import type { SigningIdentity } from './s3-sigv4.js';

export type { S3ObjectHead } from './s3-request.js';

export interface S3ObjectReader {
  get(key: string): Promise<Buffer | undefined>;
  /** HeadObject with checksum mode. */
  head(key: string): Promise<S3ObjectHead>;
  /** HeadObject with checksum mode of each key, in order; on this thread and the worker's. */
  heads(keys: string[]): Promise<S3ObjectHead[]>;
  close(): void;
}

interface Identity extends SigningIdentity {
  expiration?: Date | undefined;
}

class Unexpected extends Error {}

export interface S3ObjectReaderOptions {
  /** Starts the worker `heads` shares with (default: s3-head-worker.ts's); undefined: none. */
  startWorker?: (concurrency: number) => Promise<HeadWorker | undefined>;
}

/** A worker thread of s3-head-worker.ts, imported when first needed: its chunk then holds that module alone. */
const startDefaultWorker = async (concurrency: number) => (await import('./s3-head-worker.js')).startHeadWorker(concurrency);

/** A reader of `bucket`'s objects (see the module comment); `concurrency` sockets at most per thread. */
export function s3ObjectReader(client: S3Client, bucket: string, concurrency = 16, options: S3ObjectReaderOptions = {}): S3ObjectReader {
  const startWorker = options.startWorker ?? startDefaultWorker;
  const sender = leanSender(concurrency);
  let target: Promise<S3RequestTarget | undefined> | undefined;
  let identity: Promise<Identity> | undefined;
  /** Set after the first surprise: every later read goes through the SDK. */
  let sdkOnly = false;
  /** Started by the first `heads`; null when there is none to be had (or it died). */
  let worker: Promise<HeadWorker | null> | undefined;
  const localHeads = pLimit(concurrency);
  let localPending = 0;

  const resolveTarget = async (): Promise<S3RequestTarget | undefined> => {
    const config = client.config;
    const region = await config.region();
    // A custom endpoint is either given to the client or configured for the service
    // (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, the shared config's `endpoint_url`).
    const custom = config.isCustomEndpoint && config.endpoint ? await config.endpoint() : undefined;
    const configured = custom ? undefined : await (config as { serviceConfiguredEndpoint?: () => Promise<string | undefined> }).serviceConfiguredEndpoint?.();
    const endpoint = custom ? `${custom.protocol}//${custom.hostname}${custom.port ? `:${custom.port}` : ''}${custom.path ?? ''}` : configured;
    const resolved = config.endpointProvider(
      {
        Bucket: bucket,
        Region: region,
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        ForcePathStyle: config.forcePathStyle ?? false,
        Accelerate: config.useAccelerateEndpoint ?? false,
        ...(endpoint ? { Endpoint: endpoint } : {}),
      },
      {},
    );
    const scheme = (resolved.properties?.authSchemes as { name?: string; signingRegion?: string }[] | undefined)?.[0];
    if (scheme?.name !== 'sigv4' || Object.keys(resolved.headers ?? {}).length > 0) return undefined;
    const url = new URL(resolved.url.toString());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return { protocol: url.protocol, hostname: url.hostname, port: url.port, host: url.host, basePath: url.pathname.replace(/\/$/, ''), signingRegion: scheme.signingRegion ?? region };
  };
  const currentIdentity = async (): Promise<Identity> => {
    const held = identity ? await identity : undefined;
    if (held && (!held.expiration || held.expiration.getTime() - Date.now() > 5 * 60_000)) return held;
    identity = client.config.credentials() as Promise<Identity>;
    return identity;
  };
  const leanTarget = async (): Promise<S3RequestTarget> => {
    target ??= resolveTarget();
    const where = await target;
    if (!where) throw new Unexpected('not a sigv4 endpoint');
    return where;
  };

  const viaSdk = {
    get: async (key: string): Promise<Buffer | undefined> => {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
      } catch (error) {
        if (isNoSuchKey(error)) return undefined;
        throw error;
      }
    },
    head: async (key: string): Promise<S3ObjectHead> => {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
        return { exists: true, checksumSha256: head.ChecksumSHA256 };
      } catch (error) {
        if (isNoSuchKey(error)) return { exists: false, checksumSha256: undefined };
        throw error;
      }
    },
  };

  /** The lean request, or the SDK's for anything it does not expect (and from then on). */
  const read = async <T>(method: 'GET' | 'HEAD', key: string, lean: (response: LeanResponse) => T, sdk: () => Promise<T>): Promise<T> => {
    if (sdkOnly) return sdk();
    try {
      const response = await sender.send(await leanTarget(), await currentIdentity(), method, key);
      if (isExpected(method, response)) return lean(response);
    } catch {
      // A transport error, or an endpoint this path does not sign: the SDK decides.
    }
    sdkOnly = true;
    return sdk();
  };
  const head = (key: string) => read('HEAD', key, headOf, () => viaSdk.head(key));

  /** The worker, while the lean path is in use and one could be started. */
  const headWorker = async (): Promise<HeadWorker | null> => {
    if (sdkOnly) return null;
    // No lean target, or no worker to be had: this thread does all.
    worker ??= leanTarget()
      .then(() => startWorker(concurrency))
      .then(
        (started) => started ?? null,
        () => null,
      );
    return worker;
  };

  return {
    get: (key) =>
      read(
        'GET',
        key,
        (response) => (response.status === 404 ? undefined : response.body),
        () => viaSdk.get(key),
      ),
    head,
    heads: async (keys) => {
      const lane = await headWorker();
      // What the worker needs, before the choice: choosing and sending must not be split by an
      // await, or every batch of a burst would see the same counts.
      const request = lane ? await Promise.all([leanTarget(), currentIdentity()]).catch(() => undefined) : undefined;
      // Each batch to the thread with fewer keys waiting, so both stay busy.
      if (lane && request && !sdkOnly && lane.pending <= localPending) {
        const answers = await lane.heads(request[0], request[1], keys).catch(() => {
          // The worker died: do without it.
          worker = Promise.resolve(null);
          return undefined;
        });
        if (answers) {
          return Promise.all(
            answers.map((answer, index) => {
              if (answer) return answer;
              // A surprise in the worker is one here too: the SDK, from now on.
              sdkOnly = true;
              return viaSdk.head(keys[index]!);
            }),
          );
        }
      }
      localPending += keys.length;
      try {
        return await Promise.all(keys.map((key) => localHeads(() => head(key))));
      } finally {
        localPending -= keys.length;
      }
    },
    close: () => {
      sender.close();
      void worker?.then((started) => started?.close());
    },
  };
}
