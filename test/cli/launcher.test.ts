/**
 * bin/drillbook.js picks the fastest fresh build: the `validate` fast path (a CommonJS bundle
 * run with V8's code cache), the ES module bundle, or tsc's output. Whatever it picks must
 * behave exactly like tsc's output: same stdout, stderr and exit code.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { skipUnlessReal } from '../helpers/real.js';

const dist = path.join(REPO_ROOT, 'dist');
const mtime = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1);
const compiledAt = mtime(path.join(dist, 'bin', 'cli.js'));
const stale = ['validate.cjs', 'validate.cjs.cache', 'cli.js'].filter((f) => mtime(path.join(dist, 'bundle', f)) < compiledAt);
const skip = skipUnlessReal('bundled launcher', stale.length > 0 ? `dist/bundle/${stale.join(', ')} older than tsc's output: run \`npm run build\` (npm test does)` : undefined);

const SAMPLES = path.join(REPO_ROOT, 'scenarios', 'samples');
const MISTAKES = path.join(REPO_ROOT, 'test', 'fixtures', 'scenarios', 'three-mistakes', 'drill.yaml');

function viaLauncher(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}
function viaTscOutput(args: string[]) {
  const code = `const { main } = await import(${JSON.stringify(path.join(dist, 'bin', 'cli.js'))}); process.exitCode = await main(${JSON.stringify(args)});`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8' });
}

describe('launcher', () => {
  it.each([
    ['the samples', [SAMPLES]],
    ['three located mistakes', [MISTAKES]],
    ['a missing file', [path.join(REPO_ROOT, 'no-such.yaml')]],
    ['validate with an option (full CLI)', ['--help']],
  ])('validate on %s: same output and exit code as tsc output', (_name, paths) => {
    if (skip) return;
    const fast = viaLauncher(['validate', ...paths]);
    const reference = viaTscOutput(['validate', ...paths]);
    expect(fast.status).toBe(reference.status);
    expect(fast.stdout).toBe(reference.stdout);
    expect(fast.stderr).toBe(reference.stderr);
  });

  it('the code cache is accepted by this Node (else the fast path is only a bundle)', () => {
    if (skip) return;
    const file = path.join(dist, 'bundle', 'validate.cjs');
    const result = spawnSync(
      process.execPath,
      ['-e', `const vm=require('vm'),fs=require('fs'),{Module}=require('module');const s=new vm.Script(Module.wrap(fs.readFileSync(${JSON.stringify(file)},'utf8')),{filename:${JSON.stringify(file)},cachedData:fs.readFileSync(${JSON.stringify(`${file}.cache`)})});console.log(s.cachedDataRejected)`],
      { encoding: 'utf8' },
    );
    expect(result.stdout.trim()).toBe('false');
  });
});
