/**
 * A plain base backup directory (`pg_basebackup -Fp`, or the sandbox's) plus a WAL archive
 * directory (what `archive_command` wrote): the v1 target.backup `{ baseBackupDir,
 * walArchiveDir }`, and the plain-directory case of `basebackup`. Only the WAL archived by
 * T0 is replayed (archive-at-t0.list).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { copyDataDirectory } from '../backup.js';
import { checkWalArchive, directoryRestoreCommand, isDirectory, isFile, parseBackupLabel, parseMajor, sizeOf, snapshotDirectory, tarCompression } from './common.js';
import type { BackupFacts, BackupSource, RestoredData, RestoreEnv } from './types.js';

const DirectorySpec = z.object({ baseBackupDir: z.string().min(1), walArchiveDir: z.string().min(1) });
export type DirectorySpec = z.infer<typeof DirectorySpec>;

/** Why a directory that is not a plain base backup was refused, with the source that reads it. */
function notPlainBackup(dir: string): string {
  const names = fs.readdirSync(dir);
  const tar = names.find((n) => /^base\.tar/.test(n) && tarCompression(n));
  if (tar) return `${dir} holds ${tar}, a tar-format pg_basebackup: use target.backup.basebackup { path, walArchiveDir }`;
  if (names.includes('backup.info') || (names.includes('backup') && names.includes('archive')))
    return `${dir} is a pgBackRest repository (compressed files, WAL named <segment>-<sha1>.gz): use target.backup.pgbackrest { stanza }`;
  if (names.includes('backup.manifest')) return `${dir} is a pgBackRest backup set inside a repository: use target.backup.pgbackrest { stanza, set }`;
  return `${dir} has no PG_VERSION: it is not a PostgreSQL base backup`;
}

/** The facts of a plain base backup directory; throws naming what it is instead. */
export function plainBackupFacts(dir: string, walArchiveDir: string, source: string): BackupFacts {
  if (!isDirectory(dir)) throw new Error(`the base backup ${dir} is not a directory: nothing was restored`);
  const versionFile = path.join(dir, 'PG_VERSION');
  if (!isFile(versionFile)) throw new Error(notPlainBackup(dir));
  const major = parseMajor(fs.readFileSync(versionFile, 'utf8'), versionFile);
  const labelFile = path.join(dir, 'backup_label');
  if (!isFile(labelFile)) throw new Error(`${dir} has PG_VERSION but no backup_label: it is a data directory, not a base backup taken with pg_basebackup or pg_backup_start/stop`);
  const label = parseBackupLabel(fs.readFileSync(labelFile, 'utf8'));
  const wal = checkWalArchive(walArchiveDir);
  // backup_label has no stop time: pg_basebackup writes backup_manifest last, the low-level API
  // writes backup_label at pg_backup_stop, so the later of the two files is when the backup stopped.
  const manifest = path.join(dir, 'backup_manifest');
  const stoppedAt = (isFile(manifest) ? fs.statSync(manifest) : fs.statSync(labelFile)).mtime.toISOString();
  return {
    source,
    major,
    label: label.label ?? path.basename(dir),
    startedAt: label.startTime,
    stoppedAt,
    sizeBytes: sizeOf(dir),
    wal: wal.description,
    checked: [`${versionFile}: PostgreSQL ${major}`, `backup_label: ${label.label ?? '(no LABEL)'} started ${label.startTime ?? 'unknown'}`, `WAL archive: ${wal.description}`],
  };
}

/** At T0: the archive listing that bounds recovery, and a restore_command reading only it. */
export function walFromDirectory(walArchiveDir: string, env: RestoreEnv): Pick<RestoredData, 'restoreCommand' | 'walLimit' | 'archiveAtT0' | 'listArchive'> {
  const listFile = path.join(env.scratchDir, 'archive-at-t0.list');
  const names = snapshotDirectory(walArchiveDir, listFile);
  const wal = checkWalArchive(walArchiveDir);
  const segments = names.filter((n) => /^[0-9A-F]{24}/.test(n) && !n.includes('.backup'));
  env.ctx.record('WAL archive as of T0', { files: names.length, newestSegment: segments.at(-1) ?? null });
  return {
    restoreCommand: directoryRestoreCommand(walArchiveDir, listFile, wal.compressed),
    walLimit: `restore_command fetches only the ${names.length} files listed in archive-at-t0.list (the archive at T0; newest ${segments.at(-1) ?? 'none'})`,
    archiveAtT0: names,
    listArchive: async () => fs.readdirSync(walArchiveDir).filter((n) => !n.startsWith('.')).sort(),
  };
}

export const directoryBackupSource: BackupSource<DirectorySpec> = {
  kind: 'directory',
  schema: DirectorySpec,
  plan: (spec) => `${spec.baseBackupDir} + WAL archive`,
  preflight: (spec) => plainBackupFacts(spec.baseBackupDir, spec.walArchiveDir, 'baseBackupDir'),
  async restore(spec, env) {
    env.markT0(`restore requested: ${path.basename(spec.baseBackupDir)} + WAL archive → ${env.restoreTo}`);
    const wal = walFromDirectory(spec.walArchiveDir, env);
    copyDataDirectory(spec.baseBackupDir, env.dataDir); // backup_label and tablespace_map included
    return { baseBackup: spec.baseBackupDir, writtenAsUser: false, ...wal };
  },
};
