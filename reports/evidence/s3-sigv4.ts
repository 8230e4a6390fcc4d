/**
 * Signature Version 4 of the one request shape the lean S3 reader sends (s3-http.ts): a GET or
 * HEAD without a body or query, header form, `UNSIGNED-PAYLOAD` — the same bytes the SDK's
 * signer (@smithy/signature-v4, as @aws-sdk/client-s3 uses it: path not escaped twice)
 * produces, which test/unit/reports/s3-http.test.ts checks header for header.
 *
 * Written out with node:crypto instead of calling that signer because `verify s3://` signs
 * one request per object, 80,000 for 10,000 runs: the signer costs about 19 µs a request (an
 * HMAC of the credentials for its cache key on every call, an async hash wrapper, a canonical
 * header pass over generic input), this about 5 µs: one SHA-256 and one HMAC, with the
 * signing key derived once a day per credentials and region
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigningIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignableRequest {
  method: string;
  /** Host header as sent (`bucket.s3.region.amazonaws.com`, or `host:port`). */
  host: string;
  /** The path as sent: each segment already RFC 3986-encoded (signed as is, as S3 wants). */
  path: string;
  /** Further headers to sign and send, by lower-case name (e.g. `x-amz-checksum-mode`). */
  headers: Record<string, string>;
}

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** A header value as SigV4 signs it (as the SDK trims it); one test first, values rarely need it. */
const canonicalValue = (value: string) =>
  /[\r\n\t]|^ | $| {2}/.test(value) ? value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '') : value;

/** Signs requests for one service; caches the day's signing key and the second's date stamp. */
export class SigV4Signer {
  private key: { scope: string; secret: string; bytes: Buffer } | undefined;
  private stamp: { second: number; amzDate: string } | undefined;

  constructor(private readonly service = 's3') {}

  /** The headers to send: the request's own, host, x-amz-date, x-amz-content-sha256, the token, authorization. */
  sign(request: SignableRequest, identity: SigningIdentity, region: string, now: Date): Record<string, string> {
    const amzDate = this.amzDate(now);
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/${this.service}/aws4_request`;
    const headers: Record<string, string> = { ...request.headers, host: request.host, 'x-amz-content-sha256': UNSIGNED_PAYLOAD, 'x-amz-date': amzDate };
    if (identity.sessionToken) headers['x-amz-security-token'] = identity.sessionToken;
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((name) => `${name}:${canonicalValue(headers[name]!)}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = `${request.method}\n${request.path}\n\n${canonicalHeaders}\n${signedHeaders}\n${UNSIGNED_PAYLOAD}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(identity.secretAccessKey, scope, day, region)).update(stringToSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${identity.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  /** `YYYYMMDDTHHMMSSZ`, formatted once a second. */
  private amzDate(now: Date): string {
    const second = Math.floor(now.getTime() / 1000);
    if (this.stamp?.second !== second) this.stamp = { second, amzDate: now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '') };
    return this.stamp.amzDate;
  }

  private signingKey(secret: string, scope: string, day: string, region: string): Buffer {
    if (this.key?.scope === scope && this.key.secret === secret) return this.key.bytes;
    let bytes = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    for (const part of [region, this.service, 'aws4_request']) bytes = createHmac('sha256', bytes).update(part).digest();
    this.key = { scope, secret, bytes };
    return bytes;
  }
}
