/**
 * The skip/fail rule of require-real, seen from outside: a child vitest runs a fixture whose
 * components are hidden (DRILLBOOK_REAL_HIDE). Without DRILLBOOK_REQUIRE_REAL it skips them and
 * warns loudly, naming component and reason; with DRILLBOOK_REQUIRE_REAL=1 the same file fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-require-real-'));
const config = path.join(work, 'vitest.config.mjs');
fs.writeFileSync(config, `export default { test: { root: ${JSON.stringify(repo)}, include: ['test/fixtures/real/require-real.fixture.ts'], reporters: ['verbose'] } };\n`);

function runFixture(env: Record<string, string>): { status: number | null; output: string } {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' };
  if (!('DRILLBOOK_REQUIRE_REAL' in env)) delete childEnv.DRILLBOOK_REQUIRE_REAL;
  delete childEnv.VITEST;
  delete childEnv.VITEST_WORKER_ID;
  delete childEnv.VITEST_POOL_ID;
  const result = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--config', config, '--configLoader', 'native'], { cwd: repo, env: childEnv, encoding: 'utf8', timeout: 90_000 });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('require-real', () => {
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('skips with a loud reason when a component is missing', () => {
    const { status, output } = runFixture({ DRILLBOOK_REAL_HIDE: 'haproxy,pgbackrest' });
    expect(status, output).toBe(0);
    expect(output).toContain('!!! SKIPPED: "suite needing patroni" needs real components that are not available here');
    expect(output).toContain('haproxy: hidden by DRILLBOOK_REAL_HIDE');
    expect(output).toContain('!!! SKIPPED: "single test needing pgbackrest"');
    expect(output).not.toContain('"single test needing lz4"');
    expect(output).toMatch(/Tests\s+2 passed \| 2 skipped/);
  }, 120_000);

  it('fails instead under DRILLBOOK_REQUIRE_REAL=1, naming the component and why', () => {
    const { status, output } = runFixture({ DRILLBOOK_REAL_HIDE: 'haproxy,pgbackrest', DRILLBOOK_REQUIRE_REAL: '1' });
    expect(status, output).toBe(1);
    expect(output).toContain('!!! FAILING (DRILLBOOK_REQUIRE_REAL=1): "suite needing patroni"');
    expect(output).toContain('"suite needing patroni" cannot run: DRILLBOOK_REQUIRE_REAL=1 and haproxy: hidden by DRILLBOOK_REAL_HIDE');
    expect(output).toMatch(/Tests\s+2 failed \| 2 passed/);
  }, 120_000);

  it('runs the tests when everything is there', () => {
    const { status, output } = runFixture({ DRILLBOOK_REQUIRE_REAL: '1' });
    if (output.includes('!!! FAILING')) {
      // This machine lacks a component: the previous cases already proved the rule.
      expect(status).toBe(1);
      return;
    }
    expect(status, output).toBe(0);
    expect(output).toMatch(/Tests\s+4 passed/);
  }, 120_000);
});
