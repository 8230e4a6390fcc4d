/**
 * One fake S3 server and real S3 client per test file: started before the file's tests, closed after them.
 * Kept apart from fake-s3.ts, which child processes import without vitest.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { startFakeS3, type FakeS3 } from './fake-s3.js';

export interface FakeS3Suite {
  /** The running fake (its buckets are the ground truth a test reads back). */
  readonly fake: FakeS3;
  /** A real AWS SDK client pointed at the fake. */
  readonly client: S3Client;
}

/** Registers beforeAll/afterAll hooks; read `fake` and `client` only inside tests or later hooks. */
export function useFakeS3(buckets: string[]): FakeS3Suite {
  let fake: FakeS3 | undefined;
  let client: S3Client | undefined;
  beforeAll(async () => {
    fake = await startFakeS3({ buckets });
    client = fake.client();
  });
  afterAll(async () => {
    client?.destroy();
    await fake?.close();
  });
  return {
    get fake() {
      if (!fake) throw new Error('the fake S3 is not started yet (read it inside a test)');
      return fake;
    },
    get client() {
      if (!client) throw new Error('the fake S3 client is not made yet (read it inside a test)');
      return client;
    },
  };
}
