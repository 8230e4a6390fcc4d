/**
 * Any backup tool, by command: `target.backup.command { restore, restoreCommand }` (WAL-G
 * `backup-fetch {dataDir} LATEST` + `wal-g wal-fetch %f %p`, Barman `barman-cloud-restore …`
 * + `barman-wal-restore …`, and the like).
 *
 * `restore` runs after T0 (inside the RTO) through `/bin/sh -c`, as the copy's OS user, with
 * `{dataDir}` replaced by the copy's empty data directory (shell-quoted); it must leave a data
 * directory with PG_VERSION and backup_label there. `restoreCommand` becomes the copy's
 * restore_command (PostgreSQL replaces `%f` and `%p`); it must only read the archive.
 *
 * How recovery is held to the WAL archived by T0, although this source cannot list its archive:
 * just before T0, production's archiver says which segment it archived last
 * (`pg_stat_archiver.last_archived_wal`; archiving goes in order, so every earlier one is in
 * the archive too). The copy's restore_command is wrapped, `grep -qxF "%f" archive-at-t0.list
 * && <restoreCommand>`, with the list computed from that name: the segments from the restored
 * backup's start segment (backup_label) through it, and the history files up to its timeline.
 * A segment production archived after T0 is refused, as a real disaster at T0 would not have
 * delivered it. Without a backup_label or an archiver report the copy is not limited (the
 * evidence says so).
 *
 * What this source cannot know before it ran: the backup's PostgreSQL version. The binaries
 * are chosen after the restore from the restored PG_VERSION, unless `binDir` is set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isFile, parseBackupLabel, parseMajor, runAs, runAsSync, shellQuote } from './common.js';
import type { BackupSource, RestoreEnv } from './types.js';
import { startSegmentOf, walNamesThrough } from './wal-names.js';

const CommandSpec = z.strictObject({
  command: z.strictObject({ restore: z.string().min(1), restoreCommand: z.string().min(1) }),
});
export type CommandSpec = z.infer<typeof CommandSpec>;

/** The restore command with {dataDir} filled in. */
export function restoreShellCommand(restore: string, dataDir: string): string {
  return restore.replaceAll('{dataDir}', shellQuote(dataDir));
}

export const commandBackupSource: BackupSource<CommandSpec> = {
  kind: 'command',
  schema: CommandSpec,
  plan: ({ command }) => `command \`${command.restore}\` (after T0) + restore_command \`${command.restoreCommand}\``,
  preflight({ command }, env) {
    if (!command.restore.includes('{dataDir}')) throw new Error('backup.command.restore must name {dataDir}, the empty directory it restores into');
    if (!command.restoreCommand.includes('%f') || !command.restoreCommand.includes('%p'))
      throw new Error('backup.command.restoreCommand must use %f (the WAL file asked for) and %p (where to put it)');
    // A syntax error is found now, before T0, rather than after the restore was requested.
    runAsSync('/bin/sh', ['-n', '-c', command.restore], env.user);
    runAsSync('/bin/sh', ['-n', '-c', command.restoreCommand.replaceAll('%f', 'f').replaceAll('%p', 'p')], env.user);
    return {
      source: 'command',
      major: null,
      label: command.restore,
      startedAt: null,
      stoppedAt: null,
      sizeBytes: null,
      wal: `restore_command \`${command.restoreCommand}\``,
      checked: ['restore and restoreCommand parse as shell commands', 'the backup itself can only be seen once the command has run (after T0)'],
    };
  },
  async restore({ command }, env) {
    fs.mkdirSync(env.dataDir, { recursive: true, mode: 0o700 });
    if (env.user) fs.chownSync(env.dataDir, env.user.uid, env.user.gid);
    // Read just before T0, so the limit never lets through a segment archived after it.
    const archiver = await readArchiverOrReason(env);
    env.markT0(`restore requested: command backup → ${env.restoreTo}`);
    const output = await runAs('/bin/sh', ['-c', restoreShellCommand(command.restore, env.dataDir)], env.user, { signal: env.ctx.signal });
    if (output.trim()) await env.ctx.attach('restore-command.log', output);
    const versionFile = path.join(env.dataDir, 'PG_VERSION');
    if (!isFile(versionFile)) throw new Error(`the restore command left no PG_VERSION in ${env.dataDir}: it did not restore a base backup`);
    const major = parseMajor(fs.readFileSync(versionFile, 'utf8'), versionFile);
    const labelFile = path.join(env.dataDir, 'backup_label');
    let startSegment: string | null = null;
    if (isFile(labelFile)) {
      const label = parseBackupLabel(fs.readFileSync(labelFile, 'utf8'));
      // What the backup turned out to be: the driver records it as the backup used.
      env.facts.label = label.label ?? env.facts.label;
      env.facts.startedAt = label.startTime;
      startSegment = startSegmentOf(label.startWal);
    }
    env.facts.major = major;
    env.ctx.record('restore command done', { major });
    const limit = limitToArchiver(env, archiver, startSegment, command.restoreCommand);
    env.ctx.record(limit.listed === null ? 'warning: recovery not limited to the WAL archived by T0' : 'WAL limited to what production had archived at T0', { newestArchived: limit.newest, names: limit.listed, reason: limit.walLimit });
    return {
      baseBackup: `command \`${command.restore}\``,
      restoreCommand: limit.restoreCommand,
      walLimit: limit.walLimit,
      archiveAtT0: null,
      writtenAsUser: true,
      listArchive: null,
    };
  },
};

type ArchiverReport = { lastArchivedWal: string | null; walSegmentBytes: number } | { reason: string };

async function readArchiverOrReason(env: RestoreEnv): Promise<ArchiverReport> {
  if (!env.readArchiver) return { reason: 'production\'s archiver cannot be read here' };
  try {
    return await env.readArchiver();
  } catch (error) {
    return { reason: `production's archiver could not be read before T0 (${(error as Error).message})` };
  }
}

/** The wrapped restore_command and how the evidence states the limit. */
function limitToArchiver(env: RestoreEnv, archiver: ArchiverReport, startSegment: string | null, restoreCommand: string): { restoreCommand: string; walLimit: string; listed: number | null; newest: string | null } {
  const notLimited = (why: string) => ({
    restoreCommand,
    walLimit: `not limited to the WAL archived by T0: ${why}, so WAL production archived after T0 may be replayed (the RPO can look better than a real disaster at T0 would leave)`,
    listed: null,
    newest: null,
  });
  if ('reason' in archiver) return notLimited(archiver.reason);
  const newest = /^[0-9A-F]{24}/.exec(archiver.lastArchivedWal ?? '')?.[0];
  if (!newest) return notLimited(`production's pg_stat_archiver reported no archived segment (last_archived_wal ${archiver.lastArchivedWal ?? 'null'}: nothing archived since its statistics were reset)`);
  if (!startSegment) return notLimited('the restored backup has no backup_label naming its start segment');
  const names = walNamesThrough(startSegment, newest, archiver.walSegmentBytes);
  const listFile = path.join(env.scratchDir, 'archive-at-t0.list');
  fs.writeFileSync(listFile, names.length > 0 ? `${names.join('\n')}\n` : '');
  if (env.user) fs.chownSync(listFile, env.user.uid, env.user.gid);
  return {
    restoreCommand: `grep -qxF "%f" ${shellQuote(listFile)} && ${restoreCommand}`,
    walLimit: `restore_command runs only for the ${names.length} WAL files production had archived at T0 (archive-at-t0.list): the segments from the backup's start ${startSegment} through ${newest}, the newest production's archiver reported archived just before T0 (pg_stat_archiver.last_archived_wal; it archives in order), and the history files up to its timeline; computed from that name, since a command source cannot list its archive`,
    listed: names.length,
    newest,
  };
}
