/**
 * The CLI as users and scripts meet it: exit codes, located errors, hostile files, the
 * production guard, a dry-run plan that touches nothing, and a real drill whose report
 * shows hostile scenario text as text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { verifyBundle } from '../../reports/evidence.js';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { TEST_PLAN, writeScenario } from '../helpers/drill-files.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'scenarios');
const SAMPLES = path.join(REPO_ROOT, 'scenarios', 'samples');

let work: string;
beforeAll(() => {
  work = sharedTempDir('drillbook-cli-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('drillbook validate', () => {
  it('accepts the samples', async () => {
    const result = await runCli(['validate', SAMPLES]);
    expect(result.code, result.stderr).toBe(0);
    const samples = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml')).length;
    expect(samples).toBeGreaterThan(3);
    expect(result.stdout).toMatch(new RegExp(`${samples} files checked, ${samples} valid`));
  });

  it('prints three located errors for three mistakes and exits 2', async () => {
    const result = await runCli(['validate', path.join(FIXTURES, 'three-mistakes', 'drill.yaml')]);
    expect(result.code).toBe(2);
    const errors = result.stderr.split('\n').filter((l) => /drill\.yaml:\d+:\d+: /.test(l));
    expect(errors, result.stderr).toHaveLength(3);
    expect(result.stderr).toMatch(/drill\.yaml:7:3: spec\.tragets: .*\n\s+hint: did you mean `targets`\?/);
    expect(result.stderr).toMatch(/drill\.yaml:3:\d+: metadata\.system: /);
    expect(result.stderr).toMatch(/drill\.yaml:12:\d+: spec\.probes\.interval: /);
    noStackTrace(result.stderr);
  });

  it.each([
    ['an alias bomb', () => `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`).join('\n')}\n`],
    ['a 20 MB file', () => `# ${'x'.repeat(20 * 1024 * 1024)}\n`],
    ['a __proto__ key', () => 'apiVersion: drillbook.dev/v1\nkind: Scenario\nmetadata: { name: x, system: y, environment: sandbox }\n__proto__: { polluted: true }\n'],
    ['binary garbage', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1')],
  ])('rejects %s with exit 2 and a located error', async (_name, content) => {
    const file = path.join(work, `hostile-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, content(), 'latin1');
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:`);
    noStackTrace(result.stderr);
  });

  it('refuses a directory named like a file with a located error and exit 2', async () => {
    const named = path.join(work, 'dir-as-file', 'drill.yaml');
    fs.mkdirSync(named, { recursive: true });
    const result = await runCli(['validate', named]);
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toContain(`${named}:1:1: (root): is a directory, not a file`);
    noStackTrace(result.stderr);
  });

  it('refuses an environment that is a near miss of a known one, with a did-you-mean', async () => {
    const file = writeScenario(path.join(work, 'sandbx'), 'typo-env', { type: 'failover', target: { driver: 'postgres', sandbox: true }, faults: [{ type: 'kill-primary' }], recovery: { action: 'promote' } }, { environment: 'sandbx' });
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/typo-env\.yaml:\d+:\d+: metadata\.environment: environment `sandbx` is not a known environment name\n\s+hint: did you mean `sandbox`\?/);
  });

  it('exits 2 on a usage error', async () => {
    const result = await runCli(['run']);
    expect(result.code).toBe(2);
  });
});

describe('drillbook schema and plan', () => {
  it('prints the JSON Schema', async () => {
    const result = await runCli(['schema', '--kind', 'Scenario']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['apiVersion', 'kind', 'metadata', 'spec']));
  });

  it('plans a drill without touching anything', async () => {
    const scratch = sharedTempDir('drillbook-plan-');
    try {
      const result = await runCli(['plan', path.join(SAMPLES, 'orders-db-failover.yaml')], { env: { TMPDIR: scratch } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/ENVIRONMENT: SANDBOX/);
      expect(result.stdout).toMatch(/SIGKILL the primary/);
      expect(result.stdout).toMatch(/promote the standby/);
      expect(result.stdout).toMatch(/Nothing was touched/);
      expect(fs.readdirSync(scratch)).toEqual([]);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('drillbook run', () => {
  it('refuses a production drill without --confirm, touching nothing', async () => {
    const file = writeScenario(path.join(work, 'prod'), 'prod-failover', {
      type: 'failover',
      target: { driver: 'postgres', sandbox: true },
      faults: [{ type: 'kill-primary' }],
      recovery: { action: 'promote' },
    }, { environment: 'production' });
    const evidence = path.join(work, 'prod-evidence');
    const result = await runCli(['run', file, '--evidence', evidence]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--confirm prod-failover/);
    expect(fs.existsSync(evidence)).toBe(false);
  });

  it.each([
    ['`prod` (a default production name)', 'prod', undefined],
    ['a name the plan declares production', 'eu-main', { 'eu-main': { class: 'production' } }],
  ])('refuses %s without --confirm: the guard follows the environment class', async (_name, environment, environments) => {
    const dir = path.join(work, `class-${environment}`);
    const file = writeScenario(dir, 'classed-failover', {
      type: 'failover',
      target: { driver: 'postgres', sandbox: true },
      faults: [{ type: 'kill-primary' }],
      recovery: { action: 'promote' },
    }, { environment });
    if (environments) fs.writeFileSync(path.join(dir, 'plan.yaml'), stringify({ ...TEST_PLAN, spec: { ...TEST_PLAN.spec, environments } }));
    const evidence = path.join(dir, 'evidence');
    const result = await runCli(['run', file, '--evidence', evidence]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`runs against PRODUCTION \\(environment ${environment}\\); re-run with --confirm classed-failover`));
    expect(fs.existsSync(evidence)).toBe(false);
  });

  it('refuses a tabletop with no terminal and no answers file with exit 2, writing nothing', async () => {
    const dir = path.join(work, 'tabletop');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'plan.yaml'), stringify(TEST_PLAN));
    const file = writeScenario(dir, 'ransomware-tabletop', {
      type: 'tabletop',
      participants: [{ name: 'Ana', role: 'commander' }],
      objectives: [{ id: 'detect', text: 'Detect it' }],
      modules: [{ id: 'm', title: 'M', injects: [{ id: 'i', title: 'I', situation: 'Something broke.', checklist: [{ id: 'a', action: 'Act', role: 'commander' }] }] }],
    });
    const result = await runCli(['run', file, '--evidence', path.join(work, 'tt-evidence')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs people: run it at a terminal, or replay a recorded session with --answers FILE/);
    expect(fs.existsSync(path.join(work, 'tt-evidence'))).toBe(false);
  });

  it('runs a real drill whose report shows hostile text as text, and re-renders it', async () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const file = writeScenario(path.join(work, 'xss'), 'xss-failover', {
      type: 'failover',
      objective: `Objective ${hostile}`,
      participants: [{ name: hostile, role: 'attacker' }],
      target: { driver: 'postgres', sandbox: true },
      faults: [{ type: 'kill-primary' }],
      recovery: { action: 'promote' },
      probes: { heartbeat: { interval: '100ms', warmup: '1s' } },
      checks: [{ type: 'sql', name: `check ${hostile}`, query: 'SELECT 1', expect: 1 }],
    }, { description: hostile });
    const evidence = path.join(work, 'xss-evidence');
    const result = await runCli(['run', file, '--evidence', evidence], { env: { TMPDIR: work } });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const runDir = path.join(evidence, fs.readdirSync(evidence).find((d) => d.includes('xss-failover'))!);
    const html = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
    // The key figures of the run are in the report a person opens.
    expect(html).toContain('test');
    expect(html).toContain(String(record.measured.rto!.seconds));
    expect(html).toMatch(/A1\.3/);
    expect(record.teardown.deletions.length).toBeGreaterThan(0);

    const rendered = await runCli(['report', runDir, '--format', 'html,md,json']);
    expect(rendered.code, rendered.stderr).toBe(0);
    expect(fs.readdirSync(path.join(runDir, 'exports')).sort()).toEqual(['report.html', 'report.md', 'run.json']);
    expect((await verifyBundle(runDir)).ok).toBe(true);
    expect((await runCli(['report', path.join(work, 'no-such-run')])).code).toBe(2);

    const verified = await runCli(['verify', evidence]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/chain intact \(1 runs\)/);
    const timeline = path.join(runDir, 'timeline.jsonl');
    const bytes = fs.readFileSync(timeline);
    bytes[10] = bytes[10]! ^ 0x01;
    fs.writeFileSync(timeline, bytes);
    const tampered = await runCli(['verify', runDir]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('changed: timeline.jsonl');
  });
});
