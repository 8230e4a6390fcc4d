/**
 * drillbook in CI: `run --json` (exactly one JSON object on stdout), `--junit`, `--quiet`,
 * GitHub Actions annotations and job summary, defaults from DRILLBOOK_EVIDENCE and
 * drillbook.config.yaml, `coverage --format json`. The drills are real sandbox drills; the
 * failing one fails because its check cannot pass (ground truth the test set up).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { writeScenario } from '../helpers/drill-files.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

const SAMPLES = path.join(REPO_ROOT, 'scenarios', 'samples');
const RESTORE = {
  type: 'parallel-restore',
  target: { driver: 'postgres', sandbox: true },
  restore: { restoreTo: 'latest', access: '127.0.0.1 only', masking: 'none needed (synthetic data)' },
  // warmup > 2 × the sandbox's archive_timeout, so heartbeats reach the archive (as the sample)
  probes: { interval: '250ms', heartbeat: { interval: '100ms', warmup: '5s' } },
};

let work: string;
beforeAll(() => {
  work = sharedTempDir('drillbook-ci-cli-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('run in CI', () => {
  it('--json prints one JSON object and nothing else on stdout; --junit, annotations and the job summary say why it failed', async () => {
    const dir = path.join(work, 'failing');
    const file = writeScenario(dir, 'restore-with-bad-check', {
      ...RESTORE,
      checks: [{ type: 'sql', name: 'a check that cannot pass', query: 'SELECT 1', expect: 2 }],
    });
    const summary = path.join(work, 'step-summary.md');
    fs.writeFileSync(summary, '# earlier step\n');
    const junit = path.join(work, 'junit.xml');
    const result = await runCli(['run', file, '--evidence', path.join(work, 'ev-json'), '--json', '--junit', junit], {
      cwd: work,
      env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: work },
    });
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    expect(lines, result.stdout).toHaveLength(1);
    const json = JSON.parse(lines[0]!);
    expect(json).toMatchObject({ scenario: 'restore-with-bad-check', outcome: 'failed', exitCode: 1, type: 'parallel-restore', system: 'orders-db' });
    expect(json.runId).toMatch(/^[0-9a-f-]{36}$/);
    const record = JSON.parse(fs.readFileSync(path.join(json.evidence, 'run.json'), 'utf8'));
    expect(json.runId).toBe(record.runId);
    expect(json.verdict).toEqual(record.verdict);
    expect(json.measured).toEqual(record.measured);
    expect(fs.existsSync(json.report)).toBe(true);
    // The human lines went to stderr.
    expect(result.stderr).toContain('outcome: FAILED');

    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase name="check: a check that cannot pass"[^>]*>\s*<failure /);

    expect(result.stderr).toContain('::error file=failing/restore-with-bad-check.yaml,title=drillbook restore-with-bad-check%3A check failed::check failed: a check that cannot pass');
    const md = fs.readFileSync(summary, 'utf8');
    expect(md.startsWith('# earlier step\n')).toBe(true);
    expect(md).toContain('drillbook restore-with-bad-check: FAILED');
    expect(md).toMatch(/\| a check that cannot pass \| \*\*FAILED\*\* \|/);
    expect(md).toMatch(/\| RTO \| \d+\.\d\d s ± /);
  });

  it('--json on a scenario that does not load still prints one object, exit 2', async () => {
    const bad = path.join(work, 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: drillbook.dev/v1\nkind: Scenario\nmetadata: { name: x }\n');
    const result = await runCli(['run', bad, '--json'], { cwd: work });
    expect(result.code).toBe(2);
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ runId: null, outcome: 'invalid', exitCode: 2 });
    expect(result.stderr).toMatch(/bad\.yaml:\d+:\d+: /);
  });

  it('--quiet prints one outcome line; DRILLBOOK_EVIDENCE is the default --evidence', async () => {
    const dir = path.join(work, 'passing');
    const file = writeScenario(dir, 'restore-ok', RESTORE);
    const evidence = path.join(work, 'ev-from-env');
    const result = await runCli(['run', file, '--quiet'], { cwd: work, env: { DRILLBOOK_EVIDENCE: evidence, NO_COLOR: '1' } });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    expect(lines, result.stdout).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^PASSED restore-ok \\(exit 0\\): ${evidence.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.+-restore-ok-[0-9a-f]{8}/report\\.html$`));
    expect(fs.readdirSync(evidence).some((d) => d.includes('-restore-ok-'))).toBe(true);
  });
});

describe('defaults from drillbook.config.yaml', () => {
  it('is found from a sub-directory and supplies --plan and --evidence; coverage --format json', async () => {
    const project = path.join(work, 'project');
    fs.mkdirSync(path.join(project, 'ops', 'deep'), { recursive: true });
    fs.mkdirSync(path.join(project, 'evidence-here'));
    fs.copyFileSync(path.join(SAMPLES, 'plan.yaml'), path.join(project, 'ops', 'plan.yaml'));
    fs.writeFileSync(path.join(project, 'drillbook.config.yaml'), 'evidence: evidence-here\nplan: ops/plan.yaml\n');
    const result = await runCli(['coverage', '--format', 'json', '--now', '2026-12-01T00:00:00Z'], { cwd: path.join(project, 'ops', 'deep') });
    expect(result.code, result.stderr).toBe(1); // nothing has run: every required test is a gap
    const report = JSON.parse(result.stdout);
    expect(report.rows.length).toBeGreaterThan(0);
    expect(report.rows.every((r: { status: string }) => r.status === 'never-tested')).toBe(true);
    expect(report.rows.some((r: { system: string }) => r.system === 'orders-db')).toBe(true);
  });

  it('a mistake in it is a located error and exit 2', async () => {
    const project = path.join(work, 'bad-config');
    fs.mkdirSync(project, { recursive: true });
    fs.writeFileSync(path.join(project, 'drillbook.config.yaml'), 'evidence: ev\nevidnce: typo\n');
    const result = await runCli(['validate', path.join(SAMPLES, 'plan.yaml')], { cwd: project });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path.join(project, 'drillbook.config.yaml')}:2:1: evidnce: unknown key`);
  });
});
