/**
 * `verify s3://bucket/prefix`: the S3 ledger (one object per line, s3-ledger.ts) checked
 * object by object with bounded concurrency, nothing downloaded but the ledger lines and the
 * few small files each line is checked against (manifest.json, signer key, sign-offs, the
 * register). The same checks as for a local ledger.jsonl (verifyLedgerLines), plus the
 * object layer: a sequence number with no object (a removed line), an object that is not
 * exactly one line.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { getObjectText, isNoSuchKey, ledgerLineKey, listLedgerKeys, s3Key, type S3Location } from './s3-ledger.js';
import { verifyLedgerLines, type EvidenceObjects, type LedgerProblem, type LedgerVerification, type LedgerVerifyOptions } from './verify-ledger.js';

/** Objects of the store read with GetObject, `<prefix>/<relative path>`. */
export function s3EvidenceObjects(client: S3Client, location: S3Location, concurrency = 16): EvidenceObjects {
  const limit = pLimit(concurrency);
  return {
    read: (relativePath) =>
      limit(() => getObjectBytes(client, location, relativePath)),
  };
}

async function getObjectBytes(client: S3Client, location: S3Location, relativePath: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: s3Key(location, relativePath) }));
    return Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
  } catch (error) {
    if (isNoSuchKey(error)) return undefined;
    throw error;
  }
}

export async function verifyS3Ledger(
  client: S3Client,
  location: S3Location,
  options: LedgerVerifyOptions & { concurrency?: number } = {},
): Promise<LedgerVerification> {
  const concurrency = options.concurrency ?? 16;
  const where = `s3://${location.bucket}/${s3Key(location, 'ledger')}/`;
  const keys = await listLedgerKeys(client, location);
  const problems: LedgerProblem[] = [];
  const last = keys[keys.length - 1]?.seq ?? 0;
  const bySeq = new Map(keys.map((entry) => [entry.seq, entry.key]));
  const limit = pLimit(concurrency);
  const lines = await Promise.all(
    Array.from({ length: last }, (_, index) => {
      const seq = index + 1;
      const key = bySeq.get(seq);
      if (key === undefined) {
        problems.push({ line: seq, message: `line ${seq} is missing: there is no object ${keyName(seq)} (it was removed)` });
        return Promise.resolve(null);
      }
      return limit(async () => {
        const body = await getObjectText(client, location.bucket, key);
        if (body === undefined) {
          problems.push({ line: seq, message: `line ${seq} is missing: ${keyName(seq)} was removed while verifying` });
          return null;
        }
        if (!body.endsWith('\n') || body.indexOf('\n') !== body.length - 1) {
          problems.push({ line: seq, message: `line ${seq}: ${keyName(seq)} is not one line ending with a newline (it was cut or edited)` });
          return body.endsWith('\n') ? body.slice(0, -1) : body;
        }
        return body.slice(0, -1);
      });
    }),
  );
  return verifyLedgerLines(lines, where, s3EvidenceObjects(client, location, concurrency), options, problems);
}

function keyName(seq: number): string {
  return ledgerLineKey({ bucket: '', prefix: '' }, seq);
}
