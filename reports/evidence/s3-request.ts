/**
 * One signed S3 GET or HEAD on a keep-alive agent, and what its answer means — the lean path
 * of s3-http.ts, in a module of its own that needs nothing but Node and s3-sigv4.ts, so the
 * worker thread of s3-head-worker.ts can send the same requests without loading the SDK.
 * Everything here is plain data that crosses to a worker as it is (no URL, no client).
 */
import http from 'node:http';
import https from 'node:https';
import { SigV4Signer, type SigningIdentity } from './s3-sigv4.js';

/** Where a bucket's objects are sent, as the client's endpoint rules resolved it. */
export interface S3RequestTarget {
  protocol: 'http:' | 'https:';
  hostname: string;
  /** '' for the scheme's default. */
  port: string;
  /** The Host header: hostname and port as in the URL. */
  host: string;
  /** The endpoint's path before the key, without a trailing slash ('' or '/bucket' path-style). */
  basePath: string;
  signingRegion: string;
}

export interface S3ObjectHead {
  exists: boolean;
  /** `x-amz-checksum-sha256` (base64), when S3 holds one. */
  checksumSha256: string | undefined;
}

export interface LeanResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** RFC 3986 encoding of each key segment, as S3 signs paths (no double encoding). */
export const encodeKey = (key: string) => key.split('/').map((part) => encodeURIComponent(part).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');

export interface LeanSender {
  send(target: S3RequestTarget, identity: SigningIdentity, method: 'GET' | 'HEAD', key: string): Promise<LeanResponse>;
  close(): void;
}

/** Signed requests on one keep-alive agent per scheme, `concurrency` sockets at most. */
export function leanSender(concurrency: number): LeanSender {
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: concurrency }), https: new https.Agent({ keepAlive: true, maxSockets: concurrency }) };
  const signer = new SigV4Signer();
  return {
    send: (target, identity, method, key) => {
      const path = `${target.basePath}/${encodeKey(key)}`;
      const headers = signer.sign({ method, host: target.host, path, headers: method === 'HEAD' ? { 'x-amz-checksum-mode': 'ENABLED' } : {} }, identity, target.signingRegion, new Date());
      const secure = target.protocol === 'https:';
      return new Promise((resolve, reject) => {
        const request = (secure ? https : http).request(
          { protocol: target.protocol, hostname: target.hostname, port: target.port || undefined, path, method, headers, agent: secure ? agents.https : agents.http, timeout: 60_000 },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
            response.on('error', reject);
          },
        );
        request.on('timeout', () => request.destroy(new Error(`${method} ${key}: no response within 60 s`)));
        request.on('error', reject);
        request.end();
      });
    },
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/**
 * Whether the lean path knows what `response` means: 200, or a 404 that is "no such object"
 * (a GET's names its cause, only NoSuchKey is; HEAD has no body: its bucket was listed before
 * any object of it is read). Anything else is for the SDK.
 */
export function isExpected(method: 'GET' | 'HEAD', response: LeanResponse): boolean {
  return response.status === 200 || (response.status === 404 && (method === 'HEAD' || response.body.includes('<Code>NoSuchKey</Code>')));
}

/** An expected HEAD response as exists + checksum. */
export function headOf(response: LeanResponse): S3ObjectHead {
  if (response.status === 404) return { exists: false, checksumSha256: undefined };
  const checksum = response.headers['x-amz-checksum-sha256'];
  return { exists: true, checksumSha256: typeof checksum === 'string' ? checksum : undefined };
}
