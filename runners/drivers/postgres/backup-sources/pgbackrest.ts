/**
 * pgBackRest: `target.backup.pgbackrest { stanza, config?, set?, repo? }`.
 *
 * Preflight (before T0): `pgbackrest info --output=json` for the stanza, as the database user
 * (the repository's owner or a member of its group): the stanza is ok, the set exists (the
 * newest when `set` is absent), its PostgreSQL version, and that the repository holds WAL.
 *
 * Restore (after T0, so inside the RTO):
 * 1. `pgbackrest repo-ls --recurse --output=json archive/<stanza>` lists the archive as it is
 *    at T0 (started at T0, beside step 2, so it does not delay the restore); its segment and
 *    history names (without pgBackRest's `-<sha1>.gz` suffix) go into archive-at-t0.list;
 * 2. `pgbackrest restore --pg1-path=<scratch>/data --archive-mode=off [--set] [--repo]` lays the
 *    set into the scratch data directory (pgBackRest's own recovery settings are then
 *    overridden by the driver);
 * 3. the copy's restore_command is `grep -qxF %f archive-at-t0.list && pgbackrest archive-get
 *    %f "%p"`: WAL comes through archive-get (read-only on the repository), and only the WAL
 *    the repository held at T0. A list rather than `recovery_target_lsn`: the list bounds
 *    exactly what a real disaster at T0 would have left (the archive max at T0 is recorded
 *    with it), and it also refuses a `.history` file archived after T0.
 */
import path from 'node:path';
import { z } from 'zod';
import type { OsUser } from '../../../system.js';
import { PGBACKREST_SEGMENT, HISTORY_FILE, runAs, runAsSync, shellQuote } from './common.js';
import type { BackupFacts, BackupSource } from './types.js';
import fs from 'node:fs';

const PgBackRestSpec = z.strictObject({
  pgbackrest: z.strictObject({
    stanza: z.string().min(1),
    config: z.string().min(1).optional(),
    set: z.string().min(1).optional(),
    repo: z.number().int().min(1).optional(),
  }),
});
export type PgBackRestSpec = z.infer<typeof PgBackRestSpec>;
type Settings = PgBackRestSpec['pgbackrest'];

interface InfoBackup {
  label: string;
  type: string;
  timestamp: { start: number; stop: number };
  database?: { id: number; 'repo-key'?: number };
  info?: { size?: number; repository?: { size?: number; delta?: number } };
  error?: boolean;
}
interface InfoStanza {
  name: string;
  status: { code: number; message: string };
  db: { id: number; version: string; 'system-id': number }[];
  archive: { id: string; min: string | null; max: string | null; database: { id: number } }[];
  backup: InfoBackup[];
}

/** The pgbackrest binary: PATH. */
const PGBACKREST = 'pgbackrest';

function baseArgs(settings: Settings): string[] {
  return [...(settings.config ? [`--config=${settings.config}`] : []), `--stanza=${settings.stanza}`, ...(settings.repo ? [`--repo=${settings.repo}`] : [])];
}

/** The stanza's info, as `user`. */
export function pgbackrestInfo(settings: Settings, user: OsUser | undefined): InfoStanza {
  const text = runAsSync(PGBACKREST, [...baseArgs(settings), 'info', '--output=json'], user);
  const stanzas = JSON.parse(text) as InfoStanza[];
  const stanza = stanzas.find((s) => s.name === settings.stanza);
  if (!stanza) throw new Error(`pgbackrest info does not list stanza ${settings.stanza}`);
  return stanza;
}

function chooseSet(stanza: InfoStanza, settings: Settings): InfoBackup {
  const sets = stanza.backup.filter((b) => !b.error);
  if (sets.length === 0) throw new Error(`stanza ${settings.stanza} has no backup to restore (pgbackrest info lists none without error)`);
  if (!settings.set) return sets.at(-1)!;
  const set = sets.find((b) => b.label === settings.set);
  if (!set) throw new Error(`stanza ${settings.stanza} has no backup set ${settings.set}: it has ${sets.map((b) => b.label).join(', ')}`);
  return set;
}

/** The archive's segment and history names as PostgreSQL asks for them (pgBackRest's -<sha1>.<ext> suffix removed). */
export async function listRepoArchive(settings: Settings, user: OsUser | undefined, signal?: AbortSignal): Promise<string[]> {
  const args = [...(settings.config ? [`--config=${settings.config}`] : []), ...(settings.repo ? [`--repo=${settings.repo}`] : []), 'repo-ls', '--recurse', '--output=json', `archive/${settings.stanza}`];
  const listing = JSON.parse(await runAs(PGBACKREST, args, user, { timeoutMs: 120_000, signal })) as Record<string, { type: string }>;
  const names = new Set<string>();
  for (const [file, entry] of Object.entries(listing)) {
    if (entry.type !== 'file') continue;
    const base = path.basename(file);
    const segment = PGBACKREST_SEGMENT.exec(base);
    if (segment) names.add(segment[1]!);
    else if (HISTORY_FILE.test(base)) names.add(base.replace(/\.(gz|lz4|zst|bz2)$/, ''));
    else if (/^[0-9A-F]{8}\.history/.test(base)) names.add(base);
  }
  return [...names].sort();
}

/**
 * The pgBackRest settings that change when a segment reaches the repository (read from the
 * config file when drillbook can read it): with archive-async, archive-push returns once the
 * segment is queued locally, so the repository can lag PostgreSQL's archiver (the RPO floor
 * grows by that lag).
 */
function archivingSettings(settings: Settings): string | null {
  const file = settings.config ?? '/etc/pgbackrest/pgbackrest.conf';
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const wanted = ['archive-async', 'archive-push-queue-max', 'process-max', 'compress-type', 'archive-timeout'];
  const found = text
    .split('\n')
    .map((line) => /^\s*([a-z0-9-]+)\s*=\s*(.*?)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && wanted.includes(m[1]!))
    .map((m) => `${m[1]}=${m[2]}`);
  if (!found.some((f) => f.startsWith('archive-async='))) found.unshift('archive-async=n (default: the repository has a segment once archive_command returns)');
  return found.join(', ');
}

export const pgbackrestBackupSource: BackupSource<PgBackRestSpec> = {
  kind: 'pgbackrest',
  schema: PgBackRestSpec,
  plan: ({ pgbackrest: s }) => `pgBackRest stanza ${s.stanza}${s.set ? ` set ${s.set}` : ' (newest set)'}${s.repo ? ` repo${s.repo}` : ''} with archive-get`,
  preflight({ pgbackrest: settings }, env): BackupFacts {
    if (settings.config && !fs.existsSync(settings.config)) throw new Error(`the pgBackRest config ${settings.config} does not exist`);
    const stanza = pgbackrestInfo(settings, env.user);
    if (stanza.status.code !== 0) throw new Error(`pgBackRest stanza ${settings.stanza}: ${stanza.status.message} (status ${stanza.status.code})`);
    const set = chooseSet(stanza, settings);
    const db = stanza.db.find((d) => d.id === set.database?.id) ?? stanza.db.at(-1);
    if (!db) throw new Error(`pgbackrest info names no database for stanza ${settings.stanza}`);
    const major = Number(db.version.split('.')[0]);
    const archive = stanza.archive.find((a) => a.database.id === db.id);
    if (!archive?.max) throw new Error(`pgBackRest stanza ${settings.stanza} holds no archived WAL for PostgreSQL ${db.version}: the backup cannot reach a consistent state`);
    const archiving = archivingSettings(settings);
    return {
      source: 'pgbackrest',
      major,
      label: set.label,
      startedAt: new Date(set.timestamp.start * 1000).toISOString(),
      stoppedAt: new Date(set.timestamp.stop * 1000).toISOString(),
      sizeBytes: set.info?.size ?? null,
      wal: `pgBackRest archive ${archive.id} (${archive.min} … ${archive.max} before T0), fetched with archive-get`,
      checked: [
        `pgbackrest info: stanza ${settings.stanza} ${stanza.status.message}`,
        `set ${set.label} (${set.type}) stopped ${new Date(set.timestamp.stop * 1000).toISOString()}, PostgreSQL ${db.version}`,
        `archive ${archive.id}: ${archive.min} … ${archive.max}`,
        ...(archiving ? [`archiving settings in ${settings.config ?? 'pgbackrest.conf'}: ${archiving}`] : []),
      ],
    };
  },
  async restore({ pgbackrest: settings }, env) {
    env.markT0(`restore requested: pgBackRest stanza ${settings.stanza} set ${env.facts.label} → ${env.restoreTo}`);
    // The archive is listed at T0 as before, but beside the restore rather than ahead of it:
    // the listing starts at the same instant either way, and no longer delays the restore.
    const listing = listRepoArchive(settings, env.user, env.ctx.signal);
    listing.catch(() => undefined); // awaited below; a failed restore must not leave it unhandled
    fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
    if (env.user) fs.chownSync(env.dataDir, env.user.uid, env.user.gid);
    const args = [...baseArgs(settings), 'restore', `--pg1-path=${env.dataDir}`, '--archive-mode=off', `--set=${env.facts.label}`, '--log-level-console=warn'];
    await runAs(PGBACKREST, args, env.user, { signal: env.ctx.signal });
    env.ctx.record('pgbackrest restore done', { set: env.facts.label });
    const names = await listing;
    const listFile = path.join(env.scratchDir, 'archive-at-t0.list');
    fs.writeFileSync(listFile, names.length > 0 ? `${names.join('\n')}\n` : '');
    if (env.user) fs.chownSync(listFile, env.user.uid, env.user.gid);
    const segments = names.filter((n) => /^[0-9A-F]{24}$/.test(n));
    env.ctx.record('WAL archive as of T0', { files: names.length, newestSegment: segments.at(-1) ?? null, repository: `pgBackRest stanza ${settings.stanza}`, listedBesideTheRestore: true });
    // archive-get checks that it runs for the pg1-path it was given: the copy's, not production's.
    const archiveGet = [PGBACKREST, ...baseArgs(settings).map(shellQuote), shellQuote(`--pg1-path=${env.dataDir}`), 'archive-get', '%f', '"%p"'].join(' ');
    return {
      baseBackup: `pgBackRest stanza ${settings.stanza} set ${env.facts.label}`,
      restoreCommand: `grep -qxF "%f" ${shellQuote(listFile)} && ${archiveGet}`,
      walLimit: `restore_command runs archive-get only for the ${names.length} files the repository held at T0 (archive-at-t0.list; newest ${segments.at(-1) ?? 'none'})`,
      archiveAtT0: names,
      writtenAsUser: true,
      listArchive: () => listRepoArchive(settings, env.user),
      overridden: { restore_command: 'pgBackRest archive-get without the T0 limit', archive_mode: 'off (pgBackRest --archive-mode=off)' },
    };
  },
};
