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
 * What this source cannot do: list the archive, so recovery is not held to the WAL archived by
 * T0 (the evidence says so), and know the backup's PostgreSQL version before it ran: the
 * binaries are chosen after the restore from the restored PG_VERSION, unless `binDir` is set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isFile, parseBackupLabel, parseMajor, runAs, runAsSync, shellQuote } from './common.js';
import type { BackupSource } from './types.js';

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
    env.markT0(`restore requested: command backup → ${env.restoreTo}`);
    const output = await runAs('/bin/sh', ['-c', restoreShellCommand(command.restore, env.dataDir)], env.user, { signal: env.ctx.signal });
    if (output.trim()) await env.ctx.attach('restore-command.log', output);
    const versionFile = path.join(env.dataDir, 'PG_VERSION');
    if (!isFile(versionFile)) throw new Error(`the restore command left no PG_VERSION in ${env.dataDir}: it did not restore a base backup`);
    const major = parseMajor(fs.readFileSync(versionFile, 'utf8'), versionFile);
    const labelFile = path.join(env.dataDir, 'backup_label');
    if (isFile(labelFile)) {
      const label = parseBackupLabel(fs.readFileSync(labelFile, 'utf8'));
      // What the backup turned out to be: the driver records it as the backup used.
      env.facts.label = label.label ?? env.facts.label;
      env.facts.startedAt = label.startTime;
    }
    env.facts.major = major;
    env.ctx.record('restore command done', { major });
    return {
      baseBackup: `command \`${command.restore}\``,
      restoreCommand: command.restoreCommand,
      walLimit: 'not limited to the WAL archived by T0: a command source cannot list its archive, so WAL production archived after T0 may be replayed (the RPO can look better than a real disaster at T0 would leave)',
      archiveAtT0: null,
      writtenAsUser: true,
      listArchive: null,
    };
  },
};
