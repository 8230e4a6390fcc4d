/**
 * Verify one run's bundle: every hash in manifest.json, SHA256SUMS against the manifest, files
 * missing or unlisted, and the bundle signature.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXPORTS_DIR, MANIFEST_FILE, isObject, isSafeRelativePath, listFilesRecursiveSync, readOptional, sha256Hex } from '../evidence-files.js';
import {
  CHECKSUMS_FILE,
  CHECKSUMS_SIGNATURE_FILE,
  MANIFEST_SIGNATURE_FILE,
  SIGNATURE_ALGORITHM,
  SIGNER_PUBLIC_KEY_FILE,
  SIGNOFFS_FILE,
  keyIdOf,
  parsePublicKeyPem,
  verifyBytes,
  type TrustedKey,
} from '../signing.js';
import { TIMESTAMP_TOKEN_FILE, describeTimestampToken, verifyTimestampToken } from '../timestamp.js';
import { MANIFEST_SCHEMA, ManifestEntrySchema, ManifestHeaderSchema, ManifestSignatureSchema, ManifestTimestampSchema, checksumsText, isOutsideManifest } from './manifest.js';

export type SignatureStatus = 'signed' | 'unsigned' | 'invalid' | 'untrusted';

export interface VerifyOptions {
  /**
   * Pinned public keys (`verify --trust`). When any are given, every run, ledger line and
   * sign-off must be signed by one of them: unsigned evidence or another key fails.
   */
  trust?: TrustedKey[];
  /**
   * Ledger lines copied elsewhere earlier (`verify --anchor`, e.g. the S3 upload's copy of a
   * run's line): each must still be in the ledger, byte for byte, at its seq. This is what
   * detects runs removed from the end of the ledger, which no chain can show by itself.
   */
  anchors?: { source: string; line: string }[];
  /**
   * PEM certificate(s) of the CA that issued the TSA's certificate (`verify --tsa-ca`): a
   * manifest.tsr must then carry a valid TSA signature chaining to it. Without it, the token
   * is checked to stamp this manifest.json (its digest), not its signature.
   */
  tsaCaPem?: string;
}

/**
 * A bundle's RFC 3161 timestamp as verify found it: `none` (none asked for), `stamped` (the
 * token stamps this manifest; signature not checked, no --tsa-ca), `verified` (and its
 * signature chains to --tsa-ca), `not-obtained` (the TSA failed at seal; recorded in the
 * manifest), `invalid` (missing, for another manifest, or a bad signature: a problem too).
 */
export interface TimestampVerification {
  status: 'none' | 'stamped' | 'verified' | 'not-obtained' | 'invalid';
  tsa: string | null;
  genTime: string | null;
  error: string | null;
}

export interface BundleVerification {
  ok: boolean;
  runDir: string;
  /** The runId the manifest names. */
  runId: string | null;
  /** sha256 of manifest.json as it is now (compare with the ledger). */
  manifestSha256: string | null;
  changed: string[];
  missing: string[];
  unlisted: string[];
  /** Problems with the manifest itself (absent, unreadable, unsafe paths) and with the signatures. */
  problems: string[];
  signature: { status: SignatureStatus; keyId: string | null };
  timestamp: TimestampVerification;
}

/**
 * Recompute every hash in the run's manifest; report changed, missing and unlisted files, a
 * SHA256SUMS that disagrees with the manifest, and signatures that do not verify.
 */
export async function verifyBundle(runDir: string, options: VerifyOptions = {}): Promise<BundleVerification> {
  const dir = path.resolve(runDir);
  const result: BundleVerification = {
    ok: false,
    runDir: dir,
    runId: null,
    manifestSha256: null,
    changed: [],
    missing: [],
    unlisted: [],
    problems: [],
    signature: { status: 'unsigned', keyId: null },
    timestamp: { status: 'none', tsa: null, genTime: null, error: null },
  };
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(path.join(dir, MANIFEST_FILE));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    result.problems.push(code === 'ENOENT' ? `${MANIFEST_FILE} is missing` : `cannot read ${MANIFEST_FILE}: ${(error as Error).message}`);
    return result;
  }
  result.manifestSha256 = sha256Hex(manifestBytes);
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    result.problems.push(`${MANIFEST_FILE} is not valid JSON`);
    return result;
  }
  const header = ManifestHeaderSchema.safeParse(parsedJson);
  if (!header.success) {
    result.problems.push(`${MANIFEST_FILE} is not a ${MANIFEST_SCHEMA} manifest`);
    return result;
  }
  const manifest = header.data;
  result.runId = typeof manifest.runId === 'string' ? manifest.runId : null;
  /** path → the sha256 the manifest records */
  const listed = new Map<string, string>();
  for (const listedEntry of manifest.files) {
    const parsedEntry = ManifestEntrySchema.safeParse(listedEntry);
    const shown = parsedEntry.success ? parsedEntry.data.path : isObject(listedEntry) ? listedEntry.path : undefined;
    if (!parsedEntry.success || !isSafeRelativePath(parsedEntry.data.path) || isOutsideManifest(parsedEntry.data.path)) {
      result.problems.push(`${MANIFEST_FILE} lists an unsafe path ${JSON.stringify(shown)}`);
      continue;
    }
    const entry = parsedEntry.data;
    const relativePath = entry.path;
    listed.set(relativePath, String(entry.sha256));
    try {
      const content = readFileSync(path.join(dir, relativePath)); // see readOptional: small files, read synchronously
      if (sha256Hex(content) !== entry.sha256 || content.byteLength !== entry.bytes) result.changed.push(relativePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') result.missing.push(relativePath);
      else throw error;
    }
  }

  const hasChecksums = manifest.checksumsFile !== undefined;
  if (hasChecksums && manifest.checksumsFile !== CHECKSUMS_FILE) {
    result.problems.push(`${MANIFEST_FILE} names checksumsFile ${JSON.stringify(manifest.checksumsFile)}, expected "${CHECKSUMS_FILE}"`);
  }
  const signed = manifest.signature !== undefined;
  // manifest.tsr covers manifest.json, so it is outside it; checkTimestamp checks it.
  const outside = new Set([MANIFEST_FILE, SIGNOFFS_FILE, TIMESTAMP_TOKEN_FILE]);
  if (hasChecksums) outside.add(CHECKSUMS_FILE);
  if (signed) [MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE].forEach((file) => outside.add(file));
  for (const relativePath of listFilesRecursiveSync(dir)) {
    if (outside.has(relativePath) || relativePath.startsWith(`${EXPORTS_DIR}/`)) continue;
    if (!listed.has(relativePath)) result.unlisted.push(relativePath);
  }

  let checksumsBytes: Buffer | undefined;
  if (hasChecksums) {
    checksumsBytes = await readOptional(path.join(dir, CHECKSUMS_FILE));
    if (checksumsBytes === undefined) result.missing.push(CHECKSUMS_FILE);
    else {
      const expected = checksumsText([...[...listed].map(([file, sha256]) => ({ path: file, sha256 })), { path: MANIFEST_FILE, sha256: result.manifestSha256 }]);
      if (!Buffer.from(expected).equals(checksumsBytes)) result.changed.push(CHECKSUMS_FILE);
    }
  }

  await checkTimestamp(dir, manifest.timestamp, manifestBytes, result.manifestSha256, options.tsaCaPem, result);

  const trust = options.trust ?? [];
  if (signed) await checkBundleSignature(dir, manifest.signature, listed, manifestBytes, checksumsBytes, trust, result);
  else if (trust.length > 0) {
    result.problems.push('unsigned: this run has no signature, and --trust requires every run to be signed by a trusted key');
  }
  result.ok = result.changed.length + result.missing.length + result.unlisted.length + result.problems.length === 0;
  return result;
}

/** The manifest's timestamp block against manifest.tsr: present when promised, stamping this manifest.json. */
async function checkTimestamp(dir: string, declared: unknown, manifestBytes: Buffer, manifestSha256: string, tsaCaPem: string | undefined, result: BundleVerification): Promise<void> {
  const tokenBytes = await readOptional(path.join(dir, TIMESTAMP_TOKEN_FILE));
  const block = declared === undefined ? undefined : ManifestTimestampSchema.safeParse(declared);
  if (block && !block.success) {
    result.problems.push(`${MANIFEST_FILE}: its timestamp block is not a drillbook RFC 3161 timestamp record`);
    result.timestamp = { status: 'invalid', tsa: null, genTime: null, error: null };
    return;
  }
  const tsa = block?.data.tsa ?? null;
  if (block && !block.data.token) {
    result.timestamp = { status: 'not-obtained', tsa, genTime: null, error: block.data.error ?? 'no reason recorded' };
    if (tokenBytes === undefined) return;
  }
  if (tokenBytes === undefined) {
    if (block) {
      result.missing.push(TIMESTAMP_TOKEN_FILE);
      result.timestamp = { status: 'invalid', tsa, genTime: null, error: `${TIMESTAMP_TOKEN_FILE} is missing` };
    }
    return;
  }
  const fail = (message: string) => {
    result.problems.push(message);
    result.timestamp = { status: 'invalid', tsa, genTime: null, error: message };
  };
  let info;
  try {
    info = describeTimestampToken(tokenBytes);
  } catch (error) {
    fail(`${TIMESTAMP_TOKEN_FILE} is not an RFC 3161 timestamp token: ${(error as Error).message}`);
    return;
  }
  if (info.sha256 !== manifestSha256) {
    fail(`${TIMESTAMP_TOKEN_FILE} stamps sha256 ${info.sha256}, not this ${MANIFEST_FILE} (${manifestSha256})`);
    return;
  }
  if (!block?.data.token) {
    // A token the manifest does not promise (added after the seal): it stamps this manifest, but say so.
    result.problems.push(`${TIMESTAMP_TOKEN_FILE} is present, but ${MANIFEST_FILE} records ${block ? 'that no timestamp was obtained' : 'no timestamp request'}`);
  }
  if (tsaCaPem !== undefined) {
    try {
      await verifyTimestampToken(tokenBytes, manifestBytes, { caCertPem: tsaCaPem });
    } catch (error) {
      fail(`${TIMESTAMP_TOKEN_FILE}: ${(error as Error).message}`);
      return;
    }
  }
  result.timestamp = { status: tsaCaPem !== undefined ? 'verified' : 'stamped', tsa, genTime: info.genTime.toISOString(), error: null };
}

async function checkBundleSignature(
  dir: string,
  declared: unknown,
  listed: Map<string, string>,
  manifestBytes: Buffer,
  checksumsBytes: Buffer | undefined,
  trust: TrustedKey[],
  result: BundleVerification,
): Promise<void> {
  const problemsBefore = result.problems.length;
  const missingBefore = result.missing.length;
  const block = ManifestSignatureSchema.safeParse(declared);
  const keyId = block.success ? block.data.keyId : isObject(declared) && typeof declared.keyId === 'string' && /^[0-9a-f]{16}$/.test(declared.keyId) ? declared.keyId : null;
  result.signature = { status: 'invalid', keyId };
  if (!block.success || keyId === null) {
    result.problems.push(`${MANIFEST_FILE}: its signature block is not a drillbook ${SIGNATURE_ALGORITHM} signature`);
    return;
  }
  const pem = await readOptional(path.join(dir, SIGNER_PUBLIC_KEY_FILE));
  if (!listed.has(SIGNER_PUBLIC_KEY_FILE)) {
    result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} is not listed in ${MANIFEST_FILE}`);
    if (pem === undefined) result.missing.push(SIGNER_PUBLIC_KEY_FILE);
  }
  let key: KeyObject | undefined;
  if (pem !== undefined) {
    const embedded = parsePublicKeyPem(pem.toString('utf8'));
    if (!embedded) result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} is not an Ed25519 public key`);
    else if (keyIdOf(embedded) !== keyId) {
      result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} holds key ${keyIdOf(embedded)}, but ${MANIFEST_FILE} names key ${keyId}`);
    } else key = embedded;
  }
  let untrusted = false;
  if (trust.length > 0) {
    const pinned = trust.find((candidate) => candidate.keyId === keyId);
    if (pinned) key = pinned.key;
    else {
      untrusted = true;
      result.problems.push(`signed by an unknown key ${keyId}: it is not among the --trust keys`);
    }
  }
  const signedFiles: [string, string, Buffer | undefined][] = [
    [MANIFEST_SIGNATURE_FILE, MANIFEST_FILE, manifestBytes],
    [CHECKSUMS_SIGNATURE_FILE, CHECKSUMS_FILE, checksumsBytes],
  ];
  for (const [signatureFile, dataFile, data] of signedFiles) {
    const signature = await readOptional(path.join(dir, signatureFile));
    if (signature === undefined) {
      result.missing.push(signatureFile);
      continue;
    }
    if (key === undefined || data === undefined) continue; // why is reported above
    if (!verifyBytes(data, signature, key)) {
      result.problems.push(`signature invalid: ${signatureFile} does not verify ${dataFile} with key ${keyId}`);
    }
  }
  const failed = result.problems.length > problemsBefore || result.missing.length > missingBefore || key === undefined;
  result.signature.status = untrusted ? 'untrusted' : failed ? 'invalid' : 'signed';
}

