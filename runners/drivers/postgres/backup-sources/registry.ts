/** The backup sources by kind; target.backup names its kind by its keys (v1: baseBackupDir + walArchiveDir). */
import { baseBackupSource } from './basebackup.js';
import { commandBackupSource } from './command.js';
import { directoryBackupSource } from './directory.js';
import { pgbackrestBackupSource } from './pgbackrest.js';
import type { BackupSource } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each source validates its own spec
export const backupSources: readonly BackupSource<any>[] = [pgbackrestBackupSource, baseBackupSource, commandBackupSource, directoryBackupSource];

/** The source whose schema accepts `spec`, with the parsed spec; an error listing the kinds otherwise. */
export function backupSourceFor(spec: unknown): { source: BackupSource<unknown>; spec: unknown } {
  for (const source of backupSources) {
    const parsed = source.schema.safeParse(spec);
    if (parsed.success) return { source, spec: parsed.data };
  }
  throw new Error(`target.backup matches no backup source: known sources are ${backupSources.map((s) => s.kind).join(', ')}`);
}
