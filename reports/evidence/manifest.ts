/**
 * manifest.json and SHA256SUMS. manifest.json lists the sha256 of every file of the run;
 * SHA256SUMS repeats them (plus manifest.json's) in `sha256sum -c` format; with a signing key,
 * manifest.sig and SHA256SUMS.sig are raw Ed25519 signatures over those two files' exact bytes
 * and signer.pub.pem (listed in the manifest) holds the public key. manifest.json is written
 * last: its presence marks a finished bundle.
 */
import path from 'node:path';
import { z } from 'zod';
import { EXPORTS_DIR, MANIFEST_FILE, isTempFileName, listFilesRecursive, sha256File } from '../evidence-files.js';
import { CHECKSUMS_FILE, CHECKSUMS_SIGNATURE_FILE, MANIFEST_SIGNATURE_FILE, SIGNATURE_ALGORITHM, SIGNER_PUBLIC_KEY_FILE, SIGNOFFS_FILE } from '../signing.js';
import { TIMESTAMP_TOKEN_FILE } from '../timestamp.js';

export const MANIFEST_SCHEMA = 'drillbook.dev/manifest/v1';
export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

export interface ManifestSignature {
  algorithm: typeof SIGNATURE_ALGORITHM;
  keyId: string;
  /** The public key file, listed in `files`. */
  publicKey: typeof SIGNER_PUBLIC_KEY_FILE;
  /** Raw Ed25519 signatures over the exact bytes of manifest.json and SHA256SUMS. */
  signatures: [typeof MANIFEST_SIGNATURE_FILE, typeof CHECKSUMS_SIGNATURE_FILE];
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  runId: string;
  createdAt: string;
  /** `sha256sum -c` file of every listed file and manifest.json (absent in bundles written before it existed). */
  checksumsFile?: typeof CHECKSUMS_FILE;
  /** Present when the bundle is signed. */
  signature?: ManifestSignature;
  /** Present when an RFC 3161 timestamp was asked for at seal; see {@link ManifestTimestamp}. */
  timestamp?: ManifestTimestamp;
  files: ManifestEntry[];
}

/**
 * An RFC 3161 timestamp asked for at seal (`run --tsa`). `token`: the TSA's token for this
 * manifest.json's sha256 is in manifest.tsr (outside the manifest, which it covers), so a
 * deleted token is detected. `error`: the TSA did not give one; the bundle was sealed without.
 */
export interface ManifestTimestamp {
  /** The TSA, named without credentials or query string. */
  tsa: string;
  token?: typeof TIMESTAMP_TOKEN_FILE;
  error?: string;
}

export const ManifestTimestampSchema = z.looseObject({ tsa: z.string(), token: z.literal(TIMESTAMP_TOKEN_FILE).optional(), error: z.string().optional() });

/**
 * What verification requires of a manifest.json before it looks at the entries: the schema
 * name and a list of files. Entries, the checksums file name and the signature block are
 * checked one by one, so that each problem is named (see verify-bundle.ts).
 */
export const ManifestHeaderSchema = z.looseObject({
  schema: z.literal(MANIFEST_SCHEMA),
  runId: z.unknown().optional(),
  checksumsFile: z.unknown().optional(),
  signature: z.unknown().optional(),
  files: z.array(z.unknown()),
});

/** One listed file as verification reads it: a path string; sha256 and bytes are compared as found. */
export const ManifestEntrySchema = z.looseObject({ path: z.string(), sha256: z.unknown().optional(), bytes: z.unknown().optional() });

/** The signature block of a signed manifest. */
export const ManifestSignatureSchema = z.looseObject({
  algorithm: z.literal(SIGNATURE_ALGORITHM),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  publicKey: z.literal(SIGNER_PUBLIC_KEY_FILE),
});

/** Files of a run directory that are never listed in its manifest (they cover it, or come after it). */
export const OUTSIDE_MANIFEST = new Set([MANIFEST_FILE, CHECKSUMS_FILE, MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE, SIGNOFFS_FILE, TIMESTAMP_TOKEN_FILE]);

/** A file never listed in a manifest (manifest.json, SHA256SUMS, their signatures, signoffs.jsonl, manifest.tsr). */
export function isOutsideManifest(relativePath: string): boolean {
  return OUTSIDE_MANIFEST.has(relativePath);
}

function coveredByManifest(relativePath: string): boolean {
  return (
    !OUTSIDE_MANIFEST.has(relativePath) &&
    !relativePath.startsWith(`${EXPORTS_DIR}/`) &&
    !isTempFileName(path.posix.basename(relativePath))
  );
}

export async function buildManifest(dir: string, runId: string, createdAt: Date, keyId: string | null): Promise<Manifest> {
  const files: ManifestEntry[] = [];
  for (const relativePath of (await listFilesRecursive(dir)).filter(coveredByManifest)) {
    files.push({ path: relativePath, ...(await sha256File(path.join(dir, relativePath))) });
  }
  const signature: ManifestSignature | undefined =
    keyId === null
      ? undefined
      : { algorithm: SIGNATURE_ALGORITHM, keyId, publicKey: SIGNER_PUBLIC_KEY_FILE, signatures: [MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE] };
  // `files` last, so the short header stays at the top for a reader.
  return {
    schema: MANIFEST_SCHEMA,
    runId,
    createdAt: createdAt.toISOString(),
    checksumsFile: CHECKSUMS_FILE,
    ...(signature ? { signature } : {}),
    files,
  };
}

/**
 * SHA256SUMS content in GNU `sha256sum` format (two spaces: text mode), sorted by path. A
 * name holding a backslash or a line break is escaped the way sha256sum does: a leading
 * backslash, then `\\`, `\n`, `\r`.
 */
export function checksumsText(files: { path: string; sha256: string }[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(({ path: name, sha256 }) =>
      /[\\\n\r]/.test(name)
        ? `\\${sha256}  ${name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r')}\n`
        : `${sha256}  ${name}\n`,
    )
    .join('');
}

