/**
 * `verify s3://bucket/prefix`: the S3 ledger (one object per line, s3-ledger.ts) checked
 * object by object with bounded concurrency, nothing downloaded but the ledger lines and the
 * few small files each line is checked against (manifest.json, signer key, sign-offs, the
 * register). The same checks as for a local ledger.jsonl (verifyLedgerLines), plus the
 * object layer: a sequence number with no object (a removed line), an object that is not
 * exactly one line.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { EvidenceError, MANIFEST_FILE, sha256Hex } from '../evidence-files.js';
import { REMEDIATION_FILE, checkRegisterText } from '../remediation-events.js';
import { LEDGER_FILE } from './ledger.js';
import type { EvidenceVerification, RunVerification, VerificationProblem } from './verify-evidence.js';
import pLimit from 'p-limit';
import { s3ObjectReader, type S3ObjectReader } from './s3-http.js';
import { ledgerLineKey, listLedgerKeys, s3Key, type S3Location } from './s3-ledger.js';
import { verifyLedgerLines, type EvidenceObjects, type LedgerProblem, type LedgerVerification, type LedgerVerifyOptions } from './verify-ledger.js';

/** Objects of the store read with GetObject, `<prefix>/<relative path>`, `concurrency` at once. */
export function s3EvidenceObjects(client: S3Client, location: S3Location, concurrency = 16, reader: S3ObjectReader = s3ObjectReader(client, location.bucket, concurrency)): EvidenceObjects {
  const limit = pLimit(concurrency);
  // manifest.json is read by the chain check and again by the run check: fetch it once.
  const manifests = new Map<string, Promise<Buffer | undefined>>();
  return {
    read: (relativePath) => {
      if (!relativePath.endsWith(`/${MANIFEST_FILE}`)) return limit(() => reader.get(s3Key(location, relativePath)));
      let bytes = manifests.get(relativePath);
      if (!bytes) {
        bytes = limit(() => reader.get(s3Key(location, relativePath)));
        manifests.set(relativePath, bytes);
      }
      return bytes;
    },
  };
}

export async function verifyS3Ledger(
  client: S3Client,
  location: S3Location,
  options: LedgerVerifyOptions & { concurrency?: number } = {},
  objects?: EvidenceObjects,
  reader?: S3ObjectReader,
): Promise<LedgerVerification> {
  const concurrency = options.concurrency ?? 16;
  const own = reader === undefined;
  const lineReader = reader ?? s3ObjectReader(client, location.bucket, concurrency);
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
        const body = (await lineReader.get(key))?.toString('utf8');
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
  try {
    return await verifyLedgerLines(lines, where, objects ?? s3EvidenceObjects(client, location, concurrency, lineReader), options, problems);
  } finally {
    if (own) lineReader.close();
  }
}

function keyName(seq: number): string {
  return ledgerLineKey({ bucket: '', prefix: '' }, seq);
}

/**
 * `verify s3://bucket/prefix`: the shared chain (verifyS3Ledger, with every run's
 * manifest.json hash and key, every sign-off, the register anchors), and each chained run's
 * files without downloading them: HeadObject with checksum mode returns the SHA-256 that S3
 * computed from the bytes it received (drillbook uploads every file with its manifest hash
 * as `ChecksumSHA256`), which must be the manifest's. The manifest itself is covered by the
 * chain line (its hash), which is signed. Same result shape, hence figures and exit codes, as
 * a local evidence directory. Objects that no chain line names are not looked for.
 */
export async function verifyS3Evidence(
  client: S3Client,
  location: S3Location,
  options: LedgerVerifyOptions & { concurrency?: number } = {},
): Promise<EvidenceVerification> {
  const concurrency = options.concurrency ?? 16;
  const reader = s3ObjectReader(client, location.bucket, concurrency);
  try {
    return await verifyS3Store(client, location, options, concurrency, reader);
  } finally {
    reader.close();
  }
}

async function verifyS3Store(client: S3Client, location: S3Location, options: LedgerVerifyOptions, concurrency: number, reader: S3ObjectReader): Promise<EvidenceVerification> {
  const objects = s3EvidenceObjects(client, location, concurrency, reader);
  const ledger = await verifyS3Ledger(client, location, { ...options, concurrency, checkManifests: true }, objects, reader);
  const where = `s3://${location.bucket}${location.prefix === '' ? '' : `/${location.prefix}`}`;
  const result: EvidenceVerification = { ok: false, evidenceDir: where, runs: [], ledger, register: null, problems: [], notes: [] };
  if (ledger.entries === 0) throw new EvidenceError(`${where}: no ledger objects under ledger/; give the s3:// location runs were uploaded to`);
  const signoffCounts = new Map<string, number>();
  for (const signoff of ledger.signoffs) signoffCounts.set(signoff.dir, (signoffCounts.get(signoff.dir) ?? 0) + 1);
  // Runs are taken a few at a time: tens of thousands of runs queued at once only cost memory,
  // garbage collection and the HTTP agent's queue. Their files' HEADs are shared between this
  // thread and a worker (S3ObjectReader.heads), `concurrency` in flight on each.
  const runLimit = pLimit(concurrency);
  const perRun = await Promise.all(
    ledger.runs.map((line) => runLimit(async () => {
      const problems: VerificationProblem[] = [];
      const name = line.dir;
      const manifestBytes = await objects.read(`${name}/${MANIFEST_FILE}`);
      let manifest: { files?: { path?: unknown; sha256?: unknown }[]; signature?: { keyId?: unknown } } | undefined;
      try {
        manifest = manifestBytes === undefined ? undefined : (JSON.parse(manifestBytes.toString('utf8')) as typeof manifest);
      } catch {
        problems.push({ subject: name, message: `${MANIFEST_FILE} is not valid JSON` });
      }
      if (manifestBytes === undefined) problems.push({ subject: name, message: `missing: ${MANIFEST_FILE}` });
      const files = Array.isArray(manifest?.files) ? manifest.files : [];
      const listed: { path: string; sha256: string }[] = [];
      for (const file of files) {
        if (typeof file.path !== 'string' || typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256)) {
          problems.push({ subject: name, message: `${MANIFEST_FILE} lists an entry without a path and sha256` });
        } else listed.push({ path: file.path, sha256: file.sha256 });
      }
      const heads = await reader.heads(listed.map((file) => s3Key(location, name, file.path)));
      listed.forEach((file, index) => {
        const head = heads[index]!;
        if (!head.exists) problems.push({ subject: name, message: `missing: ${file.path}` });
        else if (head.checksumSha256 === undefined) {
          problems.push({ subject: name, message: `${file.path}: S3 holds no SHA-256 checksum for it (not uploaded by drillbook?), so it cannot be checked without downloading it` });
        } else if (Buffer.from(head.checksumSha256, 'base64').toString('hex') !== file.sha256) {
          problems.push({ subject: name, message: `changed: ${file.path} (its sha256 differs from the one recorded in ${MANIFEST_FILE})` });
        }
      });
      const keyId = typeof manifest?.signature?.keyId === 'string' ? manifest.signature.keyId : null;
      const run: RunVerification = {
        runDir: `${where}/${name}`,
        name,
        status: problems.length === 0 ? 'intact' : 'not-intact',
        runId: line.runId,
        manifestSha256: manifestBytes === undefined ? null : sha256Hex(manifestBytes),
        // The signature over the manifest is the chain line's (checked by verifyS3Ledger).
        signature: { status: keyId === null ? 'unsigned' : 'signed', keyId },
        signoffs: signoffCounts.get(name) ?? 0,
      };
      return { run, problems };
    })),
  );
  for (const { run, problems } of perRun) {
    result.runs.push(run);
    result.problems.push(...problems);
  }
  for (const problem of ledger.problems) result.problems.push({ subject: LEDGER_FILE, ...(problem.line > 0 ? { line: problem.line } : {}), message: problem.message });
  // The register's own chain, as for a local directory (verify-evidence.ts).
  const registerBytes = await reader.get(s3Key(location, REMEDIATION_FILE));
  if (registerBytes !== undefined) {
    const check = checkRegisterText(registerBytes.toString('utf8'));
    const registerProblems = [...check.damaged, ...check.chain].sort((a, b) => a.line - b.line);
    for (const p of registerProblems) result.problems.push({ subject: REMEDIATION_FILE, line: p.line, message: p.message });
    result.register = {
      file: `${where}/${REMEDIATION_FILE}`,
      ok: registerProblems.length === 0,
      lines: check.lines,
      events: check.events.length,
      legacyLines: check.legacyLines,
      tornLines: check.torn.map((p) => p.line),
    };
  }
  result.notes.push(`${where}: files were checked by the SHA-256 checksums S3 computed on upload (HeadObject), not downloaded; objects no ledger line names were not looked for`);
  result.ok = result.problems.length === 0;
  return result;
}
