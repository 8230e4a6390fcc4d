import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const Bucket = 'fake-bucket';

const s3 = useFakeS3([Bucket]);

async function failure(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('fake S3 with the real client', () => {
  it('refuses a second If-None-Match: * write with 412 PreconditionFailed, and keeps the first body', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket, Key: 'a/one', Body: Buffer.from('first'), IfNoneMatch: '*' }));
    const error = await failure(s3.client.send(new PutObjectCommand({ Bucket, Key: 'a/one', Body: Buffer.from('second'), IfNoneMatch: '*' })));
    expect(error.name).toBe('PreconditionFailed');
    expect(error.$metadata.httpStatusCode).toBe(412);
    const got = await s3.client.send(new GetObjectCommand({ Bucket, Key: 'a/one' }));
    expect(await got.Body!.transformToString()).toBe('first');
  });

  it('checks If-Match against the ETag, and x-amz-checksum-sha256 against the body', async () => {
    const put = await s3.client.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: Buffer.from('v1') }));
    const stale = await failure(s3.client.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: Buffer.from('x'), IfMatch: '"nope"' })));
    expect(stale.name).toBe('PreconditionFailed');
    await s3.client.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: Buffer.from('v2'), IfMatch: put.ETag! }));
    const missing = await failure(s3.client.send(new PutObjectCommand({ Bucket, Key: 'nolock', Body: Buffer.from('x'), IfMatch: put.ETag! })));
    expect(missing.name).toBe('NoSuchKey');
    const wrongSum = createHash('sha256').update('other').digest('base64');
    const bad = await failure(s3.client.send(new PutObjectCommand({ Bucket, Key: 'sum', Body: Buffer.from('body'), ChecksumSHA256: wrongSum })));
    expect(bad.name).toBe('BadDigest');
    const sum = createHash('sha256').update('body').digest('base64');
    await s3.client.send(new PutObjectCommand({ Bucket, Key: 'sum', Body: Buffer.from('body'), ChecksumSHA256: sum, Metadata: { 'drillbook-sha256': 'abc' } }));
    const head = await s3.client.send(new HeadObjectCommand({ Bucket, Key: 'sum', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumSHA256).toBe(sum);
    expect(head.Metadata).toEqual({ 'drillbook-sha256': 'abc' });
    const notFound = await failure(s3.client.send(new HeadObjectCommand({ Bucket, Key: 'absent' })));
    expect(notFound.$metadata.httpStatusCode).toBe(404);
    const noKey = await failure(s3.client.send(new GetObjectCommand({ Bucket, Key: 'absent' })));
    expect(noKey.name).toBe('NoSuchKey');
  });

  it('lists with prefix, start-after and continuation tokens, in key order', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `list/${String(i).padStart(4, '0')}.json`).reverse();
    for (const Key of keys) await s3.client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(Key) }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.client.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', MaxKeys: 10, ...(token ? { ContinuationToken: token } : {}) }));
      pages++;
      seen.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual([...keys].reverse());
    const after = await s3.client.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', StartAfter: 'list/0020.json' }));
    expect(after.Contents!.map((object) => object.Key)).toEqual(['list/0021.json', 'list/0022.json', 'list/0023.json', 'list/0024.json']);
    await s3.client.send(new DeleteObjectCommand({ Bucket, Key: 'list/0024.json' }));
    const afterDelete = await s3.client.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', StartAfter: 'list/0022.json' }));
    expect(afterDelete.Contents!.map((object) => object.Key)).toEqual(['list/0023.json']);
  });

  it('lets exactly one of many concurrent If-None-Match writers win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => s3.client.send(new PutObjectCommand({ Bucket, Key: 'race', Body: Buffer.from(`w${i}`), IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
