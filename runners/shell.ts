/**
 * User-supplied commands (faults, recovery actions, runbook steps) run through zx with a
 * timeout and the drill's abort signal; their output is captured into the evidence bundle.
 */
import { type Clock, systemClock } from './clock.js';

export interface CommandResult {
  command: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export async function runCommand(command: string, options: { cwd: string; timeoutMs: number; signal?: AbortSignal; env?: NodeJS.ProcessEnv; clock?: Clock }): Promise<CommandResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.monoMs();
  // Loaded on first use: `drillbook validate` never needs a shell and should start fast.
  const { $ } = await import('zx');
  const result = await $({
    cwd: options.cwd,
    timeout: options.timeoutMs,
    signal: options.signal,
    nothrow: true,
    quiet: true,
    env: options.env ?? process.env,
  })`sh -c ${command}`;
  return {
    command,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: clock.monoMs() - started,
  };
}

/** The captured output as it goes into the bundle. */
export function formatCommandResult(result: CommandResult): string {
  return [
    `$ ${result.command}`,
    `exit: ${result.exitCode ?? 'none'}${result.signal ? ` (signal ${result.signal})` : ''}, ${Math.round(result.durationMs)} ms`,
    '--- stdout',
    result.stdout,
    '--- stderr',
    result.stderr,
  ].join('\n');
}

export function commandSucceeded(result: CommandResult): boolean {
  return result.exitCode === 0;
}
