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
 */
import http from 'node:http';
import https from 'node:https';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isNoSuchKey } from './s3-ledger.js';
import { SigV4Signer } from './s3-sigv4.js';

export interface S3ObjectRead {
  /** undefined when there is no such key. */
  body: Buffer | undefined;
}
export interface S3ObjectHead {
  exists: boolean;
  /** `x-amz-checksum-sha256` (base64), when S3 holds one. */
  checksumSha256: string | undefined;
}

export interface S3ObjectReader {
  get(key: string): Promise<Buffer | undefined>;
  /** HeadObject with checksum mode. */
  head(key: string): Promise<S3ObjectHead>;
  close(): void;
}

interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

interface Target {
  url: URL;
  signingRegion: string;
}

/** RFC 3986 encoding of each key segment, as S3 signs paths (no double encoding). */
const encodeKey = (key: string) => key.split('/').map((part) => encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');

class Unexpected extends Error {}

/** A reader of `bucket`'s objects (see the module comment); `concurrency` sockets at most. */
export function s3ObjectReader(client: S3Client, bucket: string, concurrency = 16): S3ObjectReader {
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: concurrency }), https: new https.Agent({ keepAlive: true, maxSockets: concurrency }) };
  const signer = new SigV4Signer();
  let target: Promise<Target | undefined> | undefined;
  let identity: Promise<Identity> | undefined;
  /** Set after the first surprise: every later read goes through the SDK. */
  let sdkOnly = false;

  const resolveTarget = async (): Promise<Target | undefined> => {
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
    return { url: new URL(resolved.url.toString()), signingRegion: scheme.signingRegion ?? region };
  };
  const currentIdentity = async (): Promise<Identity> => {
    const held = identity ? await identity : undefined;
    if (held && (!held.expiration || held.expiration.getTime() - Date.now() > 5 * 60_000)) return held;
    identity = client.config.credentials() as Promise<Identity>;
    return identity;
  };

  const send = async (method: 'GET' | 'HEAD', key: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> => {
    target ??= resolveTarget();
    const where = await target;
    if (!where) throw new Unexpected('not a sigv4 endpoint');
    const base = where.url.pathname.replace(/\/$/, '');
    const pathname = `${base}/${encodeKey(key)}`;
    const headers = signer.sign({ method, host: where.url.host, path: pathname, headers: method === 'HEAD' ? { 'x-amz-checksum-mode': 'ENABLED' } : {} }, await currentIdentity(), where.signingRegion, new Date());
    const transport = where.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(
        { protocol: where.url.protocol, hostname: where.url.hostname, port: where.url.port || undefined, path: pathname, method, headers, agent: where.url.protocol === 'https:' ? agents.https : agents.http, timeout: 60_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`GET ${key}: no response within 60 s`)));
      request.on('error', reject);
      request.end();
    });
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
  const read = async <T>(method: 'GET' | 'HEAD', key: string, lean: (response: { status: number; headers: http.IncomingHttpHeaders; body: Buffer }) => T, sdk: () => Promise<T>): Promise<T> => {
    if (sdkOnly) return sdk();
    try {
      const response = await send(method, key);
      // A 404 from GET names its cause; only NoSuchKey is "no such object" (HEAD has no body:
      // its bucket was listed before any object of it is read).
      const noSuchKey = response.status === 404 && (method === 'HEAD' || response.body.includes('<Code>NoSuchKey</Code>'));
      if (response.status === 200 || noSuchKey) return lean(response);
    } catch {
      // A transport error, or an endpoint this path does not sign: the SDK decides.
    }
    sdkOnly = true;
    return sdk();
  };

  return {
    get: (key) =>
      read(
        'GET',
        key,
        (response) => (response.status === 404 ? undefined : response.body),
        () => viaSdk.get(key),
      ),
    head: (key) =>
      read(
        'HEAD',
        key,
        (response) => {
          const checksum = response.headers['x-amz-checksum-sha256'];
          return response.status === 404 ? { exists: false, checksumSha256: undefined } : { exists: true, checksumSha256: typeof checksum === 'string' ? checksum : undefined };
        },
        () => viaSdk.head(key),
      ),
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
