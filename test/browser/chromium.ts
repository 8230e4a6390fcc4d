/**
 * Makes sure Debian's Chromium is there for the browser tests: installs it with apt-get when
 * it is missing and we are root; otherwise says loudly why the browser tests are skipped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CHROMIUM = process.env.DRILLBOOK_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking'];

/** undefined when Chromium is usable; otherwise the reason the browser tests cannot run. */
export function ensureChromium(): string | undefined {
  if (fs.existsSync(CHROMIUM)) return undefined;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    try {
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'pipe', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch (error) {
      const reason = `${CHROMIUM} is missing and \`apt-get install -y chromium\` failed: ${(error as Error).message.split('\n')[0]}`;
      return fs.existsSync(CHROMIUM) ? undefined : reason;
    }
    return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is still missing after \`apt-get install -y chromium\``;
  }
  return `${CHROMIUM} is missing and this is not root, so it cannot be installed (run: sudo apt-get install chromium)`;
}

export function warnSkipped(reason: string): void {
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! BROWSER TESTS SKIPPED: ${reason}\n!! The site and report were NOT checked in a real browser.\n${bar}\n`);
}
