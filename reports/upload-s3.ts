/**
 * Evidence in S3: where `--evidence` points (a local directory or `s3://bucket/prefix`) and
 * the upload of a finished bundle, so evidence lands somewhere nobody can quietly edit.
 *
 * The bundle is written and finalized locally first (a staging directory), exactly as for
 * local evidence; then every file goes up with the manifest's sha256 as the object's
 * `ChecksumSHA256`, so S3 itself refuses a file that changed on the way. `manifest.json` goes
 * after every file it lists and the run's ledger line last: a reader who finds the ledger
 * object knows the bundle is complete. Keys are never overwritten (`If-None-Match: *`).
 *
 * Credentials and region come from the AWS SDK's standard provider chain (environment,
 * shared config/SSO, web identity — IRSA on EKS —, container and instance metadata).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { EXPORTS_DIR, EvidenceError, MANIFEST_FILE, isTempFileName, listFilesRecursive, sha256Hex } from './evidence-files.js';
import { LEDGER_FILE, parseLedgerLine } from './evidence/ledger.js';
import type { Manifest } from './evidence/manifest.js';
import { verifyBundle } from './evidence/verify-bundle.js';

export type EvidenceTarget = { kind: 'local'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

export type ObjectLockRetention = { mode: 'COMPLIANCE' | 'GOVERNANCE'; days: number };

export interface UploadOptions {
  /** Defaults to `new S3Client({ followRegionRedirects: true })` (standard credential chain, SDK standard retries). */
  client?: S3Client;
  /**
   * Per-object retention. Without it the bucket's default Object Lock retention applies (the
   * Pulumi program in infra/ sets one in COMPLIANCE mode), and a bucket without a default
   * keeps the objects unlocked.
   */
  retention?: ObjectLockRetention;
  /** Wall clock for the retain-until date; tests pass a fixed one. */
  now?: () => Date;
  /**
   * `chain` (what `run --evidence s3://…` uses): instead of a per-run `ledger/<run dir>.jsonl`
   * copy of the staging ledger's line, append the run to the store's one shared chain,
   * `ledger/<seq>.json` (s3-ledger.ts), signed with `signingKey` (the key that signed the bundle).
   */
  ledger?: 'per-run' | 'chain';
  signingKey?: import('node:crypto').KeyObject | undefined;
  /** The pause between retries of a 409 conflict; tests pass a short one. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * S3 answers a conditional write (`If-None-Match: *`) that races another write of the same
 * key with 409 ConditionalRequestConflict, and says to retry it; the SDK's retry strategy does
 * not (a 409 is not transient to it). Retried here a bounded number of times with exponential
 * backoff and jitter. After the other writer won, the retry gets 412 (the key exists): final.
 */
export const CONFLICT_RETRY = { attempts: 5, initialMs: 200, maxMs: 5_000 } as const;

function isConditionalConflict(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'ConditionalRequestConflict' || e?.$metadata?.httpStatusCode === 409;
}

async function sendWithConflictRetry(send: () => Promise<unknown>, sleep: (ms: number) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (error) {
      if (!isConditionalConflict(error) || attempt >= CONFLICT_RETRY.attempts) throw error;
      const base = Math.min(CONFLICT_RETRY.maxMs, CONFLICT_RETRY.initialMs * 2 ** (attempt - 1));
      await sleep(base / 2 + Math.random() * (base / 2));
    }
  }
}

export interface UploadResult {
  /**
   * `s3://bucket/key` of every object written, in upload order: the files the manifest lists,
   * manifest.json, the files that accompany it (SHA256SUMS, signatures), the ledger line last.
   */
  objects: string[];
}

/** Objects under the prefix: `<prefix>/<run dir>/<file>` and `<prefix>/ledger/<run dir>.jsonl`. */
export const S3_LEDGER_DIR = 'ledger';

const MAX_RETENTION_DAYS = 36_500;

/**
 * `s3://bucket/prefix` → an S3 target; anything without a `scheme://` → a local directory.
 * Throws an EvidenceError that says what is wrong with the value.
 */
export function parseEvidenceTarget(value: string): EvidenceTarget {
  const trimmed = value.trim();
  if (trimmed === '') throw new EvidenceError('--evidence is empty: give a directory or s3://bucket/prefix');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
  if (!scheme) return { kind: 'local', dir: value };
  if (scheme[1]!.toLowerCase() !== 's3') {
    throw new EvidenceError(`unsupported evidence location "${value}": use a local directory or s3://bucket/prefix`);
  }
  const rest = trimmed.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const rawPrefix = slash === -1 ? '' : rest.slice(slash + 1);
  const bucketProblem = s3BucketNameProblem(bucket);
  if (bucketProblem) throw new EvidenceError(`invalid S3 bucket in "${value}": ${bucketProblem}`);
  const prefix = rawPrefix.replace(/\/+$/, '');
  const prefixProblem = s3PrefixProblem(prefix);
  if (prefixProblem) throw new EvidenceError(`invalid S3 prefix in "${value}": ${prefixProblem}`);
  return { kind: 's3', bucket, prefix };
}

/** `s3://bucket/prefix` (or the directory) for messages. */
export function describeEvidenceTarget(target: EvidenceTarget): string {
  return target.kind === 'local' ? target.dir : `s3://${target.bucket}${target.prefix === '' ? '' : `/${target.prefix}`}`;
}

/** Why `bucket` is not a valid S3 bucket name (general purpose buckets), or undefined. */
export function s3BucketNameProblem(bucket: string): string | undefined {
  if (bucket === '') return 'the bucket name is missing (s3://bucket/prefix)';
  if (bucket.length < 3 || bucket.length > 63) return `"${bucket}" must be 3 to 63 characters long`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket)) {
    return `"${bucket}" may hold only lowercase letters, digits, '.' and '-', and must start and end with a letter or digit`;
  }
  if (bucket.includes('..')) return `"${bucket}" must not contain two adjacent periods`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return `"${bucket}" must not look like an IP address`;
  return undefined;
}

function s3PrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  if (/[\u0000-\u001f\u007f\\]/.test(prefix)) return 'it contains a control character or a backslash';
  const parts = prefix.split('/');
  if (parts.some((part) => part === '')) return 'it contains an empty path segment (//)';
  if (parts.some((part) => part === '.' || part === '..')) return 'it contains a "." or ".." segment';
  if (Buffer.byteLength(prefix) > 512) return 'it is longer than 512 bytes';
  return undefined;
}

function objectKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].filter((part) => part !== '').join('/');
}

/** sha256 hex (as in the manifest) → the base64 form S3's `x-amz-checksum-sha256` takes. */
export function sha256HexToBase64(hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new EvidenceError(`"${hex}" is not a sha256 hex digest`);
  return Buffer.from(hex, 'hex').toString('base64');
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.html': 'text/html; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
};

function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

interface PendingObject {
  /** For messages: the file as it is named in the bundle (or the ledger). */
  label: string;
  key: string;
  body: Buffer;
  sha256Hex: string;
}

/**
 * Upload one finalized run directory (`<staging evidence dir>/<run dir>`) to S3. The bundle
 * is verified against its manifest first (nothing is uploaded from a changed bundle), then
 * every listed file, `manifest.json`, the files that accompany it (SHA256SUMS, signatures)
 * and the run's line of the local `ledger.jsonl` go up in that order, each with its sha256
 * as the S3 checksum. Throws an EvidenceError naming the file on the first failure; objects
 * already written stay (they cannot be deleted under Object Lock anyway) and the missing
 * ledger object marks the upload as incomplete.
 */
export async function uploadBundle(runDir: string, target: EvidenceTarget, options: UploadOptions = {}): Promise<UploadResult> {
  if (target.kind !== 's3') throw new EvidenceError(`uploadBundle needs an s3:// target, got the directory ${target.dir}`);
  const retention = options.retention;
  if (retention !== undefined) {
    if (retention.mode !== 'COMPLIANCE' && retention.mode !== 'GOVERNANCE') {
      throw new EvidenceError(`Object Lock mode must be COMPLIANCE or GOVERNANCE, got ${JSON.stringify(retention.mode)}`);
    }
    if (!Number.isInteger(retention.days) || retention.days < 1 || retention.days > MAX_RETENTION_DAYS) {
      throw new EvidenceError(`Object Lock retention must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}, got ${retention.days}`);
    }
  }

  const dir = path.resolve(runDir);
  const runDirName = path.basename(dir);
  const collected = await collectObjects(dir, runDirName, target.prefix);
  // The chain line is written after the bundle, in place of the per-run ledger copy (last).
  const objects = options.ledger === 'chain' ? collected.slice(0, -1) : collected;

  // Transient failures (throttling, 5xx, timeouts) are retried by the SDK's own standard retry
  // mode with its backoff; a 409 conflict by sendWithConflictRetry. A refusal (412, 403) is final.
  const client = options.client ?? new S3Client({ followRegionRedirects: true, retryMode: 'standard', maxAttempts: 3 });
  const retainUntil =
    retention === undefined ? undefined : new Date((options.now?.() ?? new Date()).getTime() + retention.days * 86_400_000);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const uploaded: string[] = [];
  // One at a time, in order: the manifest must never be in S3 before a file it lists, nor the
  // ledger line before the manifest. Bundles are a handful of small files.
  for (const object of objects) {
    const input: PutObjectCommandInput = {
      Bucket: target.bucket,
      Key: object.key,
      Body: object.body,
      ContentType: contentType(object.key),
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha256HexToBase64(object.sha256Hex),
      IfNoneMatch: '*',
      Metadata: { 'drillbook-sha256': object.sha256Hex },
    };
    if (retention !== undefined && retainUntil !== undefined) {
      input.ObjectLockMode = retention.mode;
      input.ObjectLockRetainUntilDate = retainUntil;
    }
    try {
      await sendWithConflictRetry(() => client.send(new PutObjectCommand(input)), sleep);
    } catch (error) {
      throw new EvidenceError(
        `uploading ${object.label} to s3://${target.bucket}/${object.key} failed: ${describeS3Error(error)}` +
          (uploaded.length > 0 ? ` (${uploaded.length} earlier object(s) of this bundle were uploaded; the ledger object was not)` : ''),
        { cause: error },
      );
    }
    uploaded.push(`s3://${target.bucket}/${object.key}`);
  }
  if (options.ledger === 'chain') uploaded.push(await appendRunToS3Chain(client, target, dir, runDirName, options));
  return { objects: uploaded };
}

async function collectObjects(dir: string, runDirName: string, prefix: string): Promise<PendingObject[]> {
  const verification = await verifyBundle(dir);
  if (!verification.ok) {
    const parts = [
      ...verification.problems,
      ...verification.changed.map((file) => `${file} changed`),
      ...verification.missing.map((file) => `${file} is missing`),
      ...verification.unlisted.map((file) => `${file} is not in the manifest`),
    ];
    throw new EvidenceError(`refusing to upload ${dir}: it does not match its ${MANIFEST_FILE}: ${parts.join('; ')}`);
  }
  const manifestText = await readFile(path.join(dir, MANIFEST_FILE));
  const manifest = JSON.parse(manifestText.toString('utf8')) as Manifest;

  const objects: PendingObject[] = [];
  for (const entry of manifest.files) {
    const body = await readFile(path.join(dir, entry.path));
    // verifyBundle just checked it; re-check the bytes we actually send (the file could be
    // replaced in between) so S3's checksum refusal never is the first sign of a change.
    if (sha256Hex(body) !== entry.sha256) throw new EvidenceError(`${entry.path} changed while uploading ${dir}`);
    objects.push({ label: entry.path, key: objectKey(prefix, runDirName, entry.path), body, sha256Hex: entry.sha256 });
  }
  const manifestSha256 = sha256Hex(manifestText);
  objects.push({ label: MANIFEST_FILE, key: objectKey(prefix, runDirName, MANIFEST_FILE), body: manifestText, sha256Hex: manifestSha256 });

  // Files that accompany the manifest rather than being listed in it (SHA256SUMS, the
  // signatures over manifest.json): verifyBundle has checked them and refused anything
  // unexpected, so every other file of the bundle is one of these. They follow the manifest.
  const listed = new Set(manifest.files.map((entry) => entry.path));
  for (const relativePath of await listFilesRecursive(dir)) {
    if (relativePath === MANIFEST_FILE || listed.has(relativePath) || relativePath.startsWith(`${EXPORTS_DIR}/`)) continue;
    if (isTempFileName(path.posix.basename(relativePath))) continue;
    const body = await readFile(path.join(dir, relativePath));
    objects.push({ label: relativePath, key: objectKey(prefix, runDirName, relativePath), body, sha256Hex: sha256Hex(body) });
  }

  const ledgerLine = await findLedgerLine(path.dirname(dir), runDirName, manifestSha256);
  const ledgerBody = Buffer.from(`${ledgerLine}\n`);
  objects.push({
    label: `the ${LEDGER_FILE} line of ${runDirName}`,
    key: objectKey(prefix, S3_LEDGER_DIR, `${runDirName}.jsonl`),
    body: ledgerBody,
    sha256Hex: sha256Hex(ledgerBody),
  });
  return objects;
}

/** The run's line in the store's shared chain (after its bundle): `s3://…/ledger/<seq>.json`. */
async function appendRunToS3Chain(client: S3Client, target: { bucket: string; prefix: string }, dir: string, runDirName: string, options: UploadOptions): Promise<string> {
  const { appendS3Ledger } = await import('./evidence/s3-ledger.js');
  const { readS3RegisterHead } = await import('./evidence/s3-append.js');
  const manifestSha256 = sha256Hex(await readFile(path.join(dir, MANIFEST_FILE)));
  const local = parseLedgerLine(await findLedgerLine(path.dirname(dir), runDirName, manifestSha256))!;
  try {
    const { key } = await appendS3Ledger(client, target, { runId: local.runId, dir: runDirName, manifestSha256 }, {
      signingKey: options.signingKey,
      now: options.now,
      registerHead: await readS3RegisterHead(client, target),
    });
    return `s3://${target.bucket}/${key}`;
  } catch (error) {
    throw new EvidenceError(`the bundle of ${runDirName} was uploaded, but its ledger line was not: ${(error as Error).message}`, { cause: error });
  }
}

/** The last line of `<evidenceDir>/ledger.jsonl` for this run dir, which must record this manifest. */
async function findLedgerLine(evidenceDir: string, runDirName: string, manifestSha256: string): Promise<string> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  let text: string;
  try {
    text = await readFile(ledgerFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EvidenceError(`${ledgerFile} not found: upload a bundle only after it was finalized`);
    }
    throw error;
  }
  const line = text
    .split('\n')
    .map((candidate) => ({ candidate, entry: parseLedgerLine(candidate) }))
    // The run's own line, not a later sign-off line about the same run.
    .filter(({ entry }) => entry?.dir === runDirName && entry.kind === undefined)
    .pop();
  if (line === undefined) throw new EvidenceError(`${ledgerFile} has no line for ${runDirName}: upload a bundle only after it was finalized`);
  if (line.entry!.manifestSha256 !== manifestSha256) {
    throw new EvidenceError(`${ledgerFile}: the line for ${runDirName} records another manifest hash than its ${MANIFEST_FILE}`);
  }
  return line.candidate;
}

/** An S3 error as one sentence: the code S3 gave, with what it means where it is ours to explain. */
function describeS3Error(error: unknown): string {
  const named = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = named.$metadata?.httpStatusCode;
  const name = named.name ?? 'Error';
  if (name === 'PreconditionFailed' || status === 412) {
    return 'the object already exists, and drillbook never overwrites evidence';
  }
  if (name === 'ConditionalRequestConflict' || status === 409) {
    return `another write of the same object was in progress (409 ConditionalRequestConflict), still after ${CONFLICT_RETRY.attempts} attempts`;
  }
  if (name === 'BadDigest' || name === 'InvalidDigest') {
    return `S3 rejected the checksum: the bytes that arrived do not match the manifest's sha256 (${name})`;
  }
  if (name === 'AccessDenied' || status === 403) {
    return `access denied: the credentials in use need s3:PutObject (and s3:PutObjectRetention with a retention) on this prefix (${named.message ?? name})`;
  }
  if (name === 'NoSuchBucket') return 'the bucket does not exist';
  if (name === 'CredentialsProviderError') return `no AWS credentials found: ${named.message ?? ''}`.trim();
  const message = named.message && named.message !== name ? `: ${named.message}` : '';
  return `${name}${status === undefined ? '' : ` (HTTP ${status})`}${message}`;
}
