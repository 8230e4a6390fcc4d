/**
 * Verify the ledger chain: every line parses, seq counts up, `prev` links, line signatures,
 * and each recorded run and sign-off against its run directory.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { MANIFEST_FILE, isObject, isSafeRelativePath, readOptional, sha256Hex } from '../evidence-files.js';
import { REMEDIATION_FILE } from '../remediation-events.js';
import { SIGNER_PUBLIC_KEY_FILE, SIGNOFFS_FILE, keyIdOf, parsePublicKeyPem, splitSignedJsonLine, verifyBytesAsync, type TrustedKey } from '../signing.js';
import { KEY_ROTATION_KIND, LEDGER_FILE, LEDGER_GENESIS, UNSIGNED_KEY_ID, signerOf, type LedgerEntry, type LedgerRotationEntry } from './ledger.js';

export interface LedgerProblem {
  /** 1-based line number of the line that is wrong (or that was changed); 0: the file as a whole. */
  line: number;
  message: string;
}

export interface LedgerRunLine {
  line: number;
  runId: string;
  dir: string;
  manifestSha256: string;
  keyId: string | null;
}

export interface LedgerSignoffLine {
  line: number;
  dir: string;
  signoffSha256: string;
  keyId: string | null;
}

export interface LedgerRotationLine {
  line: number;
  fromKeyId: string;
  toKeyId: string;
}

export interface LedgerVerification {
  ok: boolean;
  ledgerFile: string;
  /** Lines in the ledger. */
  entries: number;
  problems: LedgerProblem[];
  runs: LedgerRunLine[];
  signoffs: LedgerSignoffLine[];
  rotations: LedgerRotationLine[];
}

/** A line as read, before its shape is checked: any member may be missing or of another type. */
type AnyLedgerLine = Omit<Partial<LedgerEntry>, 'kind'> & Omit<Partial<LedgerRotationEntry>, 'kind'> & { kind?: unknown };

type LineSignature = 'valid' | 'invalid' | 'unsigned' | 'unchecked';

/** Reads run directories' public keys and sign-off files once per verification. */
class EvidenceReader {
  private readonly keys = new Map<string, Promise<KeyObject | undefined>>();
  private readonly byKeyId = new Map<string, KeyObject>();
  private readonly signoffs = new Map<string, Promise<Map<string, string> | undefined>>();

  constructor(private readonly objects: EvidenceObjects) {}

  /**
   * The public key a run's line is signed with. A key id is the hash of the key itself, so
   * once one run's key file gave the key with that id, later runs signed by the same id are
   * checked with it without reading their copy again (tens of thousands of reads in S3). Each
   * run's own copy is still covered by its manifest: a changed or missing one is reported
   * there.
   */
  runKey(dir: string, keyId?: string): Promise<KeyObject | undefined> {
    const known = keyId === undefined ? undefined : this.byKeyId.get(keyId);
    if (known) return Promise.resolve(known);
    let key = this.keys.get(dir);
    if (!key) {
      key = this.objects.read(`${dir}/${SIGNER_PUBLIC_KEY_FILE}`).then((pem) => {
        const parsed = pem === undefined ? undefined : parsePublicKeyPem(pem.toString('utf8'));
        if (parsed && keyId !== undefined && keyIdOf(parsed) === keyId) this.byKeyId.set(keyId, parsed);
        return parsed;
      });
      this.keys.set(dir, key);
    }
    return key;
  }

  /** sha256 of each line of `<dir>/signoffs.jsonl` → the line. */
  signoffLines(dir: string): Promise<Map<string, string> | undefined> {
    let lines = this.signoffs.get(dir);
    if (!lines) {
      lines = this.objects.read(`${dir}/${SIGNOFFS_FILE}`).then((bytes) => {
        if (bytes === undefined) return undefined;
        const byHash = new Map<string, string>();
        for (const line of bytes.toString('utf8').split('\n')) if (line !== '') byHash.set(sha256Hex(line), line);
        return byHash;
      });
      this.signoffs.set(dir, lines);
    }
    return lines;
  }
}

/**
 * Check the ledger chain: every line parses, seq counts up from 1, `prev` is the hash of the
 * line before, signed lines verify, and (`checkManifests`, the default) each listed run's
 * manifest.json still has the recorded hash and key, and each recorded sign-off is still in
 * its run's signoffs.jsonl. Without signatures, an edit of the very last line is only caught
 * through its manifest hash. `checkManifests: false` checks the chain alone (bundles
 * archived elsewhere).
 */
export async function verifyLedger(
  evidenceDir: string,
  options: LedgerVerifyOptions = {},
): Promise<LedgerVerification> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  let text: string;
  try {
    text = await readFile(ledgerFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { ok: false, ledgerFile, entries: 0, problems: [{ line: 0, message: `${LEDGER_FILE} is missing` }], runs: [], signoffs: [], rotations: [] };
  }
  const lines = text.split('\n');
  const problems: LedgerProblem[] = [];
  if (lines[lines.length - 1] === '') lines.pop();
  else problems.push({ line: lines.length, message: `line ${lines.length} is incomplete (no newline at the end): the last line was cut or edited` });
  return verifyLedgerLines(lines, ledgerFile, localEvidenceObjects(evidenceDir), options, problems);
}

export interface LedgerVerifyOptions {
  checkManifests?: boolean;
  trust?: TrustedKey[];
  anchors?: { source: string; line: string }[];
}

/** Where the run directories and the register are read from: a local directory, or S3 objects. */
export interface EvidenceObjects {
  /** The bytes at `<relative path>` (posix separators), or undefined when there is none. */
  read(relativePath: string): Promise<Buffer | undefined>;
}

export function localEvidenceObjects(evidenceDir: string): EvidenceObjects {
  return { read: (relativePath) => readOptional(path.join(evidenceDir, ...relativePath.split('/'))) };
}

/**
 * The checks of {@link verifyLedger} over lines however stored: `lines[i]` is line i+1's exact
 * text, or null when that line is missing (an S3 ledger object that was removed; the caller
 * has reported it in `problems`). Shared by the local ledger.jsonl and the S3 ledger.
 */
export async function verifyLedgerLines(
  lines: (string | null)[],
  ledgerFile: string,
  objects: EvidenceObjects,
  options: LedgerVerifyOptions = {},
  problems: LedgerProblem[] = [],
): Promise<LedgerVerification> {
  const result: LedgerVerification = { ok: false, ledgerFile, entries: 0, problems: [...problems], runs: [], signoffs: [], rotations: [] };
  const checkManifests = options.checkManifests !== false;
  const trust = options.trust ?? [];
  if (lines.length === 0) {
    checkExternalCopies([], options.anchors ?? [], result);
    result.ok = result.problems.length === 0;
    return result;
  }
  result.entries = lines.length;
  const entries: (AnyLedgerLine | undefined)[] = lines.map((line, index) => {
    if (line === null) return undefined;
    try {
      const parsed: unknown = JSON.parse(line);
      if (isObject(parsed)) return parsed as AnyLedgerLine;
    } catch {
      // reported below
    }
    result.problems.push({ line: index + 1, message: `line ${index + 1} is not a valid ledger line (not a JSON object)` });
    return undefined;
  });

  // Signatures first: with a verified line N-1, a prev mismatch in line N is a broken link
  // (lines removed, inserted or moved), not an edit of line N-1.
  const reader = new EvidenceReader(objects);
  const limit = pLimit(16);
  const signatures: LineSignature[] = await Promise.all(
    entries.map((entry, index) =>
      entry ? limit(() => checkLedgerLineSignature(lines[index] as string, entry, index + 1, reader, trust, checkManifests, result)) : Promise.resolve<LineSignature>('invalid'),
    ),
  );

  let expectedPrev: string | null = LEDGER_GENESIS;
  entries.forEach((entry, index) => {
    const lineNumber = index + 1;
    if (entry !== undefined) {
      if (entry.seq !== lineNumber) {
        result.problems.push({ line: lineNumber, message: `seq is ${JSON.stringify(entry.seq)}, expected ${lineNumber}: lines were removed, inserted or reordered` });
      }
      if (entry.prev !== expectedPrev && expectedPrev !== null) {
        if (lineNumber === 1) result.problems.push({ line: 1, message: 'the first line does not start the chain (prev is not all zeros)' });
        else if (signatures[index - 1] === 'valid') {
          result.problems.push({
            line: lineNumber,
            message: `broken link at line ${lineNumber}: its prev is not the sha256 of line ${lineNumber - 1} (lines were removed, inserted or reordered, or this prev was edited)`,
          });
        } else {
          result.problems.push({
            line: lineNumber - 1,
            message: `line ${lineNumber - 1} was changed, or lines after it were removed or reordered: its sha256 does not match the prev recorded in line ${lineNumber}`,
          });
        }
      }
    }
    // After a missing line its hash is unknown: the gap itself is the problem reported.
    const text = lines[index];
    expectedPrev = text === null || text === undefined ? null : sha256Hex(text);
  });

  checkSignerContinuity(entries, result);
  checkExternalCopies(lines, options.anchors ?? [], result);
  if (checkManifests) await checkRegisterAnchors(objects, entries, result);

  const seenDirs = new Map<string, number>();
  // First what each line is (in order: a repeated run is the later line), then the checks
  // against the run directories, concurrently.
  const checks: (() => Promise<void>)[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry === undefined) continue;
    const lineNumber = index + 1;
    if (entry.kind === KEY_ROTATION_KIND) {
      if (typeof entry.fromKeyId === 'string' && typeof entry.toKeyId === 'string') {
        result.rotations.push({ line: lineNumber, fromKeyId: entry.fromKeyId, toKeyId: entry.toKeyId });
      }
      continue;
    }
    if (typeof entry.dir !== 'string' || !isSafeRelativePath(entry.dir) || entry.dir.includes('/')) {
      result.problems.push({ line: lineNumber, message: `dir ${JSON.stringify(entry.dir)} is not a run directory name` });
      continue;
    }
    const keyId = signerOf(entry) === UNSIGNED_KEY_ID ? null : (entry.keyId as string);
    if (entry.kind === 'signoff') {
      if (typeof entry.signoffSha256 !== 'string') {
        result.problems.push({ line: lineNumber, message: 'a sign-off line without signoffSha256' });
        continue;
      }
      result.signoffs.push({ line: lineNumber, dir: entry.dir, signoffSha256: entry.signoffSha256, keyId });
      const { dir, signoffSha256 } = { dir: entry.dir, signoffSha256: entry.signoffSha256 };
      if (checkManifests) {
        checks.push(async () => {
          const signoffLines = await reader.signoffLines(dir);
          if (!signoffLines?.has(signoffSha256)) {
            result.problems.push({
              line: lineNumber,
              message: `the sign-off it records is missing from ${dir}/${SIGNOFFS_FILE} (${signoffLines ? 'that line was changed or removed' : 'the file is missing'})`,
            });
          }
        });
      }
      continue;
    }
    if (entry.kind !== undefined) {
      result.problems.push({ line: lineNumber, message: `unknown kind ${JSON.stringify(entry.kind)}` });
      continue;
    }
    if (typeof entry.runId !== 'string' || typeof entry.manifestSha256 !== 'string') {
      result.problems.push({ line: lineNumber, message: 'a run line needs runId and manifestSha256' });
      continue;
    }
    const firstLine = seenDirs.get(entry.dir);
    if (firstLine !== undefined) {
      result.problems.push({ line: lineNumber, message: `run ${entry.dir} is recorded again (first at line ${firstLine})` });
      continue;
    }
    seenDirs.set(entry.dir, lineNumber);
    result.runs.push({ line: lineNumber, runId: entry.runId, dir: entry.dir, manifestSha256: entry.manifestSha256, keyId });
    if (checkManifests) {
      const { dir, manifestSha256 } = { dir: entry.dir, manifestSha256: entry.manifestSha256 };
      checks.push(() => checkLedgerRun(objects, dir, manifestSha256, keyId, lineNumber, result));
    }
  }
  await Promise.all(checks.map((check) => limit(check)));
  result.problems.sort((a, b) => a.line - b.line);
  result.ok = result.problems.length === 0;
  return result;
}

/** A run line against its run directory: the manifest hash, and the key it was signed with. */
async function checkLedgerRun(
  objects: EvidenceObjects,
  dir: string,
  manifestSha256: string,
  keyId: string | null,
  lineNumber: number,
  result: LedgerVerification,
): Promise<void> {
  const manifestBytes = await objects.read(`${dir}/${MANIFEST_FILE}`);
  if (manifestBytes === undefined) {
    result.problems.push({ line: lineNumber, message: `${dir}/${MANIFEST_FILE} is missing` });
    return;
  }
  if (sha256Hex(manifestBytes) !== manifestSha256) {
    result.problems.push({ line: lineNumber, message: `${dir}/${MANIFEST_FILE} does not match the manifestSha256 recorded here` });
    return;
  }
  let manifestKeyId: string | null = null;
  try {
    const manifest: unknown = JSON.parse(manifestBytes.toString('utf8'));
    if (isObject(manifest) && isObject(manifest.signature) && typeof manifest.signature.keyId === 'string') manifestKeyId = manifest.signature.keyId;
  } catch {
    // verifyBundle names an unreadable manifest
  }
  if (manifestKeyId !== keyId) {
    result.problems.push({
      line: lineNumber,
      message: `line ${lineNumber} records ${keyId ? `key ${keyId}` : 'an unsigned run'}, but ${dir}/${MANIFEST_FILE} is ${manifestKeyId ? `signed by key ${manifestKeyId}` : 'unsigned'}`,
    });
  }
}

/**
 * The run lines of a ledger keep one signer. A change of key, or from signed to unsigned, is
 * valid only after a key-rotation line signed by the old key that names the new one; a
 * ledger that was unsigned may start signing at any run (that gains protection, it removes
 * none). Without this, anyone could strip the newest runs' signatures, or re-sign them with
 * a key of their own, and the chain would still hold. Sign-off lines are signed by their
 * reviewers and are not part of this. One problem per switch, at the line that switched.
 */
function checkSignerContinuity(entries: (AnyLedgerLine | undefined)[], result: LedgerVerification): void {
  let signer: string | null = null;
  let since = 0;
  const problem = (line: number, message: string) => result.problems.push({ line, message });
  entries.forEach((entry, index) => {
    const lineNumber = index + 1;
    if (entry === undefined) return;
    if (entry.kind === KEY_ROTATION_KIND) {
      const from = entry.fromKeyId;
      const to = entry.toKeyId;
      if (typeof from !== 'string' || typeof to !== 'string' || typeof entry.publicKey !== 'string') {
        problem(lineNumber, `line ${lineNumber} is a key-rotation line without fromKeyId, toKeyId and publicKey`);
        return;
      }
      if (entry.toPublicKey !== undefined) {
        const toKey = typeof entry.toPublicKey === 'string' ? parsePublicKeyPem(entry.toPublicKey) : undefined;
        if (!toKey || keyIdOf(toKey) !== to) problem(lineNumber, `line ${lineNumber}: its toPublicKey is invalid or not the key ${to} it names`);
      }
      if (entry.keyId !== from) problem(lineNumber, `line ${lineNumber} rotates from key ${from} but is not signed by it (${signerOf(entry)})`);
      if (signer === null || signer === UNSIGNED_KEY_ID) {
        problem(lineNumber, `line ${lineNumber} rotates from key ${from}, but no signed run comes before it`);
      } else if (signer !== from) {
        problem(lineNumber, `line ${lineNumber} rotates from key ${from}, but the runs before it are signed by key ${signer} (since line ${since})`);
      }
      signer = to;
      since = lineNumber;
      return;
    }
    if (entry.kind !== undefined) return;
    const own = signerOf(entry);
    if (signer !== null && signer !== UNSIGNED_KEY_ID && own !== signer) {
      problem(
        lineNumber,
        own === UNSIGNED_KEY_ID
          ? `line ${lineNumber} is unsigned, but the runs before it are signed by key ${signer} (since line ${since}): signing stopped without a key-rotation line signed by ${signer} (signatures stripped?)`
          : `line ${lineNumber} is signed by key ${own}, but the runs before it are signed by key ${signer} (since line ${since}): the key changed without a key-rotation line signed by ${signer} (re-signed by another key?)`,
      );
    }
    if (own !== signer) since = lineNumber;
    signer = own;
  });
}

/**
 * Ledger lines kept elsewhere (`verify --anchor`): each must be the ledger's line at its seq,
 * byte for byte. A copy past the ledger's end means lines were cut off the end (the newest
 * runs removed); a different line there means the ledger was rewritten from that point.
 */
function checkExternalCopies(lines: (string | null)[], anchors: { source: string; line: string }[], result: LedgerVerification): void {
  for (const { source, line } of anchors) {
    let seq: unknown;
    try {
      seq = (JSON.parse(line) as { seq?: unknown } | null)?.seq;
    } catch {
      seq = undefined;
    }
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) {
      result.problems.push({ line: 0, message: `the copy in ${source} is not a ledger line (no seq)` });
      continue;
    }
    if (seq > lines.length) {
      result.problems.push({
        line: lines.length,
        message: `the ledger ends at line ${lines.length}, but ${source} holds a copy of its line ${seq}: lines were removed from its end (the newest runs or sign-offs)`,
      });
    } else if (lines[seq - 1] !== line) {
      result.problems.push({ line: seq, message: `line ${seq} is not the line copied in ${source}: the ledger was rewritten at or before that line` });
    }
  }
}

/**
 * Each `registerHead` against remediation.jsonl: the register must still hold that many
 * lines, the last of them with that sha256. The register's own chain (verify-evidence.ts)
 * then covers every line before it.
 */
async function checkRegisterAnchors(objects: EvidenceObjects, entries: (AnyLedgerLine | undefined)[], result: LedgerVerification): Promise<void> {
  const anchored = entries.map((entry, index) => ({ entry, line: index + 1 })).filter(({ entry }) => entry?.registerHead !== undefined);
  if (anchored.length === 0) return;
  const text = (await objects.read(REMEDIATION_FILE))?.toString('utf8');
  const lines = text === undefined ? [] : text.split('\n');
  // Complete lines only: a torn tail is not a line an anchor can name.
  if (lines.length > 0) lines.pop();
  for (const { entry, line } of anchored) {
    const head = entry!.registerHead as unknown;
    if (!isObject(head) || typeof head.lines !== 'number' || !Number.isInteger(head.lines) || head.lines < 1 || typeof head.sha256 !== 'string') {
      result.problems.push({ line, message: `line ${line}: registerHead is not { lines, sha256 }` });
      continue;
    }
    if (text === undefined) {
      result.problems.push({ line, message: `line ${line} anchors ${REMEDIATION_FILE} at its line ${head.lines}, but ${REMEDIATION_FILE} is missing` });
    } else if (lines.length < head.lines) {
      result.problems.push({ line, message: `line ${line} anchors ${REMEDIATION_FILE} at its line ${head.lines}, but it has only ${lines.length} complete lines: register lines were removed` });
    } else if (sha256Hex(lines[head.lines - 1]!) !== head.sha256) {
      result.problems.push({
        line,
        message: `line ${line} anchors ${REMEDIATION_FILE} at its line ${head.lines}, and that line is not the one anchored: the register was rewritten at or before its line ${head.lines}`,
      });
    }
  }
}

async function checkLedgerLineSignature(
  line: string,
  entry: AnyLedgerLine,
  lineNumber: number,
  reader: EvidenceReader,
  trust: TrustedKey[],
  checkManifests: boolean,
  result: LedgerVerification,
): Promise<LineSignature> {
  const problem = (message: string) => result.problems.push({ line: lineNumber, message });
  if ((entry.keyId === undefined || entry.keyId === UNSIGNED_KEY_ID) && entry.sig === undefined && !line.includes('"sig":')) {
    if (entry.kind === KEY_ROTATION_KIND) problem(`line ${lineNumber} is an unsigned key-rotation line: a rotation must be signed by the old key`);
    else if (trust.length > 0) problem(`line ${lineNumber} is unsigned, and --trust requires signed evidence`);
    return 'unsigned';
  }
  const split = splitSignedJsonLine(line);
  if (typeof entry.keyId !== 'string' || split === undefined) {
    problem(`line ${lineNumber} was changed: its signature or key id is missing or malformed`);
    return 'invalid';
  }
  let key: KeyObject | undefined;
  if (trust.length > 0) {
    key = trust.find((candidate) => candidate.keyId === entry.keyId)?.key;
    if (!key) {
      problem(`line ${lineNumber} is signed by an unknown key ${entry.keyId}: it is not among the --trust keys`);
      return 'unchecked';
    }
  } else if (entry.kind === KEY_ROTATION_KIND) {
    key = typeof entry.publicKey === 'string' ? parsePublicKeyPem(entry.publicKey) : undefined;
    if (key && keyIdOf(key) !== entry.keyId) key = undefined;
    if (!key) {
      problem(`line ${lineNumber}: its publicKey is missing, invalid, or not the key ${entry.keyId} it names`);
      return 'invalid';
    }
  } else if (typeof entry.dir === 'string' && isSafeRelativePath(entry.dir) && !entry.dir.includes('/')) {
    if (entry.kind === 'signoff') {
      const record = typeof entry.signoffSha256 === 'string' ? (await reader.signoffLines(entry.dir))?.get(entry.signoffSha256) : undefined;
      const pem = record === undefined ? undefined : publicKeyOfRecord(record);
      key = pem === undefined ? undefined : parsePublicKeyPem(pem);
    } else key = await reader.runKey(entry.dir, entry.keyId);
    if (key && keyIdOf(key) !== entry.keyId) key = undefined;
  }
  if (!key) {
    if (checkManifests) problem(`line ${lineNumber}: cannot check its signature: key ${entry.keyId} is not available (its run's ${SIGNER_PUBLIC_KEY_FILE} is missing or changed; pin it with --trust)`);
    return 'unchecked';
  }
  if (!(await verifyBytesAsync(split.message, split.signature, key))) {
    problem(`line ${lineNumber} was changed: its signature (key ${entry.keyId}) does not verify`);
    return 'invalid';
  }
  return 'valid';
}

function publicKeyOfRecord(line: string): string | undefined {
  try {
    const record: unknown = JSON.parse(line);
    return isObject(record) && typeof record.publicKey === 'string' ? record.publicKey : undefined;
  } catch {
    return undefined;
  }
}

