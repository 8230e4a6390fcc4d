/**
 * Runs the CLI in a real pseudo-terminal (util-linux `script`), so a live exercise is driven
 * exactly as a person at a terminal drives it: the test waits for each prompt and types.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, REPO_ROOT } from './cli.js';

export interface PtySession {
  child: ChildProcess;
  /** Everything the terminal showed, ANSI sequences removed. */
  screen(): string;
  /** Waits until the screen shows `text` after everything already consumed, then types `keys`. */
  answer(text: string, keys: string): Promise<void>;
  expect(text: string, timeoutMs?: number): Promise<void>;
  type(keys: string): void;
  done: Promise<{ code: number | null; screen: string }>;
}

export const KEY = { enter: '\r', down: '\x1b[B', up: '\x1b[A', space: ' ', ctrlC: '\x03' } as const;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');

export function startPty(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): PtySession {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  // -e: exit with the child's code; -f: flush at once; -q: no banner; log to /dev/null.
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, TERM: 'xterm', COLUMNS: '200', LINES: '50', ...options.env, CI: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  let consumed = 0;
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer) => {
    raw += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const screen = () => stripAnsi(raw);
  const expect = (text: string, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const at = screen().indexOf(text, consumed);
        if (at >= 0) {
          consumed = at + text.length;
          listeners.splice(listeners.indexOf(check), 1);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        listeners.splice(listeners.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${JSON.stringify(text)}; the terminal shows:\n${screen().slice(-3000)}`));
      }, timeoutMs);
      listeners.push(check);
      check();
    });
  const type = (keys: string) => child.stdin!.write(keys);
  return {
    child,
    screen,
    expect,
    type,
    async answer(text, keys) {
      await expect(text);
      // Give the prompt a moment to attach its keypress handler after rendering.
      await new Promise((r) => setTimeout(r, 60));
      type(keys);
    },
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, screen: screen() }))),
  };
}
