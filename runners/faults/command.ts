/** `command`: your own shell command causes the disruption; its `undo` is journaled first. */
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import type { PostgresFaultTarget, PostgresPlanEnv } from '../drivers/postgres/fault-target.js';
import { commandSucceeded, formatCommandResult, runCommand } from '../shell.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type CommandFault = Extract<Fault, { type: 'command' }>;

export const commandFault: FaultModule<CommandFault, PostgresFaultTarget, PostgresPlanEnv> = {
  type: 'command',
  driver: 'postgres',
  schema: faultSchema('command'),
  plan: (fault) => ({ action: `run fault command: ${fault.command}`, touches: 'what the command touches', undo: fault.undo ? `run: ${fault.undo}` : 'none declared' }),
  async inject(fault, { ctx, markT0, target }) {
    const timeoutMs = parseDuration(fault.timeout) ?? 0;
    if (fault.undo) ctx.undo.push({ type: 'shell.command', params: { command: fault.undo, cwd: target.baseDir, timeoutMs } }, `run fault undo: ${fault.undo}`);
    markT0(`fault command: ${fault.command}`);
    const result = await runCommand(fault.command, { cwd: target.baseDir, timeoutMs, signal: ctx.signal, clock: ctx.clock });
    const file = await ctx.attach('fault-command.txt', formatCommandResult(result));
    if (!commandSucceeded(result)) throw new Error(`fault command failed (exit ${result.exitCode ?? result.signal}); output in ${file}`);
    return { description: `fault command exited 0 (output in ${file})` };
  },
};
