/**
 * Base backups with PostgreSQL's low-level API (pg_backup_start / file copy /
 * pg_backup_stop), so no pg_basebackup binary is needed; and restored copies built from a
 * base backup plus the WAL archive, the way a DBA restores by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { type Clock, isoNow, systemClock } from '../../clock.js';
import { type OsUser, chownTree } from '../../system.js';
import { writeSettings } from './server.js';

/** Contents PostgreSQL's documentation says to leave out of a base backup. */
const EXCLUDED_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'pg_internal.init', 'standby.signal', 'recovery.signal']);
const EMPTIED_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);

/** Copies a live data directory; files that vanish mid-copy are fine (WAL replay repairs). */
export function copyDataDirectory(source: string, destination: string, top = true): void {
  fs.mkdirSync(destination, { recursive: true, mode: 0o700 });
  for (const entry of fs.readdirSync(source, { withFileTypes: true })) {
    if (EXCLUDED_FILES.has(entry.name) || entry.name.startsWith('pgsql_tmp')) continue;
    const from = path.join(source, entry.name);
    const to = path.join(destination, entry.name);
    try {
      if (entry.isDirectory()) {
        if (top && EMPTIED_DIRS.has(entry.name)) fs.mkdirSync(to, { mode: 0o700 });
        else copyDataDirectory(from, to, false);
      } else if (entry.isFile()) {
        fs.copyFileSync(from, to);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** WAL archiving into a directory, never overwriting a segment already archived. */
export function archiveSettings(archiveDir: string, archiveTimeout: string): Record<string, string> {
  return {
    archive_mode: 'on',
    archive_command: `test ! -f "${archiveDir}/%f" && cp "%p" "${archiveDir}/%f"`,
    archive_timeout: archiveTimeout,
  };
}

export interface BaseBackup {
  dir: string;
  startLsn: string;
  stopLsn: string;
  takenAt: string;
}

export async function takeBaseBackup(client: pg.Client, dataDir: string, destination: string, user: OsUser | undefined, clock: Clock = systemClock): Promise<BaseBackup> {
  const takenAt = isoNow(clock);
  const started = await client.query<{ lsn: string }>(`SELECT pg_backup_start('drillbook', true) AS lsn`);
  let stopped: { lsn: string; labelfile: string; spcmapfile: string | null } | undefined;
  try {
    copyDataDirectory(dataDir, destination);
  } finally {
    // Always end backup mode, even when the copy failed, or the primary stays in it.
    const result = await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
      'SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(true)',
    );
    stopped = result.rows[0];
  }
  fs.writeFileSync(path.join(destination, 'backup_label'), stopped!.labelfile);
  if (stopped!.spcmapfile) fs.writeFileSync(path.join(destination, 'tablespace_map'), stopped!.spcmapfile);
  fs.chmodSync(destination, 0o700);
  chownTree(destination, user);
  return { dir: destination, startLsn: started.rows[0]!.lsn, stopLsn: stopped!.lsn, takenAt };
}

export interface RestorePlan {
  baseBackupDir: string;
  walArchiveDir: string;
  dataDir: string;
  /** ISO time, or 'latest' for the end of the archive. */
  restoreTo: string;
  user: OsUser | undefined;
  /**
   * A file listing the archive's WAL files at the restore request. When given, the copy
   * replays only those: a parallel restore must not profit from WAL that production went on
   * archiving after T0, which a real disaster would never have delivered.
   */
  archiveListFile?: string;
}

/** Writes the names of the files in the archive now, for `RestorePlan.archiveListFile`. */
export function snapshotArchive(walArchiveDir: string, listFile: string): { files: number; newest: string | null } {
  const names = fs.readdirSync(walArchiveDir).filter((name) => !name.startsWith('.')).sort();
  fs.writeFileSync(listFile, names.length > 0 ? `${names.join('\n')}\n` : '');
  const segments = names.filter((name) => /^[0-9A-F]{24}$/.test(name));
  return { files: names.length, newest: segments.at(-1) ?? null };
}

/**
 * Lays out a restored copy ready to start: base backup files, a restore_command reading the
 * archive, the recovery target, and `archive_mode = off` so the copy can never write into
 * the production archive it reads from.
 */
export function prepareRestoredCopy(plan: RestorePlan): void {
  copyDataDirectory(plan.baseBackupDir, plan.dataDir); // backup_label and tablespace_map included
  const copy = `cp "${plan.walArchiveDir}/%f" "%p"`;
  const settings: Record<string, string> = {
    restore_command: plan.archiveListFile ? `grep -qxF "%f" "${plan.archiveListFile}" && ${copy}` : copy,
    recovery_target_timeline: 'latest',
    recovery_target_action: 'promote',
    archive_mode: 'off',
    primary_conninfo: '',
    hot_standby: 'on',
  };
  // PostgreSQL's recovery_target_time refuses ISO 8601's `T` and `Z`: give it its own form.
  if (plan.restoreTo !== 'latest') settings.recovery_target_time = plan.restoreTo.replace('T', ' ').replace(/Z$/i, '+00');
  writeSettings(plan.dataDir, settings, undefined);
  fs.writeFileSync(path.join(plan.dataDir, 'recovery.signal'), '');
  fs.chmodSync(plan.dataDir, 0o700);
  chownTree(plan.dataDir, plan.user);
}

/** The settings that keep a restored copy from touching production, as enforced and recorded. */
export const COPY_SAFETY_SETTINGS = { archive_mode: 'off', archive_command: '', primary_conninfo: '', primary_slot_name: '' } as const;

export interface CopyConfiguration {
  dataDir: string;
  restoreCommand: string;
  restoreTo: string;
  user: OsUser | undefined;
  /** The files were written as `user` already (pgBackRest, tar, command ran as it): only drillbook's own files need chown. */
  writtenAsUser: boolean;
}

/**
 * Makes a laid-out backup a copy ready to start: the source's read-only restore_command, the
 * recovery target, recovery.signal (never standby.signal), archiving off and the replication
 * settings cleared (also passed on the command line at start, where they win over anything a
 * client could ALTER SYSTEM), a postgresql.conf and pg_hba.conf when the backup came without
 * them (Debian keeps both in /etc), and the directory at mode 0700 owned by the copy's user.
 * Returns what it had to add, for the evidence.
 */
export function configureCopy(copy: CopyConfiguration): string[] {
  const added: string[] = [];
  const conf = path.join(copy.dataDir, 'postgresql.conf');
  if (!fs.existsSync(conf)) {
    fs.writeFileSync(conf, '# written by drillbook: the backup held no postgresql.conf (kept outside the data directory)\n');
    added.push('postgresql.conf (empty: defaults)');
  }
  const hba = path.join(copy.dataDir, 'pg_hba.conf');
  if (!fs.existsSync(hba)) {
    fs.writeFileSync(hba, '# written by drillbook: the backup held no pg_hba.conf\nhost all all 127.0.0.1/32 scram-sha-256\n');
    added.push('pg_hba.conf (127.0.0.1/32 scram-sha-256 only)');
  }
  for (const name of ['standby.signal', 'postmaster.pid']) fs.rmSync(path.join(copy.dataDir, name), { force: true });
  const settings: Record<string, string> = {
    restore_command: copy.restoreCommand,
    recovery_target_timeline: 'latest',
    recovery_target_action: 'promote',
    ...COPY_SAFETY_SETTINGS,
    hot_standby: 'on',
  };
  // PostgreSQL's recovery_target_time refuses ISO 8601's `T` and `Z`: give it its own form.
  if (copy.restoreTo !== 'latest') settings.recovery_target_time = copy.restoreTo.replace('T', ' ').replace(/Z$/i, '+00');
  writeSettings(copy.dataDir, settings, undefined);
  fs.writeFileSync(path.join(copy.dataDir, 'recovery.signal'), '');
  fs.chmodSync(copy.dataDir, 0o700);
  if (!copy.writtenAsUser) chownTree(copy.dataDir, copy.user);
  else for (const file of [copy.dataDir, conf, hba, path.join(copy.dataDir, 'postgresql.auto.conf'), path.join(copy.dataDir, 'recovery.signal')]) if (copy.user) fs.chownSync(file, copy.user.uid, copy.user.gid);
  return added;
}
