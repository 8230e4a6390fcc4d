/**
 * The backup-source contract for PostgreSQL restores: where a parallel restore's data comes
 * from. A source is one module here plus one entry in registry.ts: its settings schema, its
 * plan text, a preflight (before T0: can this backup be restored at all, and by which
 * PostgreSQL major?) and the restore into the scratch data directory, which starts at T0 so
 * all of it is inside the RTO.
 */
import type { z } from 'zod';
import type { Instant } from '../../../clock.js';
import type { RunContext } from '../../../context.js';
import type { OsUser } from '../../../system.js';

/** What the preflight established about the backup (before T0). */
export interface BackupFacts {
  /** The source kind as the evidence names it: pgbackrest, basebackup, command, baseBackupDir. */
  source: string;
  /** The backup's PostgreSQL major version (its PG_VERSION); null when only the restore can tell (command). */
  major: number | null;
  /** pgBackRest set, backup_label LABEL, or the path. */
  label: string;
  /** ISO 8601; null when the backup does not say. */
  startedAt: string | null;
  stoppedAt: string | null;
  /** Bytes of the backup as stored (compressed size for tars, repository size for pgBackRest). */
  sizeBytes: number | null;
  /** How its WAL is reached and named ("pgBackRest archive-get", "plain segments in …"). */
  wal: string;
  /** What the preflight checked, for the evidence and `plan`. */
  checked: string[];
}

export interface PreflightEnv {
  /** The OS user tools run as when drillbook runs as root (the owner of the repo and the copy). */
  user: OsUser | undefined;
}

export interface RestoreEnv {
  ctx: RunContext;
  /** Call when the restore is requested: T0. The source does every restore step after it. */
  markT0(action: string): Instant;
  /** The copy's (empty) data directory, and the scratch directory around it. */
  dataDir: string;
  scratchDir: string;
  restoreTo: string;
  /** The OS user owning the copy when drillbook runs as root. */
  user: OsUser | undefined;
  /** The preflight's facts (taken before T0). */
  facts: BackupFacts;
  /**
   * Production's archiver as it reports itself now (pg_stat_archiver): for sources that cannot
   * list their archive, the newest segment archived is read just before T0 and limits recovery.
   */
  readArchiver?: () => Promise<{ lastArchivedWal: string | null; walSegmentBytes: number }>;
}

export interface RestoredData {
  /** How the evidence names the backup used. */
  baseBackup: string;
  /**
   * The copy's restore_command: reads WAL from the archive and nothing else, and only the WAL
   * the archive held at T0 where the source can list it (a real disaster would not have
   * delivered what production archived afterwards).
   */
  restoreCommand: string;
  /** How recovery is held to the WAL archived by T0, for the evidence. */
  walLimit: string;
  /** The archive's WAL and history files at T0, when the source can list them. */
  archiveAtT0: string[] | null;
  /** Lists the archive again (after the drill: no new timeline or .history from the copy); null when it cannot be listed. */
  listArchive: (() => Promise<string[]>) | null;
  /** The files were written as the copy's user (a tool ran as it); false: drillbook copied them and chowns them. */
  writtenAsUser: boolean;
  /** Settings the source's restore wrote that the copy must not keep (for the evidence). */
  overridden?: Record<string, string>;
}

export interface BackupSource<Spec> {
  kind: string;
  /** The settings this source takes (validated before use). */
  schema: z.ZodType<Spec>;
  /** The plan's text for the restore ("<what> + WAL archive"). */
  plan(spec: Spec): string;
  /** Before T0: throws with a clear reason when the backup cannot be restored; what it found otherwise. */
  preflight(spec: Spec, env: PreflightEnv): BackupFacts;
  /** After `markT0`: lays the backup into `env.dataDir`; the driver then configures the copy and starts it. */
  restore(spec: Spec, env: RestoreEnv): Promise<RestoredData>;
}
