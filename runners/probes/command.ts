/** `command`: healthy while the shell command exits 0. */
import { runCommand } from '../shell.js';
import type { ProbeKind } from './types.js';

export const commandProbe: ProbeKind<string> = {
  kind: 'command',
  async check(command, { baseDir, timeoutMs, signal }) {
    const result = await runCommand(command, { cwd: baseDir, timeoutMs, signal });
    if (result.exitCode !== 0) throw new Error(`exited ${result.exitCode ?? result.signal}`);
  },
};
