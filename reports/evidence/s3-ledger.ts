/**
 * One ledger chain per S3 evidence store, shared by every runner (CronJobs, CI, laptops).
 *
 * Each line is its own object, `<prefix>/ledger/<seq, 12 digits>.json`, whose body is the
 * exact line and a newline (so the objects in key order, concatenated, are a ledger.jsonl that
 * `verify` checks like a local one). A line is created with `If-None-Match: *`: two runners
 * can never take the same sequence number. The loser of a race reads the winner's line (the
 * object it collided with), chains to it and tries the next number, with jittered backoff and
 * a bound. A runner killed mid-write leaves nothing: a PutObject either stores the whole
 * object or none of it. Lines use the one format of ledger.ts (composeLedgerLine).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { EvidenceError, sha256Hex } from '../evidence-files.js';
import { LEDGER_GENESIS, composeLedgerLine, positionAfter, type LedgerAppendOptions, type LedgerEntry, type LedgerFields, type RegisterHead } from './ledger.js';

export const S3_LEDGER_PREFIX = 'ledger';
/** Digits of the sequence number in a line's key: keys sort as numbers do. */
export const S3_LEDGER_SEQ_DIGITS = 12;
const LINE_KEY = /^(\d{12})\.json$/;

export interface S3Location {
  bucket: string;
  /** Without a trailing slash; '' for the bucket's root. */
  prefix: string;
}

export function s3Key(location: S3Location, ...parts: string[]): string {
  return [location.prefix, ...parts].filter((part) => part !== '').join('/');
}

export function ledgerLineKey(location: S3Location, seq: number): string {
  return s3Key(location, S3_LEDGER_PREFIX, `${String(seq).padStart(S3_LEDGER_SEQ_DIGITS, '0')}.json`);
}

/** The sequence number a key names, or undefined for any other object under ledger/. */
export function seqOfLedgerKey(location: S3Location, key: string): number | undefined {
  const base = s3Key(location, S3_LEDGER_PREFIX);
  if (!key.startsWith(`${base}/`)) return undefined;
  const match = LINE_KEY.exec(key.slice(base.length + 1));
  return match ? Number(match[1]) : undefined;
}

export interface S3LedgerAppendOptions extends Pick<LedgerAppendOptions, 'now' | 'signingKey'> {
  /** The remediation register's head to anchor in the line (see ledger.ts). */
  registerHead?: RegisterHead | undefined;
  /** Attempts before giving up on a contended ledger (default 40). */
  maxAttempts?: number;
  /** First backoff after a lost race; doubles up to 1 s, with jitter (default 20 ms). */
  backoffMs?: number;
}

export interface S3LedgerAppendResult {
  entry: LedgerEntry;
  key: string;
  /** Conditional writes it took (1: no race lost). */
  attempts: number;
}

interface S3Error {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}
const isPreconditionFailed = (error: unknown) => (error as S3Error).name === 'PreconditionFailed' || (error as S3Error).$metadata?.httpStatusCode === 412;
const isConflict = (error: unknown) => (error as S3Error).name === 'ConditionalRequestConflict' || (error as S3Error).$metadata?.httpStatusCode === 409;
export const isNoSuchKey = (error: unknown) =>
  (error as S3Error).name === 'NoSuchKey' || (error as S3Error).name === 'NotFound' || (error as S3Error).$metadata?.httpStatusCode === 404;

/** Every line key under `<prefix>/ledger/`, in order, as { seq, key } (one ListObjectsV2 page per 1000). */
export async function listLedgerKeys(client: S3Client, location: S3Location, startAfterSeq = 0): Promise<{ seq: number; key: string }[]> {
  const keys: { seq: number; key: string }[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: location.bucket,
        Prefix: `${s3Key(location, S3_LEDGER_PREFIX)}/`,
        ...(token ? { ContinuationToken: token } : startAfterSeq > 0 ? { StartAfter: ledgerLineKey(location, startAfterSeq) } : {}),
      }),
    );
    for (const object of page.Contents ?? []) {
      const seq = object.Key === undefined ? undefined : seqOfLedgerKey(location, object.Key);
      if (seq !== undefined) keys.push({ seq, key: object.Key! });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** An object's body, or undefined when there is no such key. */
export async function getObjectText(client: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await response.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    if (isNoSuchKey(error)) return undefined;
    throw error;
  }
}

/** The exact line text of an object body (which must be one line and its newline). */
function lineOfBody(body: string, where: string): string {
  if (!body.endsWith('\n') || body.indexOf('\n') !== body.length - 1) {
    throw new EvidenceError(`${where} is not one ledger line ending with a newline; run \`drillbook verify\``);
  }
  return body.slice(0, -1);
}

/**
 * The position after the ledger's last line: seq and prev. `knownSeq` (a line this process
 * saw) lets the listing start there instead of at the first line.
 */
export async function readS3LedgerHead(client: S3Client, location: S3Location, knownSeq = 0): Promise<{ seq: number; prev: string }> {
  const keys = await listLedgerKeys(client, location, Math.max(0, knownSeq - 1));
  const last = keys[keys.length - 1];
  if (last === undefined) {
    if (knownSeq > 1) return readS3LedgerHead(client, location, 0);
    return { seq: 1, prev: LEDGER_GENESIS };
  }
  return positionOfObject(client, location, last.seq, last.key);
}

async function positionOfObject(client: S3Client, location: S3Location, seq: number, key: string): Promise<{ seq: number; prev: string }> {
  const where = `s3://${location.bucket}/${key}`;
  const body = await getObjectText(client, location.bucket, key);
  if (body === undefined) throw new EvidenceError(`${where} was listed but is gone: ledger objects must never be deleted; run \`drillbook verify\``);
  const position = positionAfter(lineOfBody(body, where), where);
  if (position.seq !== seq + 1) throw new EvidenceError(`${where} records seq ${position.seq - 1}, not ${seq}; run \`drillbook verify\``);
  return position;
}

/**
 * Append one line to the S3 ledger: read the head, write the next sequence number with
 * `If-None-Match: *`; on 412 (another runner took it) chain to that runner's line and try the
 * next number. 409 (a concurrent conditional write still in progress) is retried at the same
 * number. Throws an EvidenceError after `maxAttempts`.
 */
export async function appendS3Ledger(
  client: S3Client,
  location: S3Location,
  fields: LedgerFields,
  options: S3LedgerAppendOptions = {},
): Promise<S3LedgerAppendResult> {
  const maxAttempts = options.maxAttempts ?? 40;
  let backoffMs = options.backoffMs ?? 20;
  let position = await readS3LedgerHead(client, location);
  for (let attempt = 1; ; attempt++) {
    const { entry, line } = composeLedgerLine(fields, position, options.registerHead, options);
    const key = ledgerLineKey(location, position.seq);
    const body = Buffer.from(`${line}\n`);
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: Buffer.from(sha256Hex(body), 'hex').toString('base64'),
          IfNoneMatch: '*',
        }),
      );
      return { entry, key, attempts: attempt };
    } catch (error) {
      const lost = isPreconditionFailed(error);
      if (!lost && !isConflict(error)) {
        throw new EvidenceError(`appending line ${position.seq} to s3://${location.bucket}/${s3Key(location, S3_LEDGER_PREFIX)}/ failed: ${(error as Error).message}`, { cause: error });
      }
      if (attempt >= maxAttempts) {
        throw new EvidenceError(
          `gave up appending to the ledger s3://${location.bucket}/${s3Key(location, S3_LEDGER_PREFIX)}/ after ${attempt} attempts: other runners kept taking the next sequence number (last tried ${position.seq})`,
        );
      }
      await sleep(backoffMs * (0.5 + Math.random()));
      backoffMs = Math.min(backoffMs * 2, 1000);
      if (lost) {
        // The winner's line is there now (S3 is strongly consistent): chain to it, or to a
        // later one if more runners went ahead meanwhile.
        position = await readS3LedgerHead(client, location, position.seq);
      }
    }
  }
}
