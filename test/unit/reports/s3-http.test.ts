/**
 * The lean S3 reader (reports/evidence/s3-http.ts). The fake S3 does not check signatures; the
 * reader signs with the SDK's own signer (@smithy/signature-v4, what @aws-sdk/client-s3 signs
 * with), and the test checks that the request it hands it (path encoding of odd keys, headers,
 * session token) signs exactly like a direct use of that signer for the same keys and instant; the reads against
 * the fake's objects, and the fall-back to the SDK for what the lean path does not expect.
 */
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { s3ObjectReader, signV4 } from '../../../reports/evidence/s3-http.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const Bucket = 'acme-drill-evidence';
const s3 = useFakeS3([Bucket]);

describe('signV4', () => {
  it('signs a GET and a checksum HEAD exactly as the SDK signer does (session token, odd key characters)', async () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'FQoGZXIvYXdzEJr//////////token' };
    const now = new Date('2026-12-01T12:34:56.789Z');
    const sdk = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials, sha256: s3.client.config.sha256, uriEscapePath: false, applyChecksum: false });
    for (const [method, headers] of [
      ['GET', {}],
      ['HEAD', { 'x-amz-checksum-mode': 'ENABLED' }],
    ] as const) {
      const path = `/prod/2026-12-01T100000Z-orders (db)/${encodeURIComponent("it's*!.json").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
      const ours = await signV4({ method, host: `${Bucket}.s3.eu-west-1.amazonaws.com`, path: path.replace(/ /g, '%20').replace(/\(/g, '%28').replace(/\)/g, '%29'), headers }, credentials, 'eu-west-1', now, s3.client.config.sha256);
      const signed = await sdk.sign(
        {
          method,
          protocol: 'https:',
          hostname: `${Bucket}.s3.eu-west-1.amazonaws.com`,
          path: path.replace(/ /g, '%20').replace(/\(/g, '%28').replace(/\)/g, '%29'),
          headers: { ...headers, host: `${Bucket}.s3.eu-west-1.amazonaws.com`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
          query: {},
        },
        { signingDate: now },
      );
      expect(ours.authorization).toBe(signed.headers.authorization);
      expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
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
