/** `recovery.action: command`, the same for every driver: run it, attach its output, fail on a non-zero exit. */
import path from 'node:path';
import { parseDuration } from '../scenarios/duration.js';
import type { Recovery } from '../scenarios/schema.js';
import type { RunContext } from './context.js';
import { commandSucceeded, formatCommandResult, runCommand } from './shell.js';

export async function runRecoveryCommand(recovery: Recovery, ctx: RunContext): Promise<string> {
  const result = await runCommand(recovery.command!, { cwd: path.dirname(ctx.loaded.file), timeoutMs: parseDuration(recovery.timeout) ?? 0, signal: ctx.signal, clock: ctx.clock });
  const file = await ctx.attach('recovery-command.txt', formatCommandResult(result));
  if (!commandSucceeded(result)) throw new Error(`recovery command failed (exit ${result.exitCode ?? result.signal}); output in ${file}`);
  return `recovery command exited 0 (output in ${file})`;
}
