/**
 * Every undo drillbook can journal, by name: the generic ones (a directory, a shell command)
 * and each driver's own (Driver.registerUndos). `recover` runs these in a fresh process from
 * the journal alone, so each handler needs only its params (and re-resolves any secret).
 */
import { z } from 'zod';
import type { Driver } from './drivers/types.js';
import { drivers as builtInDrivers } from './registry.js';
import { formatCommandResult, runCommand } from './shell.js';
import { processesMentioning, signal } from './system.js';
import { typedUndo, undoClock, UndoRegistry } from './undo.js';
import { verifiedRemoval } from './verified-removal.js';

export function defaultUndoRegistry(drivers: Readonly<Record<string, Driver>> = builtInDrivers): UndoRegistry {
  const registry = new UndoRegistry();
  for (const driver of Object.values(drivers)) driver.registerUndos?.(registry);
  return registry
    .register(
      'fs.remove-dir',
      typedUndo('fs.remove-dir', z.object({ path: z.string(), what: z.string().optional() }), async (params, env) => {
        // A crashed run may have left servers under it whose own undo already ran or failed.
        for (const pid of processesMentioning(params.path)) signal(pid, 'SIGKILL');
        return { deletion: await verifiedRemoval(params.what ?? 'directory', params.path, undefined, undoClock(env)) };
      }),
    )
    .register(
      'shell.command',
      typedUndo('shell.command', z.object({ command: z.string(), cwd: z.string(), timeoutMs: z.number() }), async (params, env) => {
        const result = await runCommand(params.command, { cwd: params.cwd, timeoutMs: params.timeoutMs, signal: env.signal, clock: undoClock(env) });
        env.log(formatCommandResult(result));
        if (result.exitCode !== 0) throw new Error(`undo command exited ${result.exitCode ?? result.signal}`);
      }),
    );
}
