/**
 * The lean S3 reader (reports/evidence/s3-http.ts). The fake S3 does not check signatures; the
 * reader signs with its own SigV4 (reports/evidence/s3-sigv4.ts), and the test checks that it
 * sends exactly the headers the SDK's own signer (@smithy/signature-v4, what @aws-sdk/client-s3
 * signs with) gives for the same request (path encoding of odd keys, headers, session token),
 * instant and region, also across a change of day and of credentials; the reads against the
 * fake's objects, and the fall-back to the SDK for what the lean path does not expect.
 */
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { s3ObjectReader } from '../../../reports/evidence/s3-http.js';
import { SigV4Signer } from '../../../reports/evidence/s3-sigv4.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const Bucket = 'acme-drill-evidence';
const s3 = useFakeS3([Bucket]);

describe('SigV4Signer', () => {
  it('signs a GET and a checksum HEAD exactly as the SDK signer does (session token, odd key characters, a new day, other credentials)', async () => {
    const withToken = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'FQoGZXIvYXdzEJr//////////token' };
    const other = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'another/secret+key' };
    const host = `${Bucket}.s3.eu-west-1.amazonaws.com`;
    const path = `/prod/2026-12-01T100000Z-orders (db)/${encodeURIComponent("it's*!.json").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`
      .replace(/ /g, '%20')
      .replace(/\(/g, '%28')
      .replace(/\)/g, '%29');
    // One signer through all of them, as a reader uses it: its cached key and date must follow.
    const ours = new SigV4Signer();
    const cases = [
      { credentials: withToken, region: 'eu-west-1', now: new Date('2026-12-01T12:34:56.789Z') },
      { credentials: withToken, region: 'eu-west-1', now: new Date('2026-12-01T12:34:56.999Z') },
      { credentials: withToken, region: 'eu-west-1', now: new Date('2026-12-02T00:00:00.001Z') },
      { credentials: other, region: 'eu-west-1', now: new Date('2026-12-02T00:00:00.001Z') },
      { credentials: other, region: 'us-east-1', now: new Date('2026-12-02T00:00:01.000Z') },
    ];
    for (const { credentials, region, now } of cases) {
      const sdk = new SignatureV4({ service: 's3', region, credentials, sha256: s3.client.config.sha256, uriEscapePath: false, applyChecksum: false });
      for (const [method, headers] of [
        ['GET', {}],
        ['HEAD', { 'x-amz-checksum-mode': 'ENABLED' }],
        // Values are signed trimmed, runs of blanks as one (none of drillbook's own need it).
        ['HEAD', { 'x-amz-checksum-mode': '  ENABLED \t  x\n' }],
      ] as const) {
        const signed = await sdk.sign(
          { method, protocol: 'https:', hostname: host, path, headers: { ...headers, host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} },
          { signingDate: now },
        );
        expect(ours.sign({ method, host, path, headers }, credentials, region, now)).toEqual(signed.headers);
      }
    }
  });
});

describe('s3ObjectReader against the fake S3', () => {
  it('reads bodies and checksums, tells a missing key, and encodes keys S3 would', async () => {
    const objects = s3.fake.buckets.get(Bucket)!;
    const body = Buffer.from('{"ok":true}\n');
    const checksum = createHash('sha256').update(body).digest('base64');
    for (const key of ['prod/run one/run.json', 'prod/ü+&=/x.json']) {
      objects.set(key, { body, etag: '"e"', lastModified: new Date(), contentType: undefined, checksumSha256: checksum, metadata: {} });
    }
    const reader = s3ObjectReader(s3.client, Bucket, 4);
    try {
      const before = { ...s3.fake.counts };
      expect(await reader.get('prod/run one/run.json')).toEqual(body);
      expect(await reader.get('prod/ü+&=/x.json')).toEqual(body);
      expect(await reader.head('prod/ü+&=/x.json')).toEqual({ exists: true, checksumSha256: checksum });
      expect(await reader.get('prod/none.json')).toBeUndefined();
      expect(await reader.head('prod/none.json')).toEqual({ exists: false, checksumSha256: undefined });
      expect((s3.fake.counts.GetObject ?? 0) - (before.GetObject ?? 0)).toBe(3);
      expect((s3.fake.counts.HeadObject ?? 0) - (before.HeadObject ?? 0)).toBe(2);
    } finally {
      reader.close();
    }
  });

  it('hands what it does not expect to the SDK: a GET 404 that is not NoSuchKey gets the answer of the SDK path', async () => {
    const reader = s3ObjectReader(s3.client, 'no-such-bucket', 4);
    try {
      // 404 NoSuchBucket: sent again through client.send, which treats a
      // 404 as absent, as verify always did; the sources check the bucket when they open it.
      expect(await reader.get('prod/run.json')).toBeUndefined();
    } finally {
      reader.close();
    }
  });
});
