/**
 * What the backup sources share: reading a backup's PG_VERSION and backup_label, recognising
 * WAL file names, extracting tars with the right decompressor, listing an archive at T0 and
 * running tools as the database user.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OsUser } from '../../../system.js';

const execFileAsync = promisify(execFile);

/** A WAL segment (24 hex digits), optionally `.partial`, optionally compressed. */
export const WAL_SEGMENT = /^[0-9A-F]{24}(\.partial)?(\.gz|\.lz4|\.zst)?$/;
/** A timeline history file. */
export const HISTORY_FILE = /^[0-9A-F]{8}\.history(\.gz|\.lz4|\.zst)?$/;
/** A backup history file (`<segment>.<offset>.backup`). */
const BACKUP_HISTORY = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup(\.gz|\.lz4|\.zst)?$/;
/** pgBackRest's repository naming: `<segment>-<sha1>[.gz|.lz4|.zst|.bz2]`. */
export const PGBACKREST_SEGMENT = /^([0-9A-F]{24}(\.partial)?)-[0-9a-f]{40}(\.(gz|lz4|zst|bz2))?$/;

export function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** The major version in a PG_VERSION text ("15", "9.6" → 9). */
export function parseMajor(text: string, where: string): number {
  const match = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text);
  if (!match) throw new Error(`${where} does not hold a PostgreSQL version (found "${text.trim().slice(0, 40)}")`);
  return Number(match[1]);
}

export interface BackupLabel {
  label: string | null;
  startTime: string | null;
  startWal: string | null;
}

/** START TIME, LABEL and START WAL LOCATION of a backup_label. */
export function parseBackupLabel(text: string): BackupLabel {
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? null;
  const start = field('START TIME');
  return { label: field('LABEL'), startTime: start ? pgTimeToIso(start) : null, startWal: field('START WAL LOCATION') };
}

/** "2026-12-01 09:31:02 UTC" (backup_label's form) → ISO 8601; null when unreadable. */
export function pgTimeToIso(text: string): string | null {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.\d+)? ?(UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  if (!match) return null;
  const zone = !match[3] || match[3] === 'UTC' || match[3] === 'GMT' ? 'Z' : match[3].length === 3 ? `${match[3]}:00` : match[3];
  const date = new Date(`${match[1]}T${match[2]}${zone}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Bytes of a file, or of every file under a directory. */
export function sizeOf(p: string): number {
  const info = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of fs.readdirSync(p)) total += sizeOf(path.join(p, entry));
  return total;
}

/**
 * The WAL archive directory's naming, checked before T0: plain segments (optionally .gz/.lz4/
 * .zst, as some archive_commands write), or a clear refusal for a pgBackRest repository or
 * a directory without any WAL.
 */
export function checkWalArchive(dir: string): { files: number; compressed: Set<string>; description: string } {
  if (!isDirectory(dir)) throw new Error(`the WAL archive ${dir} is not a directory`);
  const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.'));
  if (names.some((n) => PGBACKREST_SEGMENT.test(n)) || names.includes('archive.info'))
    throw new Error(`the WAL archive ${dir} is a pgBackRest repository (segments named <segment>-<sha1>.gz): use target.backup.pgbackrest { stanza }`);
  const segments = names.filter((n) => WAL_SEGMENT.test(n));
  const unknown = names.filter((n) => !WAL_SEGMENT.test(n) && !HISTORY_FILE.test(n) && !BACKUP_HISTORY.test(n));
  if (segments.length === 0)
    throw new Error(`the WAL archive ${dir} holds no WAL segment${unknown.length > 0 ? ` (it holds ${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ', …' : ''}, which are not WAL file names)` : ''}`);
  const compressed = new Set(segments.map((n) => /\.(gz|lz4|zst)$/.exec(n)?.[1]).filter((c): c is string => c !== undefined));
  return {
    files: names.length,
    compressed,
    description: `${segments.length} WAL segments in ${dir}${compressed.size > 0 ? ` (compressed: ${[...compressed].join(', ')})` : ' (plain)'}`,
  };
}

/**
 * A read-only restore_command for a WAL directory that fetches only the files listed in
 * `listFile` (the archive at T0): a plain segment is copied, a compressed one decompressed.
 */
export function directoryRestoreCommand(walArchiveDir: string, listFile: string, compressed: Set<string>): string {
  const dir = shellQuote(walArchiveDir);
  const list = shellQuote(listFile);
  const tools: Record<string, string> = { gz: 'gzip -dc', lz4: 'lz4 -dc', zst: 'zstd -dcq' };
  const steps = [`{ grep -qxF "%f" ${list} && cp ${dir}/%f "%p"; }`];
  for (const ext of ['gz', 'lz4', 'zst']) if (compressed.has(ext)) steps.push(`{ grep -qxF "%f.${ext}" ${list} && ${tools[ext]} ${dir}/%f.${ext} > "%p"; }`);
  return steps.join(' || ');
}

/** Writes the archive's current file names (one a line) to `listFile`; returns them. */
export function snapshotDirectory(dir: string, listFile: string): string[] {
  const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  fs.writeFileSync(listFile, names.length > 0 ? `${names.join('\n')}\n` : '');
  return names;
}

export type TarCompression = 'none' | 'gzip' | 'lz4' | 'zstd';

export function tarCompression(file: string): TarCompression | undefined {
  if (/\.tar$/.test(file)) return 'none';
  if (/\.tar\.gz$|\.tgz$/.test(file)) return 'gzip';
  if (/\.tar\.lz4$/.test(file)) return 'lz4';
  if (/\.tar\.zst$/.test(file)) return 'zstd';
  return undefined;
}

function tarArgs(compression: TarCompression): string[] {
  switch (compression) {
    case 'none':
      return [];
    case 'gzip':
      return ['-z'];
    case 'lz4':
      return ['-I', 'lz4 -d'];
    case 'zstd':
      return ['-I', 'zstd -d'];
  }
}

/** Reads one member of a tar without extracting the rest (`--occurrence`: stops at the first). */
export function readTarMember(file: string, member: string, user: OsUser | undefined): string | null {
  const compression = tarCompression(file);
  if (!compression) throw new Error(`${file} is not a tar, tar.gz, tar.lz4 or tar.zst file`);
  try {
    return execFileSync('tar', [...tarArgs(compression), '-x', '-O', '-f', file, '--occurrence=1', member], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: user?.uid,
      gid: user?.gid,
    });
  } catch {
    return null;
  }
}

/** Extracts a tar into `dir` (as `user`, so the files are the copy's), after T0. */
export async function extractTar(file: string, dir: string, user: OsUser | undefined, signal?: AbortSignal): Promise<void> {
  const compression = tarCompression(file);
  if (!compression) throw new Error(`${file} is not a tar, tar.gz, tar.lz4 or tar.zst file`);
  await execFileAsync('tar', [...tarArgs(compression), '-x', '-f', file, '-C', dir, '--no-same-owner'], { uid: user?.uid, gid: user?.gid, maxBuffer: 16 * 1024 * 1024, signal });
}

/** Runs a tool as `user` (when root) and returns its stdout; the error carries its stderr. */
export async function runAs(file: string, args: string[], user: OsUser | undefined, options: { timeoutMs?: number; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { uid: user?.uid, gid: user?.gid, timeout: options.timeoutMs ?? 0, maxBuffer: 64 * 1024 * 1024, signal: options.signal, env: options.env, cwd: '/' });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${path.basename(file)} ${args.filter((a) => !a.startsWith('--config')).join(' ')} failed: ${(e.stderr ?? '').trim().split('\n').slice(-3).join(' / ') || e.message}`);
  }
}

export function runAsSync(file: string, args: string[], user: OsUser | undefined, timeoutMs = 60_000): string {
  try {
    return execFileSync(file, args, { uid: user?.uid, gid: user?.gid, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  } catch (error) {
    const e = error as { stderr?: string; message: string; code?: string };
    if (e.code === 'ENOENT') throw new Error(`${file} is not installed (not found on PATH)`);
    throw new Error(`${path.basename(file)} ${args.filter((a) => !a.startsWith('--config')).join(' ')} failed: ${(e.stderr ?? '').trim().split('\n').slice(-3).join(' / ') || e.message}`);
  }
}

export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
