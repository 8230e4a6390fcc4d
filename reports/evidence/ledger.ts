/**
 * The ledger: `<evidenceDir>/ledger.jsonl` chains every run (and every sign-off) by hash,
 * each line signed when a key is configured. Appends happen under the ledger lock (lock.ts).
 *
 * Every line names its signer: `keyId` is the signing key's id, or `unsigned`. A line written
 * before drillbook recorded `unsigned` has no `keyId` and no `sig`: it is read as a legacy
 * unsigned line. The run lines of one ledger keep one signer; a change of key (or from signed
 * to unsigned) is only valid after a `key-rotation` line signed by the old key naming the new
 * one (verify-ledger.ts checks this; `drillbook keys rotate` appends the line).
 */
import type { KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EvidenceError, fsyncDirectory, readOptional, readTextIfPresent, sha256Hex } from '../evidence-files.js';
import { REMEDIATION_FILE } from '../remediation-events.js';
import { keyIdOf, publicKeyPem, signJsonLine, splitSignedJsonLine } from '../signing.js';
import { acquireLock, type LockOptions } from './lock.js';
import { verifyBundle } from './verify-bundle.js';

export const LEDGER_FILE = 'ledger.jsonl';
export const LEDGER_LOCK_FILE = 'ledger.lock';
/** `prev` of the first ledger line. */
export const LEDGER_GENESIS = '0'.repeat(64);
/** `keyId` of a line written without a key. */
export const UNSIGNED_KEY_ID = 'unsigned';
export const KEY_ROTATION_KIND = 'key-rotation';
export interface LedgerEntry {
  seq: number;
  /** Absent on a run's line; `signoff` on a review record's line (see signoff.ts). */
  kind?: 'signoff';
  runId: string;
  /** The run directory, relative to the evidence directory. */
  dir: string;
  /** The run's manifest (for a sign-off: the manifest it reviewed). */
  manifestSha256: string;
  /** Sign-off lines: sha256 of the exact line of `<dir>/signoffs.jsonl` (without its newline). */
  signoffSha256?: string;
  /**
   * The remediation register as this line was written: its number of complete lines and the
   * sha256 of the last one. The register's hash chain makes that hash commit to every line
   * before it, so a register rewritten before this point (even with its chain recomputed)
   * no longer matches a line that is itself chained, and signed. Absent: no register yet.
   */
  registerHead?: RegisterHead;
  at: string;
  /** sha256 of the previous line's exact text (without its newline). */
  prev: string;
  /** The key that signed this line (and, for a run, its bundle), or `unsigned`; absent on legacy unsigned lines. */
  keyId?: string;
  /** base64 Ed25519 signature over the exact line without its `,"sig":"…"` member. */
  sig?: string;
}

/**
 * A key rotation: from this line on, the ledger's runs are signed by `toKeyId` (or
 * `unsigned`). Signed by the old key (`keyId` = `fromKeyId`), whose public key it carries so
 * the signature can be checked without any run directory.
 */
export interface LedgerRotationEntry {
  seq: number;
  kind: typeof KEY_ROTATION_KIND;
  fromKeyId: string;
  toKeyId: string;
  /** PEM of the old (signing) key. */
  publicKey: string;
  /** PEM of the new key (absent when rotating to unsigned). */
  toPublicKey?: string;
  at: string;
  prev: string;
  keyId: string;
  sig?: string;
}

export interface RegisterHead {
  lines: number;
  sha256: string;
}

/** A ledger line as written; reading checks it against this (a line another tool wrote may carry more). */
export const LedgerEntrySchema = z.looseObject({
  seq: z.number(),
  kind: z.literal('signoff').optional(),
  runId: z.string(),
  dir: z.string(),
  manifestSha256: z.string(),
  signoffSha256: z.string().optional(),
  registerHead: z.looseObject({ lines: z.number(), sha256: z.string() }).optional(),
  at: z.string(),
  prev: z.string(),
  keyId: z.string().optional(),
  sig: z.string().optional(),
});

/** Parse one ledger line; undefined when it is not JSON or not a ledger line. */
export function parseLedgerLine(line: string): LedgerEntry | undefined {
  try {
    const parsed = LedgerEntrySchema.safeParse(JSON.parse(line));
    return parsed.success ? (parsed.data as LedgerEntry) : undefined;
  } catch {
    return undefined;
  }
}

export interface LedgerAppendOptions extends LockOptions {
  now?: (() => Date) | undefined;
  /** Sign the line (its `keyId` and `sig` members). */
  signingKey?: KeyObject | undefined;
}

/** What a ledger line records besides its position in the chain. */
export interface LedgerFields {
  kind?: 'signoff';
  runId: string;
  dir: string;
  manifestSha256: string;
  signoffSha256?: string;
}

/**
 * Append one run to `<evidenceDir>/ledger.jsonl`, chained to the previous line by hash. Two
 * drills finishing together must not both chain to the same previous line, so the
 * read-last-line + append + fsync happens under an exclusive lock file.
 */
export async function appendLedger(
  evidenceDir: string,
  run: { runId: string; dir: string; manifestSha256: string },
  options: LedgerAppendOptions = {},
): Promise<LedgerEntry> {
  return withLedgerLock(evidenceDir, options, () =>
    appendLedgerLineLocked(evidenceDir, { runId: run.runId, dir: run.dir, manifestSha256: run.manifestSha256 }, options),
  );
}

/**
 * For `recover`: a run whose bundle was sealed (manifest.json written) but whose process died
 * before its ledger line was appended. If the bundle verifies and no line records it, append
 * one (signed when a key is given). Returns the new line, or null when there was nothing to do.
 */
export async function appendMissingLedgerLine(runDir: string, options: LedgerAppendOptions = {}): Promise<LedgerEntry | null> {
  const dir = path.resolve(runDir);
  const evidenceDir = path.dirname(dir);
  const name = path.basename(dir);
  const bundle = await verifyBundle(dir);
  if (!bundle.ok || bundle.runId === null || bundle.manifestSha256 === null) {
    throw new EvidenceError(`${dir} does not verify, so it is not added to the ledger; run drillbook verify ${dir}`);
  }
  const { runId, manifestSha256 } = bundle;
  return withLedgerLock(evidenceDir, options, async () => {
    const text = (await readOptional(path.join(evidenceDir, LEDGER_FILE)))?.toString('utf8') ?? '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      // A broken line is verify's to report.
      const entry = parseLedgerLine(line);
      if (entry?.kind === undefined && entry?.dir === name) return null;
    }
    return appendLedgerLineLocked(evidenceDir, { runId, dir: name, manifestSha256 }, options);
  });
}

/** Run `fn` holding the ledger lock (for a caller that must write something together with its line). */
export async function withLedgerLock<T>(evidenceDir: string, options: LedgerAppendOptions, fn: () => Promise<T>): Promise<T> {
  const release = await acquireLock(path.join(evidenceDir, LEDGER_LOCK_FILE), options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Append a line; the caller holds the ledger lock ({@link withLedgerLock}). */
export async function appendLedgerLineLocked(evidenceDir: string, fields: LedgerFields, options: LedgerAppendOptions = {}): Promise<LedgerEntry> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  const position = await nextPosition(ledgerFile);
  const registerHead = await readRegisterHead(evidenceDir);
  const { entry, line } = composeLedgerLine(fields, position, registerHead, options);
  await appendLineDurably(evidenceDir, ledgerFile, line);
  return entry;
}

/**
 * The exact text of a run or sign-off line at `position` (no newline), and its entry: the
 * one format of every ledger, a local ledger.jsonl and the per-line objects in S3 alike
 * (s3-ledger.ts). Signed with `options.signingKey`, else `keyId` is `unsigned`.
 */
export function composeLedgerLine(
  fields: LedgerFields,
  position: { seq: number; prev: string },
  registerHead: RegisterHead | undefined,
  options: Pick<LedgerAppendOptions, 'now' | 'signingKey'> = {},
): { entry: LedgerEntry; line: string } {
  // Member order is fixed here: lines are hashed and signed as exact text.
  const entry: LedgerEntry = {
    seq: position.seq,
    ...(fields.kind ? { kind: fields.kind } : {}),
    runId: fields.runId,
    dir: fields.dir,
    manifestSha256: fields.manifestSha256,
    ...(fields.signoffSha256 !== undefined ? { signoffSha256: fields.signoffSha256 } : {}),
    ...(registerHead ? { registerHead } : {}),
    at: (options.now?.() ?? new Date()).toISOString(),
    prev: position.prev,
  };
  let line: string;
  if (options.signingKey) {
    entry.keyId = keyIdOf(options.signingKey);
    line = signJsonLine(JSON.stringify(entry), options.signingKey);
    entry.sig = splitSignedJsonLine(line)!.signature.toString('base64');
  } else {
    entry.keyId = UNSIGNED_KEY_ID;
    line = JSON.stringify(entry);
  }
  return { entry, line };
}

async function appendLineDurably(evidenceDir: string, ledgerFile: string, line: string): Promise<void> {
  const handle = await open(ledgerFile, 'a', 0o644);
  try {
    await handle.appendFile(`${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDirectory(evidenceDir);
}

/** `keyId` as a signer: the key id, or `unsigned` (also for a legacy line without one). */
export function signerOf(entry: { keyId?: unknown }): string {
  return typeof entry.keyId === 'string' ? entry.keyId : UNSIGNED_KEY_ID;
}

/**
 * The signer of the ledger's run lines now: the `keyId` of its last run line, or the
 * `toKeyId` of a later rotation line; null for a ledger without runs. Reads the chain as it
 * stands; `verify` is what checks it.
 */
export function currentRunSigner(ledgerText: string): string | null {
  let signer: string | null = null;
  for (const line of ledgerText.split('\n')) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const entry = value as { kind?: unknown; keyId?: unknown; toKeyId?: unknown };
    if (entry.kind === KEY_ROTATION_KIND && typeof entry.toKeyId === 'string') signer = entry.toKeyId;
    else if (entry.kind === undefined) signer = signerOf(entry);
  }
  return signer;
}

/**
 * Append a key-rotation line signed by `fromKey`, the key that signs the ledger's runs now,
 * naming `to` (a public or private key; `unsigned` to stop signing). Refuses when `fromKey`
 * is not the current signer: only the holder of the old key can hand over.
 */
export async function appendKeyRotation(
  evidenceDir: string,
  fromKey: KeyObject,
  to: KeyObject | typeof UNSIGNED_KEY_ID,
  options: LedgerAppendOptions = {},
): Promise<LedgerRotationEntry> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  const fromKeyId = keyIdOf(fromKey);
  const toKeyId = to === UNSIGNED_KEY_ID ? UNSIGNED_KEY_ID : keyIdOf(to);
  return withLedgerLock(evidenceDir, options, async () => {
    const text = (await readOptional(ledgerFile))?.toString('utf8');
    if (text === undefined) throw new EvidenceError(`${ledgerFile} is missing: there is no ledger to rotate the key of`);
    const current = currentRunSigner(text);
    if (current === null) throw new EvidenceError(`${ledgerFile} records no run yet: the first signed run sets the key, no rotation is needed`);
    if (current === UNSIGNED_KEY_ID) {
      throw new EvidenceError(`${ledgerFile}: its runs are unsigned now, so there is no old key to hand over from; the next signed run sets the key`);
    }
    if (current !== fromKeyId) {
      throw new EvidenceError(`--from: key ${fromKeyId} does not sign this ledger's runs (key ${current} does); only the current key can rotate to a new one`);
    }
    if (toKeyId === fromKeyId) throw new EvidenceError(`--to: key ${toKeyId} already signs this ledger's runs`);
    const { seq, prev } = await nextPosition(ledgerFile);
    const entry: LedgerRotationEntry = {
      seq,
      kind: KEY_ROTATION_KIND,
      fromKeyId,
      toKeyId,
      publicKey: publicKeyPem(fromKey),
      ...(to === UNSIGNED_KEY_ID ? {} : { toPublicKey: publicKeyPem(to) }),
      at: (options.now?.() ?? new Date()).toISOString(),
      prev,
      keyId: fromKeyId,
    };
    const line = signJsonLine(JSON.stringify(entry), fromKey);
    entry.sig = splitSignedJsonLine(line)!.signature.toString('base64');
    await appendLineDurably(evidenceDir, ledgerFile, line);
    return entry;
  });
}

/**
 * The remediation register's complete lines as they are now (read without its lock: it is
 * append-only, and a line that ends with a newline never changes); undefined when there is
 * no register or it has no complete line.
 */
async function readRegisterHead(evidenceDir: string): Promise<RegisterHead | undefined> {
  const text = (await readOptional(path.join(evidenceDir, REMEDIATION_FILE)))?.toString('utf8');
  if (text === undefined) return undefined;
  const end = text.lastIndexOf('\n');
  if (end < 0) return undefined;
  const lines = text.slice(0, end).split('\n');
  return { lines: lines.length, sha256: sha256Hex(lines[lines.length - 1]!) };
}

/** The seq and prev of the line to append after the ledger's last line. */
async function nextPosition(ledgerFile: string): Promise<{ seq: number; prev: string }> {
  const last = await readLastLedgerLine(ledgerFile);
  if (last === undefined) return { seq: 1, prev: LEDGER_GENESIS };
  return positionAfter(last, `${ledgerFile}: the last line`);
}

/** The seq and prev of the line that follows `line` (its exact text); `what` names it in errors. */
export function positionAfter(line: string, what: string): { seq: number; prev: string } {
  let lastSeq: unknown;
  try {
    lastSeq = (JSON.parse(line) as { seq?: unknown } | null)?.seq;
  } catch {
    throw new EvidenceError(`${what} is not valid JSON; run \`drillbook verify\``);
  }
  const seqOfLast = z.number().int().positive().safeParse(lastSeq);
  if (!seqOfLast.success) {
    throw new EvidenceError(`${what} has no seq; run \`drillbook verify\``);
  }
  return { seq: seqOfLast.data + 1, prev: sha256Hex(line) };
}

/** The last complete line of the ledger, or undefined when it is empty or absent. */
async function readLastLedgerLine(ledgerFile: string): Promise<string | undefined> {
  // Ledger lines are ~250 bytes: thousands of runs are still a small read.
  const text = await readTextIfPresent(ledgerFile);
  if (text === undefined || text === '') return undefined;
  if (!text.endsWith('\n')) {
    throw new EvidenceError(`${ledgerFile} ends with an incomplete line; run \`drillbook verify\` before adding runs`);
  }
  const lines = text.slice(0, -1).split('\n');
  return lines[lines.length - 1];
}

