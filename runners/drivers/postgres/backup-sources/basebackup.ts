/**
 * What `pg_basebackup` writes: `target.backup.basebackup { path, walArchiveDir }`.
 * - a plain directory (`-Fp`): copied;
 * - tar format (`-Ft`, optionally `-z` / `--compress=client-lz4|zstd`): a directory holding
 *   base.tar[.gz|.lz4|.zst] (and pg_wal.tar[…] when WAL was streamed), or the base tar file
 *   itself; extracted after T0 with GNU tar and the matching decompressor, pg_wal.tar into
 *   pg_wal/.
 * The WAL archive is read as in the v1 source: only what it held at T0 is replayed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { copyDataDirectory } from '../backup.js';
import { checkWalArchive, extractTar, isDirectory, isFile, parseBackupLabel, parseMajor, readTarMember, sizeOf, tarCompression } from './common.js';
import { plainBackupFacts, walFromDirectory } from './directory.js';
import type { BackupFacts, BackupSource } from './types.js';

const BaseBackupSpec = z.strictObject({
  basebackup: z.strictObject({ path: z.string().min(1), walArchiveDir: z.string().min(1) }),
});
export type BaseBackupSpec = z.infer<typeof BaseBackupSpec>;

interface TarLayout {
  base: string;
  wal: string | undefined;
}

/** The base and WAL tars of a tar-format backup at `p` (a directory or the base tar); undefined for a plain one. */
export function tarLayout(p: string): TarLayout | undefined {
  if (isFile(p)) {
    if (!tarCompression(p)) throw new Error(`the base backup ${p} is a file but not a tar, tar.gz, tar.lz4 or tar.zst`);
    const dir = path.dirname(p);
    const wal = fs.readdirSync(dir).find((n) => /^pg_wal\.tar/.test(n) && tarCompression(n));
    return { base: p, wal: wal ? path.join(dir, wal) : undefined };
  }
  if (!isDirectory(p)) throw new Error(`the base backup ${p} does not exist: nothing was restored`);
  const names = fs.readdirSync(p);
  const base = names.find((n) => /^base\.tar/.test(n) && tarCompression(n));
  if (!base) return undefined;
  const others = names.filter((n) => /^\d+\.tar/.test(n));
  if (others.length > 0) throw new Error(`${p} holds tablespace tars (${others.join(', ')}): restoring tablespaces is not supported; restore into one data directory`);
  const wal = names.find((n) => /^pg_wal\.tar/.test(n) && tarCompression(n));
  return { base: path.join(p, base), wal: wal ? path.join(p, wal) : undefined };
}

function tarFacts(layout: TarLayout, walArchiveDir: string, user: Parameters<BackupSource<BaseBackupSpec>['preflight']>[1]['user']): BackupFacts {
  const version = readTarMember(layout.base, 'PG_VERSION', user);
  if (version === null) throw new Error(`${layout.base} holds no PG_VERSION (or cannot be read with ${tarCompression(layout.base)}): it is not a pg_basebackup tar`);
  const major = parseMajor(version, `PG_VERSION in ${layout.base}`);
  const labelText = readTarMember(layout.base, 'backup_label', user);
  if (labelText === null) throw new Error(`${layout.base} holds no backup_label: it is not a base backup`);
  const label = parseBackupLabel(labelText);
  const wal = checkWalArchive(walArchiveDir);
  const dir = path.dirname(layout.base);
  const manifest = path.join(dir, 'backup_manifest');
  // The tar's own time is when pg_basebackup finished writing it (backup_label has no stop time).
  const stoppedAt = (isFile(manifest) ? fs.statSync(manifest) : fs.statSync(layout.wal ?? layout.base)).mtime.toISOString();
  const files = [layout.base, layout.wal].filter((f): f is string => f !== undefined);
  return {
    source: 'basebackup',
    major,
    label: label.label ?? path.basename(layout.base),
    startedAt: label.startTime,
    stoppedAt,
    sizeBytes: files.reduce((n, f) => n + sizeOf(f), 0),
    wal: `${layout.wal ? `${path.basename(layout.wal)} (streamed WAL), then ` : ''}${wal.description}`,
    checked: [
      `${path.basename(layout.base)} (${tarCompression(layout.base)}): PG_VERSION ${major}, backup_label ${label.label ?? '(no LABEL)'} started ${label.startTime ?? 'unknown'}`,
      layout.wal ? `${path.basename(layout.wal)} (${tarCompression(layout.wal)}) present` : 'no pg_wal tar: WAL comes from the archive only',
      `WAL archive: ${wal.description}`,
    ],
  };
}

export const baseBackupSource: BackupSource<BaseBackupSpec> = {
  kind: 'basebackup',
  schema: BaseBackupSpec,
  plan: (spec) => {
    const layout = (() => {
      try {
        return tarLayout(spec.basebackup.path);
      } catch {
        return undefined;
      }
    })();
    return `pg_basebackup ${layout ? `tar ${path.basename(layout.base)}${layout.wal ? ` + ${path.basename(layout.wal)}` : ''} (extracted after T0)` : `directory ${spec.basebackup.path}`} + WAL archive ${spec.basebackup.walArchiveDir}`;
  },
  preflight(spec, env) {
    const layout = tarLayout(spec.basebackup.path);
    return layout ? tarFacts(layout, spec.basebackup.walArchiveDir, env.user) : plainBackupFacts(spec.basebackup.path, spec.basebackup.walArchiveDir, 'basebackup');
  },
  async restore(spec, env) {
    const layout = tarLayout(spec.basebackup.path);
    env.markT0(`restore requested: pg_basebackup ${path.basename(layout?.base ?? spec.basebackup.path)} + WAL archive → ${env.restoreTo}`);
    const wal = walFromDirectory(spec.basebackup.walArchiveDir, env);
    if (!layout) {
      copyDataDirectory(spec.basebackup.path, env.dataDir);
      return { baseBackup: spec.basebackup.path, writtenAsUser: false, ...wal };
    }
    fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
    if (env.user) fs.chownSync(env.dataDir, env.user.uid, env.user.gid);
    await extractTar(layout.base, env.dataDir, env.user, env.ctx.signal);
    if (layout.wal) {
      const walDir = path.join(env.dataDir, 'pg_wal');
      fs.mkdirSync(walDir, { recursive: true, mode: 0o700 });
      if (env.user) fs.chownSync(walDir, env.user.uid, env.user.gid);
      await extractTar(layout.wal, walDir, env.user, env.ctx.signal);
    }
    env.ctx.record('base backup extracted', { base: path.basename(layout.base), wal: layout.wal ? path.basename(layout.wal) : null });
    return { baseBackup: `${layout.base}${layout.wal ? ` + ${path.basename(layout.wal)}` : ''}`, writtenAsUser: true, ...wal };
  },
};
