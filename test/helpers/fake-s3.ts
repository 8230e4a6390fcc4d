/**
 * A stateful fake S3 on 127.0.0.1: a real HTTP server speaking the path-style S3 REST calls
 * drillbook makes, for use with the real @aws-sdk/client-s3 (`endpoint` + `forcePathStyle`).
 *
 * - PutObject (PUT /bucket/key): `If-None-Match: *` → 412 PreconditionFailed when the key
 *   exists; `If-Match: <etag>` → 412 when the ETag differs, 404 NoSuchKey when there is no
 *   object. `x-amz-checksum-sha256` is checked against the body (400 BadDigest) and kept.
 *   Two conditional writes of one key are decided one at a time (as S3 does), never both won.
 * - GetObject / HeadObject: 404 NoSuchKey (HEAD: bare 404), the stored checksum returned when
 *   `x-amz-checksum-mode: ENABLED`, `x-amz-meta-*` metadata.
 * - ListObjectsV2 (GET /bucket?list-type=2): prefix, delimiter (CommonPrefixes), start-after,
 *   continuation-token, max-keys (capped at 1000), keys in UTF-8 binary order.
 * - DeleteObject: 204, also for a missing key.
 * Only the headers and error codes above; no auth check (the SDK signs, the fake ignores it).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';

export interface FakeObject {
  body: Buffer;
  etag: string;
  lastModified: Date;
  contentType: string | undefined;
  checksumSha256: string | undefined;
  metadata: Record<string, string>;
}

/** An object as S3 would hold it after a PUT of `body` with a SHA-256 checksum. */
export function fakeObject(body: Buffer): FakeObject {
  return {
    body,
    etag: `"${createHash('md5').update(body).digest('hex')}"`,
    lastModified: new Date(),
    contentType: undefined,
    checksumSha256: createHash('sha256').update(body).digest('base64'),
    metadata: {},
  };
}

export interface FakeS3 {
  endpoint: string;
  /** bucket → key → object; tests may tamper with it directly (an attacker with delete rights). */
  buckets: Map<string, Map<string, FakeObject>>;
  /** Requests served, by operation name. */
  counts: Record<string, number>;
  client(): S3Client;
  close(): Promise<void>;
}

const xmlEscape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function sendError(res: ServerResponse, status: number, code: string, message: string, extra = ''): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}<RequestId>fake</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startFakeS3(options: { buckets?: string[] } = {}): Promise<FakeS3> {
  const buckets = new Map<string, Map<string, FakeObject>>();
  for (const name of options.buckets ?? []) buckets.set(name, new Map());
  const counts: Record<string, number> = {};
  const count = (op: string) => (counts[op] = (counts[op] ?? 0) + 1);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = url.pathname.split('/').slice(1);
    const bucketName = decodeURIComponent(parts[0] ?? '');
    const key = parts.slice(1).map(decodeURIComponent).join('/');
    const bucket = buckets.get(bucketName);
    const method = req.method ?? 'GET';
    if (!bucket) {
      await readBody(req);
      if (method === 'HEAD') {
        res.writeHead(404).end();
        return;
      }
      sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
      return;
    }
    if (key === '' && method === 'GET' && url.searchParams.get('list-type') === '2') {
      count('ListObjectsV2');
      listObjects(bucket, url.searchParams, bucketName, res);
      return;
    }
    if (key === '') {
      sendError(res, 501, 'NotImplemented', `the fake S3 does not implement ${method} on a bucket`);
      return;
    }
    if (method === 'PUT') {
      count('PutObject');
      if (req.headers['x-amz-copy-source']) {
        sendError(res, 501, 'NotImplemented', 'CopyObject is not implemented');
        return;
      }
      const body = await readBody(req);
      if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) {
        sendError(res, 501, 'NotImplemented', 'aws-chunked uploads are not implemented by the fake; send a Buffer body');
        return;
      }
      const checksum = req.headers['x-amz-checksum-sha256'];
      const actual = createHash('sha256').update(body).digest('base64');
      if (typeof checksum === 'string' && checksum !== actual) {
        sendError(res, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
        return;
      }
      // Decided synchronously after the body is in: no await between the check and the store.
      const existing = bucket.get(key);
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match'];
      if (ifNoneMatch === '*' && existing) {
        sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', '<Condition>If-None-Match</Condition>');
        return;
      }
      if (typeof ifMatch === 'string') {
        if (!existing) {
          sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          return;
        }
        if (ifMatch !== existing.etag && ifMatch !== '*') {
          sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', '<Condition>If-Match</Condition>');
          return;
        }
      }
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
      }
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      bucket.set(key, {
        body,
        etag,
        lastModified: new Date(),
        contentType: typeof req.headers['content-type'] === 'string' ? req.headers['content-type'] : undefined,
        checksumSha256: typeof checksum === 'string' ? checksum : undefined,
        metadata,
      });
      res.writeHead(200, { etag, ...(typeof checksum === 'string' ? { 'x-amz-checksum-sha256': checksum } : {}), 'content-length': 0 });
      res.end();
      return;
    }
    if (method === 'GET' || method === 'HEAD') {
      count(method === 'GET' ? 'GetObject' : 'HeadObject');
      const object = bucket.get(key);
      if (!object) {
        if (method === 'HEAD') res.writeHead(404).end();
        else sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
        return;
      }
      const headers: Record<string, string | number> = {
        etag: object.etag,
        'last-modified': object.lastModified.toUTCString(),
        'content-length': object.body.length,
        'content-type': object.contentType ?? 'application/octet-stream',
      };
      if (req.headers['x-amz-checksum-mode'] === 'ENABLED' && object.checksumSha256) headers['x-amz-checksum-sha256'] = object.checksumSha256;
      for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
      res.writeHead(200, headers);
      res.end(method === 'GET' ? object.body : undefined);
      return;
    }
    if (method === 'DELETE') {
      count('DeleteObject');
      bucket.delete(key);
      res.writeHead(204).end();
      return;
    }
    sendError(res, 501, 'NotImplemented', `the fake S3 does not implement ${method}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', String(error));
      else res.destroy();
    });
  });
  // Node's client agent drops a pooled socket 1 s before the server's advertised keep-alive
  // timeout, so `Keep-Alive: timeout=1` made every request open a new TCP connection (the
  // cost that dominated `verify s3://`). Real S3 keeps connections for minutes; close()
  // ends them all anyway.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    buckets,
    counts,
    client: () => fakeS3Client(endpoint),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A real S3Client aimed at the fake (also usable in a child process given the endpoint). */
export function fakeS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
    maxAttempts: 1,
  });
}

/** S3's key order: UTF-8 bytes, not UTF-16 code units. */
const utf8Compare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function listObjects(bucket: Map<string, FakeObject>, params: URLSearchParams, bucketName: string, res: ServerResponse): void {
  const prefix = params.get('prefix') ?? '';
  const delimiter = params.get('delimiter') ?? '';
  const token = params.get('continuation-token');
  const startAfter = params.get('start-after') ?? '';
  const maxKeys = Math.min(Number(params.get('max-keys') ?? 1000) || 1000, 1000);
  // The token is the last key or common prefix returned (base64), as opaque to the client as S3's.
  const after = token ? Buffer.from(token, 'base64').toString('utf8') : startAfter;
  const keys = [...bucket.keys()].filter((key) => key.startsWith(prefix) && utf8Compare(key, after) > 0).sort(utf8Compare);
  // With a delimiter, keys that hold it after the prefix roll up into one CommonPrefix each,
  // counted once against max-keys, as S3 does.
  const entries: { key?: string; commonPrefix?: string }[] = [];
  let truncated = false;
  for (const key of keys) {
    const cut = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      const commonPrefix = key.slice(0, cut + delimiter.length);
      if (utf8Compare(commonPrefix, after) <= 0) continue;
      if (entries.at(-1)?.commonPrefix === commonPrefix) continue;
      if (entries.length === maxKeys) {
        truncated = true;
        break;
      }
      entries.push({ commonPrefix });
    } else {
      if (entries.length === maxKeys) {
        truncated = true;
        break;
      }
      entries.push({ key });
    }
  }
  const contents = entries
    .filter((entry) => entry.key !== undefined)
    .map(({ key }) => {
      const object = bucket.get(key!)!;
      return `<Contents><Key>${xmlEscape(key!)}</Key><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(object.etag)}</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    })
    .join('');
  const commonPrefixes = entries
    .filter((entry) => entry.commonPrefix !== undefined)
    .map(({ commonPrefix }) => `<CommonPrefixes><Prefix>${xmlEscape(commonPrefix!)}</Prefix></CommonPrefixes>`)
    .join('');
  const last = entries.at(-1);
  const next = truncated && last ? `<NextContinuationToken>${Buffer.from(last.key ?? last.commonPrefix!).toString('base64')}</NextContinuationToken>` : '';
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucketName)}</Name>` +
    `<Prefix>${xmlEscape(prefix)}</Prefix>${delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : ''}${startAfter ? `<StartAfter>${xmlEscape(startAfter)}</StartAfter>` : ''}${token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : ''}` +
    `<KeyCount>${entries.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${commonPrefixes}${next}</ListBucketResult>`;
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
