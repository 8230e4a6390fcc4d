/**
 * A plain base backup directory (`pg_basebackup -Fp`, or the sandbox's) plus a WAL archive
 * directory (what `archive_command` wrote): target.backup `{ baseBackupDir, walArchiveDir }`.
 * Only the WAL archived by T0 is replayed (archive-at-t0.list).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { prepareRestoredCopy, snapshotArchive } from '../backup.js';
import type { BackupSource } from './types.js';

const DirectorySpec = z.object({ baseBackupDir: z.string().min(1), walArchiveDir: z.string().min(1) });
export type DirectorySpec = z.infer<typeof DirectorySpec>;

function requireDirectory(dir: string, what: string): void {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`the ${what} ${dir} is not a directory: nothing was restored`);
}

export const directoryBackupSource: BackupSource<DirectorySpec> = {
  kind: 'directory',
  schema: DirectorySpec,
  plan: (spec) => `${spec.baseBackupDir} + WAL archive`,
  preflight(spec) {
    requireDirectory(spec.baseBackupDir, 'base backup');
    requireDirectory(spec.walArchiveDir, 'WAL archive');
  },
  async restore(spec, { ctx, markT0, dataDir, scratchDir, restoreTo, user }) {
    const archiveListFile = path.join(scratchDir, 'archive-at-t0.list');
    markT0(`restore requested: ${path.basename(spec.baseBackupDir)} + WAL archive → ${restoreTo}`);
    const archive = snapshotArchive(spec.walArchiveDir, archiveListFile);
    ctx.record('WAL archive as of T0', { files: archive.files, newestSegment: archive.newest });
    prepareRestoredCopy({ baseBackupDir: spec.baseBackupDir, walArchiveDir: spec.walArchiveDir, dataDir, restoreTo, user, archiveListFile });
    return { baseBackup: spec.baseBackupDir };
  },
};
