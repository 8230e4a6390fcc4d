/**
 * The S3 client of the CLI: the SDK's standard credential and region chain, its standard
 * retries. An S3-compatible endpoint (MinIO, a test fake) is taken from the SDK's own
 * `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` variables, and is then addressed path-style
 * (bucket in the path), which such endpoints expect.
 */
import { S3Client } from '@aws-sdk/client-s3';

export function defaultS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const customEndpoint = (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? '') !== '';
  return new S3Client({ followRegionRedirects: true, retryMode: 'standard', maxAttempts: 3, ...(customEndpoint ? { forcePathStyle: true } : {}) });
}
