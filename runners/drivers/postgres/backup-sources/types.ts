/**
 * The backup-source contract for PostgreSQL restores: where a parallel restore's data comes
 * from. A source is one module here plus one entry in registry.ts: its settings schema, its
 * plan text, a preflight (before T0: can this backup be restored at all?) and the restore
 * into the scratch data directory, which starts at T0 so all of it is inside the RTO.
 */
import type { z } from 'zod';
import type { Instant } from '../../../clock.js';
import type { RunContext } from '../../../context.js';
import type { OsUser } from '../../../system.js';

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
}

export interface RestoredData {
  /** How the evidence names the backup used. */
  baseBackup: string;
}

export interface BackupSource<Spec> {
  kind: string;
  /** The settings this source takes (validated before use). */
  schema: z.ZodType<Spec>;
  /** The plan's text for the restore ("<what> + WAL archive"). */
  plan(spec: Spec): string;
  /** Before T0: throws with a clear reason when the backup cannot be restored. */
  preflight(spec: Spec): void;
  /** After `markT0`: lays the backup into `env.dataDir`, configured to recover to `env.restoreTo`. */
  restore(spec: Spec, env: RestoreEnv): Promise<RestoredData>;
}
