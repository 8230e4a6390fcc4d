/**
 * Where evidence is read from: a local evidence directory or an S3 store
 * (`s3://bucket/prefix`, the layout `run --evidence s3://…` uploads; docs/infra.md). One
 * small interface, so `coverage`, `site`, `remediation list/export` and `report` read both
 * the same way and none of them talks to S3 itself.
 *
 * S3 is read in place: objects are fetched one at a time into memory (evidence files are a
 * few KiB) by the lean reader of s3-http.ts, at most `concurrency` requests in flight
 * (p-limit), and the run directories are found with a delimited ListObjectsV2 (one page per
 * 1000 runs). Nothing is written to disk.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { EvidenceError, RUN_FILE, parseRunRecord, readOptional } from '../evidence-files.js';
import type { RunRecord } from '../run-record.js';
import { describeEvidenceTarget, parseEvidenceTarget } from '../upload-s3.js';
import { defaultS3Client } from './s3-client.js';
import { s3ObjectReader } from './s3-http.js';
import { S3_LEDGER_PREFIX, s3Key, type S3Location } from './s3-ledger.js';
import { S3_LOCKS_PREFIX } from './s3-lock.js';
import type { EvidenceSource } from './source-type.js';

export type { EvidenceSource } from './source-type.js';

export const isS3Location = (location: string): boolean => /^s3:\/\//i.test(location.trim());

/** A local evidence directory (existence is the caller's check: its messages name the flag). */
export function localEvidenceSource(evidenceDir: string): EvidenceSource {
  return {
    kind: 'local',
    where: evidenceDir,
    locate: (relativePath) => path.join(evidenceDir, ...relativePath.split('/')),
    listRunDirs: async () => {
      const entries = await readdir(evidenceDir, { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name).sort();
    },
    read: (relativePath) => readOptional(path.join(evidenceDir, ...relativePath.split('/'))),
    close: () => {},
  };
}

export interface S3SourceOptions {
  /** Default: the CLI's client (standard credential chain; AWS_ENDPOINT_URL_S3 for a compatible endpoint). */
  client?: S3Client;
  /** Requests in flight at most (default 16). */
  concurrency?: number;
}

/** Top-level prefixes of a store that are not runs: the shared chain and the locks. */
const NOT_RUNS = new Set([S3_LEDGER_PREFIX, S3_LOCKS_PREFIX]);

/**
 * An S3 store, checked before it is read: a bucket that does not exist, cannot be reached, or
 * holds nothing under the prefix is an EvidenceError naming the location (the CLI exits 2),
 * never an empty report.
 */
export async function openS3EvidenceSource(location: S3Location, options: S3SourceOptions = {}): Promise<EvidenceSource> {
  const client = options.client ?? defaultS3Client();
  const ownsClient = options.client === undefined;
  const where = describeEvidenceTarget({ kind: 's3', ...location });
  const limit = pLimit(options.concurrency ?? 16);
  const failed = (what: string, error: unknown): EvidenceError => {
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    if (e.name === 'NoSuchBucket') return new EvidenceError(`${where}: there is no bucket ${location.bucket} (check the name in s3://bucket/prefix)`, { cause: error });
    if (e.name === 'AccessDenied' || status === 403) return new EvidenceError(`${where}: access denied ${what} (the credentials need s3:ListBucket and s3:GetObject on it)`, { cause: error });
    return new EvidenceError(`${where}: cannot read ${what}: ${e.message ?? String(error)}`, { cause: error });
  };
  const list = async (prefix: string, delimiter: boolean, maxKeys?: number) => {
    const names: { keys: string[]; prefixes: string[] } = { keys: [], prefixes: [] };
    let token: string | undefined;
    do {
      const page = await client
        .send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: prefix,
            ...(delimiter ? { Delimiter: '/' } : {}),
            ...(maxKeys ? { MaxKeys: maxKeys } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
        .catch((error: unknown) => {
          throw failed(`(listing ${prefix || 'the bucket'})`, error);
        });
      for (const object of page.Contents ?? []) if (object.Key) names.keys.push(object.Key);
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) names.prefixes.push(common.Prefix);
      token = page.IsTruncated && !maxKeys ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  };
  const base = location.prefix === '' ? '' : `${location.prefix}/`;
  try {
    const probe = await list(base, false, 1);
    if (probe.keys.length === 0) {
      throw new EvidenceError(`${where}: no objects under this prefix; give the s3:// location runs were uploaded to (\`drillbook run --evidence s3://bucket/prefix\`)`);
    }
  } catch (error) {
    if (ownsClient) client.destroy();
    throw error;
  }
  const concurrency = options.concurrency ?? 16;
  const reader = s3ObjectReader(client, location.bucket, concurrency);
  return {
    kind: 's3',
    where,
    locate: (relativePath) => `${where}/${relativePath}`,
    listRunDirs: async () => {
      const { prefixes } = await list(base, true);
      return prefixes
        .map((prefix) => prefix.slice(base.length, -1))
        .filter((name) => name !== '' && !name.startsWith('.') && !NOT_RUNS.has(name))
        .sort();
    },
    read: (relativePath) =>
      limit(async () => {
        try {
          return await reader.get(s3Key(location, relativePath));
        } catch (error) {
          throw failed(`s3://${location.bucket}/${s3Key(location, relativePath)}`, error);
        }
      }),
    close: () => {
      reader.close();
      if (ownsClient) client.destroy();
    },
  };
}

/** The RunRecord of run directory `dir` of a source (EvidenceError when missing or not one). */
export async function readRunRecordFrom(source: EvidenceSource, dir: string): Promise<RunRecord> {
  const file = source.locate(`${dir}/${RUN_FILE}`);
  const text = await source.read(`${dir}/${RUN_FILE}`);
  if (text === undefined) throw new EvidenceError(`${file} not found: is ${source.locate(dir)} a drillbook run directory?`);
  return parseRunRecord(text.toString('utf8'), file);
}

/**
 * `location` as a source: `s3://bucket/prefix` → S3 (checked, see openS3EvidenceSource), anything
 * else → a directory, which must exist (an EvidenceError naming `flag` otherwise).
 */
export async function openEvidenceSource(location: string, options: S3SourceOptions & { flag?: string } = {}): Promise<EvidenceSource> {
  const target = parseEvidenceTarget(location);
  if (target.kind === 's3') return openS3EvidenceSource({ bucket: target.bucket, prefix: target.prefix }, options);
  const flag = options.flag ?? '--evidence';
  const info = await stat(target.dir).catch(() => undefined);
  if (!info) throw new EvidenceError(`${flag} ${target.dir}: no such directory (where \`drillbook run\` wrote its evidence; default ./evidence)`);
  if (!info.isDirectory()) throw new EvidenceError(`${flag} ${target.dir}: not a directory`);
  return localEvidenceSource(target.dir);
}
