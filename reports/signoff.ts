/**
 * Sign-off: a reviewer's signed decision on a finished run, appended after the fact without
 * touching the bundle. Records go to `<run dir>/signoffs.jsonl` (outside the manifest), one
 * signed JSON line each, chained by hash within the file, and every record is anchored by a
 * line of the evidence directory's ledger, so a removed or edited sign-off is detected even
 * though the manifest never covered it.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EvidenceError, MANIFEST_FILE, pathExists, readTextIfPresent, sha256Hex, writeFileAtomic } from './evidence-files.js';
import { LEDGER_FILE, LEDGER_GENESIS, appendLedgerLineLocked, withLedgerLock, type LedgerEntry } from './evidence/ledger.js';
import { verifyBundle } from './evidence/verify-bundle.js';
import type { EvidenceSource } from './evidence/source-type.js';
import {
  SIGNOFFS_FILE,
  keyIdOf,
  parsePublicKeyPem,
  publicKeyPem,
  signJsonLine,
  toSigningKey,
  verifyJsonLine,
  type TrustedKey,
} from './signing.js';

export const SIGNOFF_SCHEMA = 'drillbook.dev/signoff/v1';
/** `accepted-with-findings`: accepted, with the findings and their remediation items as the conditions (the paper form's "accepted with findings"). */
export const SIGNOFF_DECISIONS = ['accepted', 'accepted-with-findings', 'rejected'] as const;
export type SignoffDecision = (typeof SIGNOFF_DECISIONS)[number];

const MAX_REVIEWER_LENGTH = 200;
const MAX_NOTE_LENGTH = 10_000;

/** One line of signoffs.jsonl, in member order (the line is signed as exact text). */
export interface SignoffRecord {
  schema: typeof SIGNOFF_SCHEMA;
  seq: number;
  runId: string;
  /** sha256 of the manifest.json the reviewer looked at. */
  manifestSha256: string;
  reviewer: string;
  decision: SignoffDecision;
  note: string;
  /** UTC, ISO 8601 with milliseconds. */
  at: string;
  /** sha256 of the previous line of signoffs.jsonl (all zeros for the first). */
  prev: string;
  keyId: string;
  /** The reviewer's public key (PEM), so anyone can check the signature. */
  publicKey: string;
  sig: string;
}

/** A sign-off as the report shows it. */
export interface SignoffView {
  seq: number;
  reviewer: string;
  decision: SignoffDecision;
  note: string;
  at: string;
  keyId: string;
  manifestSha256: string;
  /** The record's signature verifies with the key it names. */
  signatureValid: boolean;
  /** It reviewed the bundle as it is now (not an earlier manifest). */
  reviewsCurrentManifest: boolean;
}

/** The bundle does not verify, so it cannot be signed off; the CLI exits 1. */
export class BundleNotIntactError extends EvidenceError {}

export interface SignoffInput {
  reviewer: string;
  decision: SignoffDecision;
  note: string;
  /** The reviewer's Ed25519 private key, or a reference (`file:PATH`, `env:VARIABLE`). */
  signingKey: KeyObject | string;
  now?: () => Date;
  ledgerLockTimeoutMs?: number;
}

export interface SignoffResult {
  record: SignoffRecord;
  file: string;
  ledgerEntry: LedgerEntry;
}

function validateInput(input: SignoffInput): { reviewer: string; note: string } {
  const problems: string[] = [];
  const reviewer = input.reviewer.trim();
  if (reviewer === '') problems.push('--reviewer: give the reviewer\'s name');
  else if (reviewer.length > MAX_REVIEWER_LENGTH) problems.push(`--reviewer: at most ${MAX_REVIEWER_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  else if (/[\u0000-\u001f\u007f]/.test(reviewer)) problems.push('--reviewer: no control characters or line breaks');
  if (!SIGNOFF_DECISIONS.includes(input.decision)) problems.push(`--decision: ${JSON.stringify(input.decision)} is not one of ${SIGNOFF_DECISIONS.join(', ')}`);
  const note = input.note.trim();
  if (note === '') problems.push('--note: say what was reviewed and why this decision');
  else if (note.length > MAX_NOTE_LENGTH) problems.push(`--note: at most ${MAX_NOTE_LENGTH} characters`);
  else if (note.includes('\u0000')) problems.push('--note: no NUL characters');
  if (problems.length > 0) throw new EvidenceError(problems.join('\n'));
  return { reviewer, note };
}

/**
 * Append a signed review record for a finished run. Refuses a bundle that does not verify,
 * and a run that is not in its evidence directory's ledger. The bundle itself is not touched.
 */
export async function appendSignoff(runDir: string, input: SignoffInput): Promise<SignoffResult> {
  const { reviewer, note } = validateInput(input);
  const signingKey = await toSigningKey(input.signingKey);
  const dir = path.resolve(runDir);
  const name = path.basename(dir);
  const evidenceDir = path.dirname(dir);
  if (!(await pathExists(dir))) throw new EvidenceError(`${runDir}: no such run directory`);
  if (!(await pathExists(path.join(dir, MANIFEST_FILE)))) {
    throw new EvidenceError(`${runDir} has no ${MANIFEST_FILE}: only a finished run can be signed off (unfinished: run drillbook recover)`);
  }
  const bundle = await verifyBundle(dir);
  if (!bundle.ok || bundle.runId === null || bundle.manifestSha256 === null) {
    const issues = [
      ...bundle.problems,
      ...bundle.changed.map((f) => `changed: ${f}`),
      ...bundle.missing.map((f) => `missing: ${f}`),
      ...bundle.unlisted.map((f) => `unlisted: ${f}`),
    ];
    throw new BundleNotIntactError(`${runDir} does not verify, so it cannot be signed off: ${issues.join('; ')}`);
  }
  const manifestSha256 = bundle.manifestSha256;
  const runId = bundle.runId;

  return withLedgerLock(evidenceDir, { lockTimeoutMs: input.ledgerLockTimeoutMs }, async () => {
    await assertRunInLedger(evidenceDir, name, manifestSha256);
    const file = path.join(dir, SIGNOFFS_FILE);
    const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    if (existing !== '' && !existing.endsWith('\n')) {
      throw new EvidenceError(`${file} ends with an incomplete line; run drillbook verify ${runDir}`);
    }
    const lines = existing === '' ? [] : existing.slice(0, -1).split('\n');
    const last = lines[lines.length - 1];
    const unsigned = {
      schema: SIGNOFF_SCHEMA,
      seq: lines.length + 1,
      runId,
      manifestSha256,
      reviewer,
      decision: input.decision,
      note,
      at: (input.now?.() ?? new Date()).toISOString(),
      prev: last === undefined ? LEDGER_GENESIS : sha256Hex(last),
      keyId: keyIdOf(signingKey),
      publicKey: publicKeyPem(signingKey),
    };
    const line = signJsonLine(JSON.stringify(unsigned), signingKey);
    // The whole file is replaced atomically: readers see the old records or all of the new.
    await writeFileAtomic(file, `${existing}${line}\n`);
    const ledgerEntry = await appendLedgerLineLocked(
      evidenceDir,
      { kind: 'signoff', runId, dir: name, manifestSha256, signoffSha256: sha256Hex(line) },
      { now: input.now, signingKey },
    );
    return { record: JSON.parse(line) as SignoffRecord, file, ledgerEntry };
  });
}

async function assertRunInLedger(evidenceDir: string, name: string, manifestSha256: string): Promise<void> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  const text = await readFile(ledgerFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    let entry: Partial<LedgerEntry>;
    try {
      entry = JSON.parse(line) as Partial<LedgerEntry>;
    } catch {
      continue;
    }
    if (entry.kind === undefined && entry.dir === name) {
      if (entry.manifestSha256 !== manifestSha256) {
        throw new BundleNotIntactError(`${ledgerFile} records another manifest hash for ${name}; run drillbook verify ${evidenceDir}`);
      }
      return;
    }
  }
  throw new EvidenceError(`${name} is not recorded in ${ledgerFile}: sign off a run in the evidence directory it was written to`);
}

interface ParsedSignoff {
  line: number;
  text: string;
  record: Partial<SignoffRecord> | undefined;
}

async function readSignoffLines(runDir: string): Promise<{ parsed: ParsedSignoff[]; incomplete: boolean } | undefined> {
  const file = path.join(runDir, SIGNOFFS_FILE);
  // Most runs have no sign-off yet: a cheap existence check spares a thrown ENOENT per run
  // when verify walks thousands of them.
  if (!existsSync(file)) return undefined;
  const text = await readTextIfPresent(file);
  if (text === undefined) return undefined;
  return parseSignoffLines(text);
}

function parseSignoffLines(text: string): { parsed: ParsedSignoff[]; incomplete: boolean } {
  const lines = text.split('\n');
  const incomplete = lines[lines.length - 1] !== '';
  if (!incomplete) lines.pop();
  const parsed = lines.map((line, index) => {
    let record: Partial<SignoffRecord> | undefined;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) record = value as Partial<SignoffRecord>;
    } catch {
      record = undefined;
    }
    return { line: index + 1, text: line, record };
  });
  return { parsed, incomplete };
}

function signatureOf(record: Partial<SignoffRecord>, text: string): { valid: boolean; keyIdMatches: boolean } {
  const key = typeof record.publicKey === 'string' ? parsePublicKeyPem(record.publicKey) : undefined;
  if (!key) return { valid: false, keyIdMatches: false };
  const keyIdMatches = keyIdOf(key) === record.keyId;
  return { valid: keyIdMatches && verifyJsonLine(text, key), keyIdMatches };
}

/** The run's sign-offs for the report, oldest first (an empty list when there are none). */
export async function readSignoffs(runDir: string): Promise<SignoffView[]> {
  const read = await readSignoffLines(runDir);
  if (!read) return [];
  const manifest = await readFile(path.join(runDir, MANIFEST_FILE)).catch(() => undefined);
  return signoffViews(read.parsed, manifest);
}

/** {@link readSignoffs} of run directory `dir` of an evidence source (a directory or S3). */
export async function readSignoffsFrom(source: EvidenceSource, dir: string): Promise<SignoffView[]> {
  if (source.kind === 'local') return readSignoffs(path.join(source.where, dir));
  const text = await source.read(`${dir}/${SIGNOFFS_FILE}`);
  if (text === undefined) return [];
  return signoffViews(parseSignoffLines(text.toString('utf8')).parsed, await source.read(`${dir}/${MANIFEST_FILE}`));
}

function signoffViews(parsed: ParsedSignoff[], manifest: Buffer | undefined): SignoffView[] {
  const manifestSha256 = manifest ? sha256Hex(manifest) : null;
  const views: SignoffView[] = [];
  for (const { text, record } of parsed) {
    if (!record || typeof record.reviewer !== 'string' || typeof record.at !== 'string') continue;
    views.push({
      seq: Number(record.seq),
      reviewer: record.reviewer,
      decision: SIGNOFF_DECISIONS.includes(record.decision as SignoffDecision) ? (record.decision as SignoffDecision) : 'rejected',
      note: String(record.note ?? ''),
      at: record.at,
      keyId: String(record.keyId ?? ''),
      manifestSha256: String(record.manifestSha256 ?? ''),
      signatureValid: signatureOf(record, text).valid && SIGNOFF_DECISIONS.includes(record.decision as SignoffDecision),
      reviewsCurrentManifest: record.manifestSha256 === manifestSha256,
    });
  }
  return views;
}

export interface SignoffsVerification {
  count: number;
  /** Each names signoffs.jsonl and the line. */
  problems: string[];
  /** sha256 of every line, for the ledger cross-check. */
  lineHashes: { line: number; sha256: string }[];
}

/** Check every sign-off of a run: chain, signature, key, and that it reviewed this manifest. */
export async function verifySignoffs(
  runDir: string,
  expected: { manifestSha256: string | null; runId: string | null; trust: TrustedKey[] },
): Promise<SignoffsVerification> {
  const result: SignoffsVerification = { count: 0, problems: [], lineHashes: [] };
  const read = await readSignoffLines(runDir);
  if (!read) return result;
  const at = (line: number, message: string) => result.problems.push(`${SIGNOFFS_FILE} line ${line}: ${message}`);
  if (read.incomplete) at(read.parsed.length, 'incomplete (no newline at the end): the last record was cut or edited');
  let expectedPrev = LEDGER_GENESIS;
  for (const { line, text, record } of read.parsed) {
    result.count++;
    result.lineHashes.push({ line, sha256: sha256Hex(text) });
    const prev = expectedPrev;
    expectedPrev = sha256Hex(text);
    if (!record || record.schema !== SIGNOFF_SCHEMA) {
      at(line, `not a ${SIGNOFF_SCHEMA} record`);
      continue;
    }
    if (record.seq !== line) at(line, `seq is ${JSON.stringify(record.seq)}, expected ${line}: records were removed, inserted or reordered`);
    if (record.prev !== prev) at(line, `does not chain to the line before it: records were removed, inserted, reordered or changed`);
    if (expected.runId !== null && record.runId !== expected.runId) at(line, `reviews run ${JSON.stringify(record.runId)}, not this run (${expected.runId})`);
    if (expected.manifestSha256 !== null && record.manifestSha256 !== expected.manifestSha256) {
      at(line, `reviewed manifest sha256 ${String(record.manifestSha256)}, but ${MANIFEST_FILE} is now ${expected.manifestSha256}: the bundle changed after the sign-off`);
    }
    if (!SIGNOFF_DECISIONS.includes(record.decision as SignoffDecision)) at(line, `decision ${JSON.stringify(record.decision)} is not one of ${SIGNOFF_DECISIONS.join(', ')}`);
    const signature = signatureOf(record, text);
    if (!signature.keyIdMatches) at(line, `its public key is missing, invalid, or not the key ${JSON.stringify(record.keyId)} it names`);
    else if (!signature.valid) at(line, `signature invalid: the record was changed after ${String(record.reviewer)} signed it (key ${String(record.keyId)})`);
    if (expected.trust.length > 0 && !expected.trust.some((key) => key.keyId === record.keyId)) {
      at(line, `signed by an unknown key ${String(record.keyId)}: it is not among the --trust keys`);
    }
  }
  return result;
}
