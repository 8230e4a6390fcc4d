/**
 * Appends to the few S3 evidence objects that grow: `<run dir>/signoffs.jsonl` and
 * `remediation.jsonl`. Each append is a conditional replace of the whole object: read it with
 * its ETag, write the old bytes plus the new line with `If-Match: <ETag>` (or
 * `If-None-Match: *` when it does not exist yet), so two runners never lose each other's
 * lines; a 412 re-reads and retries, bounded. The new text must start with the old bytes: an
 * append never rewrites a line. (Under Object Lock with versioning every earlier version is
 * kept as well.) Each appended line is then recorded in the shared ledger chain
 * (s3-ledger.ts): a sign-off line by its hash, the register by the `registerHead` of the
 * next ledger line.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EvidenceError, MANIFEST_FILE, sha256Hex } from '../evidence-files.js';
import { REMEDIATION_FILE, chainEvents, chainLines, checkRegisterText, readEvents, type OpenedEvent, type RegisterEvent } from '../remediation-events.js';
import { registerOfText } from '../remediation-items.js';
import type { RegisterStore } from '../remediation.js';
import { SIGNOFFS_FILE } from '../signing.js';
import { appendS3Ledger, isNoSuchKey, s3Key, type S3LedgerAppendResult, type S3Location } from './s3-ledger.js';
import type { LedgerAppendOptions, RegisterHead } from './ledger.js';

interface Current {
  text: string;
  etag: string | undefined;
}

async function readCurrent(client: S3Client, location: S3Location, relativePath: string): Promise<Current> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: s3Key(location, relativePath) }));
    return { text: (await response.Body?.transformToString('utf8')) ?? '', etag: response.ETag };
  } catch (error) {
    if (isNoSuchKey(error)) return { text: '', etag: undefined };
    throw error;
  }
}

const lostRace = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 412 || e.$metadata?.httpStatusCode === 409;
};

/**
 * Append to `<prefix>/<relativePath>`: `compose(current text)` returns the text to add (it
 * may return '' for nothing to do). Retried from a fresh read when another writer went first.
 */
export async function appendS3Object(
  client: S3Client,
  location: S3Location,
  relativePath: string,
  compose: (current: string) => string,
  options: { maxAttempts?: number; backoffMs?: number } = {},
): Promise<{ before: string; added: string }> {
  const maxAttempts = options.maxAttempts ?? 40;
  let backoffMs = options.backoffMs ?? 20;
  const where = `s3://${location.bucket}/${s3Key(location, relativePath)}`;
  for (let attempt = 1; ; attempt++) {
    const current = await readCurrent(client, location, relativePath);
    if (current.text !== '' && !current.text.endsWith('\n')) throw new EvidenceError(`${where} ends with an incomplete line; run \`drillbook verify\``);
    const added = compose(current.text);
    if (added === '') return { before: current.text, added };
    const body = Buffer.from(current.text + added);
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: s3Key(location, relativePath),
          Body: body,
          ContentType: 'application/x-ndjson',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: Buffer.from(sha256Hex(body), 'hex').toString('base64'),
          ...(current.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: current.etag }),
        }),
      );
      return { before: current.text, added };
    } catch (error) {
      // 404 on If-Match: the object was removed since we read it; re-read like a lost race.
      if (!lostRace(error) && !(current.etag !== undefined && isNoSuchKey(error))) throw new EvidenceError(`appending to ${where} failed: ${(error as Error).message}`, { cause: error });
      if (attempt >= maxAttempts) throw new EvidenceError(`gave up appending to ${where} after ${attempt} attempts: other writers kept changing it`);
      await sleep(backoffMs * (0.5 + Math.random()));
      backoffMs = Math.min(backoffMs * 2, 1000);
    }
  }
}

/** The register in S3 as a ledger line anchors it (see ledger.ts); undefined without one. */
export async function readS3RegisterHead(client: S3Client, location: S3Location): Promise<RegisterHead | undefined> {
  const { text } = await readCurrent(client, location, REMEDIATION_FILE);
  const end = text.lastIndexOf('\n');
  if (end < 0) return undefined;
  const lines = text.slice(0, end).split('\n');
  return { lines: lines.length, sha256: sha256Hex(lines[lines.length - 1]!) };
}

/**
 * Append remediation events to the store's one register, chained to its last line in S3 (not
 * to a runner's local copy). The next ledger line of any runner (a run, a sign-off) anchors
 * the register as it then stands (`registerHead`).
 */
export async function appendS3RemediationEvents(client: S3Client, location: S3Location, events: RegisterEvent[]): Promise<string[]> {
  const { added } = await appendS3Object(client, location, REMEDIATION_FILE, (current) => {
    return chainEvents(events, checkRegisterText(current).head).join('');
  });
  return added.split('\n').filter((line) => line !== '');
}

/**
 * The store's register as a RegisterStore (remediation.ts): `remediation update/close/reopen
 * --evidence s3://…` append their events by conditional replace, each chained to the last
 * line S3 holds, as a local append chains to the file's last line.
 */
export function s3RegisterStore(client: S3Client, location: S3Location): RegisterStore {
  return {
    dir: undefined,
    read: async (opts) => {
      const { text } = await readCurrent(client, location, REMEDIATION_FILE);
      return registerOfText(text, `s3://${location.bucket}/${s3Key(location, REMEDIATION_FILE)}`, opts);
    },
    append: async <T>(prepare: (events: RegisterEvent[]) => { lines: string[]; result: T }) => {
      let result: T | undefined;
      await appendS3Object(client, location, REMEDIATION_FILE, (current) => {
        const check = checkRegisterText(current);
        const prepared = prepare(check.events);
        result = prepared.result;
        return chainLines(prepared.lines, check.head).join('');
      });
      return result as T;
    },
  };
}

/**
 * Upload the sign-offs of a run (its local `signoffs.jsonl`, written by `drillbook signoff`)
 * that S3 does not hold yet, and record each in the shared ledger chain. The S3 file must be
 * a prefix of the local one: a sign-off added elsewhere in the meantime is refused (its
 * chain would fork), never overwritten.
 */
export async function uploadS3Signoffs(
  client: S3Client,
  location: S3Location,
  runDir: string,
  options: Pick<LedgerAppendOptions, 'now' | 'signingKey'> = {},
): Promise<S3LedgerAppendResult[]> {
  const dir = path.basename(path.resolve(runDir));
  const local = await readFile(path.join(runDir, SIGNOFFS_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new EvidenceError(`${path.join(runDir, SIGNOFFS_FILE)} is missing: no sign-off to upload`);
    throw error;
  });
  if (!local.endsWith('\n')) throw new EvidenceError(`${path.join(runDir, SIGNOFFS_FILE)} ends with an incomplete line`);
  const manifestText = await readCurrent(client, location, `${dir}/${MANIFEST_FILE}`);
  if (manifestText.etag === undefined) throw new EvidenceError(`s3://${location.bucket}/${s3Key(location, dir, MANIFEST_FILE)} is missing: upload the run before its sign-offs`);
  const manifestSha256 = sha256Hex(manifestText.text);
  let runId: string;
  try {
    runId = String((JSON.parse(manifestText.text) as { runId?: unknown }).runId ?? dir);
  } catch {
    throw new EvidenceError(`s3://${location.bucket}/${s3Key(location, dir, MANIFEST_FILE)} is not valid JSON`);
  }
  const { added } = await appendS3Object(client, location, `${dir}/${SIGNOFFS_FILE}`, (current) => {
    if (!local.startsWith(current)) {
      throw new EvidenceError(`s3://${location.bucket}/${s3Key(location, dir, SIGNOFFS_FILE)} holds sign-offs that ${path.join(runDir, SIGNOFFS_FILE)} does not: fetch them first, a sign-off chain is never forked`);
    }
    return local.slice(current.length);
  });
  const results: S3LedgerAppendResult[] = [];
  for (const line of added.split('\n').filter((text) => text !== '')) {
    const registerHead = await readS3RegisterHead(client, location);
    results.push(
      await appendS3Ledger(client, location, { kind: 'signoff', runId, dir, manifestSha256, signoffSha256: sha256Hex(line) }, { ...options, registerHead }),
    );
  }
  return results;
}

/**
 * The items a run opened in its runner's staging register (recordRunItems), into the store's
 * register: items S3 already holds for this run are skipped (a retried upload adds nothing),
 * an id another runner took meanwhile is qualified with the run as recordRunItems does.
 * Returns the ids written. Called before the run's ledger line, which then anchors them.
 */
export async function uploadRunRemediation(client: S3Client, location: S3Location, stagingDir: string, runId: string): Promise<string[]> {
  const local = (await readEvents(stagingDir)).events.filter((event): event is OpenedEvent => event.type === 'opened' && event.runId === runId);
  if (local.length === 0) return [];
  const written: string[] = [];
  await appendS3Object(client, location, REMEDIATION_FILE, (current) => {
    written.length = 0;
    const check = checkRegisterText(current);
    const opened = check.events.filter((event): event is OpenedEvent => event.type === 'opened');
    const taken = new Set(opened.map((event) => event.id));
    const recorded = new Set(opened.filter((event) => event.runId === runId).map((event) => event.item.id));
    const suffix = runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
    const events: RegisterEvent[] = [];
    for (const event of local) {
      if (recorded.has(event.item.id)) continue;
      let id = event.item.id;
      if (taken.has(id)) id = `${event.item.id}@${suffix}`;
      for (let n = 2; taken.has(id); n++) id = `${event.item.id}@${suffix}-${n}`;
      taken.add(id);
      written.push(id);
      events.push({ ...event, id });
    }
    return chainEvents(events, check.head).join('');
  });
  return [...written];
}
