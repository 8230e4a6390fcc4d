/**
 * Ed25519 signatures for evidence (node:crypto only): key references, key ids, signing and
 * checking bytes, signed JSON lines (ledger and sign-off records), and key pair files.
 *
 * Private keys are only ever given by reference (`file:PATH`, or `env:VAR` naming a variable
 * that holds the PEM); an inline key is refused, and no message here ever contains key
 * material. Signatures are raw 64-byte Ed25519 signatures over the exact bytes of a file, so
 * `openssl pkeyutl -verify -pubin -inkey signer.pub.pem -rawin -in FILE -sigfile FILE.sig`
 * checks them without drillbook.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EvidenceError, MANIFEST_FILE, pathExists, sha256Hex, writeFileAtomic } from './evidence-files.js';

export const SIGNATURE_ALGORITHM = 'Ed25519';
/** The environment variable holding the signing key reference when no flag gives one. */
export const SIGNING_KEY_ENV = 'DRILLBOOK_SIGNING_KEY';

/** Bundle files written at finalize when a key is configured (none of them in the manifest but the public key). */
export const SIGNER_PUBLIC_KEY_FILE = 'signer.pub.pem';
export const MANIFEST_SIGNATURE_FILE = 'manifest.sig';
/** `sha256sum -c` input covering every manifest file and manifest.json itself. */
export const CHECKSUMS_FILE = 'SHA256SUMS';
export const CHECKSUMS_SIGNATURE_FILE = 'SHA256SUMS.sig';
/** Review records appended after the run (not in the manifest; each line signed, each anchored in the ledger). */
export const SIGNOFFS_FILE = 'signoffs.jsonl';

const KEY_ID_HEX_LENGTH = 16;
const ED25519_SIGNATURE_BYTES = 64;

/** A bad key reference or key file; the CLI turns it into exit 2. */
export class SigningError extends EvidenceError {}

/** A key given as a reference to a file or an environment variable, never inline. */
export type KeyReference = { kind: 'file'; path: string } | { kind: 'env'; variable: string };

export function parseKeyReference(reference: string): KeyReference {
  const text = reference.trim();
  if (text.includes('-----BEGIN')) {
    throw new SigningError('inline keys are refused: give the key by reference, file:PATH or env:VARIABLE');
  }
  const match = /^(file|env):(.+)$/.exec(text);
  if (!match) {
    throw new SigningError(`"${text.slice(0, 80)}" is not a key reference: use file:PATH (a PEM file) or env:VARIABLE (a variable holding the PEM)`);
  }
  const [, kind, value] = match as unknown as [string, 'file' | 'env', string];
  if (kind === 'env') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new SigningError(`env:${value}: not an environment variable name`);
    return { kind: 'env', variable: value };
  }
  return { kind: 'file', path: value };
}

/** `~/x` → the home directory's x: the shell does not expand a `~` after `file:`. */
function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}

/**
 * Load an Ed25519 private key from a reference. Errors name the reference, never the content.
 * `cwd` resolves relative file paths (default: the process's).
 */
export async function loadSigningKey(
  reference: string,
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<KeyObject> {
  const parsed = parseKeyReference(reference);
  let pem: string;
  let where: string;
  if (parsed.kind === 'env') {
    where = `env:${parsed.variable}`;
    const value = (options.env ?? process.env)[parsed.variable];
    if (value === undefined || value.trim() === '') throw new SigningError(`${where}: the environment variable ${parsed.variable} is not set or empty`);
    pem = value;
  } else {
    const file = path.resolve(options.cwd ?? process.cwd(), expandHome(parsed.path));
    where = `file:${parsed.path}`;
    try {
      pem = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SigningError(`${where}: no such file`);
      if (code === 'EACCES') throw new SigningError(`${where}: permission denied`);
      if (code === 'EISDIR') throw new SigningError(`${where}: is a directory, not a key file`);
      throw new SigningError(`${where}: cannot read the key file (${code ?? 'error'})`);
    }
  }
  return privateKeyFromPem(pem, where);
}

function privateKeyFromPem(pem: string, where: string): KeyObject {
  if (/-----BEGIN (?:RSA |EC )?PUBLIC KEY-----/.test(pem)) {
    throw new SigningError(`${where}: this is a public key; signing needs the private key (drillbook keys generate writes both)`);
  }
  if (pem.includes('ENCRYPTED')) {
    throw new SigningError(`${where}: encrypted private keys are not supported; keep the key unencrypted in a file only the signer can read (mode 0600) or in a secret store exposed as env:VARIABLE`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new SigningError(`${where}: not a PEM private key (expected "-----BEGIN PRIVATE KEY-----", as written by drillbook keys generate)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningError(`${where}: an ${key.asymmetricKeyType ?? 'unknown'} key; drillbook signs with Ed25519 keys (drillbook keys generate)`);
  }
  return key;
}

/**
 * The signing key for a command: its `--sign-key` flag if given, otherwise the
 * DRILLBOOK_SIGNING_KEY environment variable, otherwise none (evidence is then unsigned).
 */
export async function resolveSigningKey(
  flag: string | undefined,
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<KeyObject | undefined> {
  const env = options.env ?? process.env;
  const reference = flag ?? env[SIGNING_KEY_ENV];
  if (reference === undefined || reference.trim() === '') return undefined;
  try {
    return await loadSigningKey(reference, { ...options, env });
  } catch (error) {
    if (flag === undefined && error instanceof SigningError) throw new SigningError(`${SIGNING_KEY_ENV}: ${error.message}`);
    throw error;
  }
}

/** Accepts a loaded key or a reference string (`file:PATH`, `env:VAR`). */
export async function toSigningKey(key: KeyObject | string): Promise<KeyObject> {
  if (typeof key === 'string') return loadSigningKey(key);
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new SigningError('the signing key must be an Ed25519 private key');
  }
  return key;
}

export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

// Pure memos (a value never changes for its key): verifying 10,000 runs signed by one key
// must not parse and re-encode that key 20,000 times.
const keyIds = new WeakMap<KeyObject, string>();
const parsedPublicKeys = new Map<string, KeyObject | undefined>();
const MAX_PARSED_PUBLIC_KEYS = 256;

/** The key id: the first 16 hex digits of the sha256 of the public key's DER (SPKI) encoding. */
export function keyIdOf(key: KeyObject): string {
  let keyId = keyIds.get(key);
  if (keyId === undefined) {
    const der = publicKeyOf(key).export({ type: 'spki', format: 'der' });
    keyId = createHash('sha256').update(der).digest('hex').slice(0, KEY_ID_HEX_LENGTH);
    keyIds.set(key, keyId);
  }
  return keyId;
}

export function publicKeyPem(key: KeyObject): string {
  return publicKeyOf(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** A public key from PEM text; undefined when it is not an Ed25519 public key. */
export function parsePublicKeyPem(pem: string): KeyObject | undefined {
  if (parsedPublicKeys.has(pem)) return parsedPublicKeys.get(pem);
  let key: KeyObject | undefined;
  try {
    const parsed = createPublicKey({ key: pem, format: 'pem' });
    key = parsed.asymmetricKeyType === 'ed25519' ? parsed : undefined;
  } catch {
    key = undefined;
  }
  if (parsedPublicKeys.size >= MAX_PARSED_PUBLIC_KEYS) parsedPublicKeys.clear();
  parsedPublicKeys.set(pem, key);
  return key;
}

export function signBytes(data: string | Uint8Array, privateKey: KeyObject): Buffer {
  return sign(null, typeof data === 'string' ? Buffer.from(data) : data, privateKey);
}

/** True only for a valid signature; a malformed signature or key is simply invalid. */
export function verifyBytes(data: string | Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.byteLength !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, typeof data === 'string' ? Buffer.from(data) : data, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * verifyBytes off the main thread: crypto.verify with a callback runs in libuv's thread pool,
 * so checking tens of thousands of ledger lines runs beside the reads instead of between them.
 */
export function verifyBytesAsync(data: string | Uint8Array, signature: Uint8Array, publicKey: KeyObject): Promise<boolean> {
  if (signature.byteLength !== ED25519_SIGNATURE_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, typeof data === 'string' ? Buffer.from(data) : data, publicKey, signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Trusted keys (verify --trust)

export interface TrustedKey {
  keyId: string;
  key: KeyObject;
  /** Where it came from, for messages. */
  source: string;
}

/** Read public keys to pin (`--trust`); a private key file is refused (auditors never need one). */
export async function readTrustedKeys(files: string[], cwd = process.cwd()): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const given of files) {
    const file = given.startsWith('file:') ? given.slice('file:'.length) : given;
    let pem: string;
    try {
      pem = await readFile(path.resolve(cwd, expandHome(file)), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new SigningError(`--trust ${given}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? 'error'})`}`);
    }
    if (pem.includes('PRIVATE KEY')) {
      throw new SigningError(`--trust ${given}: this is a private key; pin the public key instead (drillbook keys export-public)`);
    }
    const key = parsePublicKeyPem(pem);
    if (!key) throw new SigningError(`--trust ${given}: not a PEM Ed25519 public key`);
    keys.push({ keyId: keyIdOf(key), key, source: given });
  }
  return keys;
}

// ---------------------------------------------------------------------------------------
// Signed JSON lines: `{…,"sig":"<base64>"}` where the signature covers the exact bytes of
// the line with the `,"sig":"…"` member removed. Exact bytes, not a re-serialisation, so
// any change to the line (even one JSON would not notice) breaks the signature.

const SIGNED_LINE_PATTERN = /^(\{.*),"sig":"([A-Za-z0-9+/]*={0,2})"\}$/;

/** Append a signature member to compact JSON object text (which must end with `}`). */
export function signJsonLine(jsonText: string, privateKey: KeyObject): string {
  if (!jsonText.startsWith('{') || !jsonText.endsWith('}') || jsonText.includes('\n')) {
    throw new EvidenceError('signJsonLine: expected one compact JSON object');
  }
  const signature = signBytes(jsonText, privateKey).toString('base64');
  return `${jsonText.slice(0, -1)},"sig":"${signature}"}`;
}

/**
 * Split a signed line into the signed message and the signature. Undefined when the line has
 * no signature member at its end, or the signature is not canonical base64 of 64 bytes (a
 * flipped padding bit would otherwise decode to the same signature).
 */
export function splitSignedJsonLine(line: string): { message: string; signature: Buffer } | undefined {
  const match = SIGNED_LINE_PATTERN.exec(line);
  if (!match) return undefined;
  const [, body, encoded] = match as unknown as [string, string, string];
  const signature = Buffer.from(encoded, 'base64');
  if (signature.byteLength !== ED25519_SIGNATURE_BYTES || signature.toString('base64') !== encoded) return undefined;
  return { message: `${body}}`, signature };
}

export function verifyJsonLine(line: string, publicKey: KeyObject): boolean {
  const split = splitSignedJsonLine(line);
  return split !== undefined && verifyBytes(split.message, split.signature, publicKey);
}

// ---------------------------------------------------------------------------------------
// Key pair files (drillbook keys generate)

export interface GeneratedKeyPair {
  keyId: string;
  privateKeyFile: string;
  publicKeyFile: string;
}

/**
 * Generate an Ed25519 key pair into `<outDir>/<name>.key.pem` (mode 0600) and
 * `<outDir>/<name>.pub.pem`. Refuses to overwrite either file.
 */
export async function generateKeyPairFiles(outDir: string, name: string): Promise<GeneratedKeyPair> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(name)) {
    throw new SigningError(`--name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`);
  }
  const privateKeyFile = path.join(outDir, `${name}.key.pem`);
  const publicKeyFile = path.join(outDir, `${name}.pub.pem`);
  for (const file of [privateKeyFile, publicKeyFile]) {
    if (await pathExists(file)) throw new SigningError(`${file} already exists; refusing to overwrite a key (choose another --name or --out)`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  await writeFileAtomic(publicKeyFile, publicKeyPem(publicKey), { mode: 0o644 });
  return { keyId: keyIdOf(publicKey), privateKeyFile, publicKeyFile };
}

// ---------------------------------------------------------------------------------------
// What a report shows about a bundle's signature

export interface SignatureInfo {
  status: 'signed' | 'unsigned' | 'invalid';
  algorithm: typeof SIGNATURE_ALGORITHM | null;
  keyId: string | null;
  publicKeyPem: string | null;
  /** base64 of manifest.sig. */
  signatureBase64: string | null;
  manifestSha256: string | null;
  /** Why the status is `invalid`. */
  problem: string | null;
}

/**
 * The signature of a finalized bundle as a report displays it: key id, public key, whether
 * manifest.sig verifies manifest.json. Checks the signature only; `verify` checks the rest.
 */
export async function signatureInfo(runDir: string): Promise<SignatureInfo> {
  return signatureInfoOf((file) => readFile(path.join(runDir, file)).catch(() => undefined));
}

/** {@link signatureInfo} with the run directory's files read by `read` (a directory, S3). */
export async function signatureInfoOf(read: (file: string) => Promise<Buffer | undefined>): Promise<SignatureInfo> {
  const [manifest, pem, signature] = await Promise.all([read(MANIFEST_FILE), read(SIGNER_PUBLIC_KEY_FILE), read(MANIFEST_SIGNATURE_FILE)]);
  const info: SignatureInfo = {
    status: 'unsigned',
    algorithm: null,
    keyId: null,
    publicKeyPem: null,
    signatureBase64: null,
    manifestSha256: manifest ? sha256Hex(manifest) : null,
    problem: null,
  };
  if (!pem && !signature) return info;
  info.algorithm = SIGNATURE_ALGORITHM;
  info.status = 'invalid';
  info.signatureBase64 = signature?.toString('base64') ?? null;
  const key = pem ? parsePublicKeyPem(pem.toString('utf8')) : undefined;
  if (pem) info.publicKeyPem = pem.toString('utf8');
  if (!key) info.problem = pem ? `${SIGNER_PUBLIC_KEY_FILE} is not an Ed25519 public key` : `${SIGNER_PUBLIC_KEY_FILE} is missing`;
  else {
    info.keyId = keyIdOf(key);
    if (!manifest) info.problem = `${MANIFEST_FILE} is missing`;
    else if (!signature) info.problem = `${MANIFEST_SIGNATURE_FILE} is missing`;
    else if (!verifyBytes(manifest, signature, key)) info.problem = `${MANIFEST_SIGNATURE_FILE} does not verify ${MANIFEST_FILE}`;
    else info.status = 'signed';
  }
  return info;
}
