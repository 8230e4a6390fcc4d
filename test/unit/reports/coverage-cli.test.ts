/**
 * `drillbook coverage` as a user runs it (the built CLI in its own process) on the fixture
 * evidence: exit 1 when something is overdue or never tested, 0 when all is covered, 2 on
 * bad input with nothing written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { EXPECTED, NOW, PLAN, PLAN_COVERED, PLAN_INVALID, writeFixtureEvidence } from '../../fixtures/coverage/evidence.js';

let work: string;
let evidence: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-coverage-cli-'));
  evidence = path.join(work, 'evidence');
  writeFixtureEvidence(evidence);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('drillbook coverage', () => {
  it('prints the table and exits 1 when a test is overdue or was never done', async () => {
    const result = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--now', NOW]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/alpha\s+1\s+tabletop\s+OVERDUE/);
    expect(result.stdout).toMatch(/alpha\s+1\s+parallel-restore\s+due soon/);
    expect(result.stdout).toMatch(/beta\s+2\s+parallel-restore\s+NEVER TESTED/);
    expect(result.stdout).toContain('6 required tests: 3 covered, 1 due soon, 1 overdue, 0 rehearsed only, 1 never tested');
  });

  it('exits 0 when everything required is covered', async () => {
    const result = await runCli(['coverage', '--plan', PLAN_COVERED, '--evidence', evidence, '--now', NOW]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/alpha\s+1\s+failover\s+covered/);
  });

  it('writes CSV with the expected status per system × type', async () => {
    const out = path.join(work, 'coverage.csv');
    const result = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--now', NOW, '--format', 'csv', '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`wrote ${out}`);
    const [header, ...rows] = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    const h = header!.split(',');
    const statuses = Object.fromEntries(rows.map((line) => line.split(',')).map((c) => [`${c[h.indexOf('system')]}/${c[h.indexOf('type')]}`, c[h.indexOf('status')]]));
    expect(statuses).toEqual(EXPECTED);
  });

  it('writes self-contained HTML with the statuses and one trend chart per metric and system', async () => {
    const out = path.join(work, 'coverage.html');
    const result = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--now', NOW, '--format', 'html', '--out', out]);
    expect(result.code).toBe(1);
    const html = fs.readFileSync(out, 'utf8');
    for (const [key, status] of Object.entries(EXPECTED)) {
      const [system, type] = key.split('/');
      expect(html).toMatch(new RegExp(`<tr data-system="${system}" data-type="${type}" data-status="${status}">`));
    }
    // alpha, beta, gamma have runs (zeta is not in the plan): two charts each.
    expect(html.match(/<svg /g)).toHaveLength(6);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('limits to the audit window given by --from/--to', async () => {
    const result = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--now', NOW, '--from', '2026-01-01', '--to', '2026-06-30']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('window 2026-01-01 → 2026-06-30');
    expect(result.stdout).toMatch(/alpha\s+1\s+tabletop\s+NEVER TESTED/);
  });

  it('bad input: located plan errors, bad dates, missing evidence — exit 2, nothing written', async () => {
    const out = path.join(work, 'never.csv');
    const invalid = await runCli(['coverage', '--plan', PLAN_INVALID, '--evidence', evidence, '--format', 'csv', '--out', out]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/plan-invalid\.yaml:6:\d+: spec\.systems\[0\]\.tier: /);
    expect(invalid.stderr).toMatch(/plan-invalid\.yaml:8:\d+: spec\.testPolicy\.1\.failover: /);
    expect(invalid.stderr).not.toMatch(/\n\s+at /);

    const badDate = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--from', '2026-13-01', '--out', out]);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('--from "2026-13-01": not a date; use YYYY-MM-DD');

    const reversed = await runCli(['coverage', '--plan', PLAN, '--evidence', evidence, '--from', '2026-06-01', '--to', '2026-01-01']);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain('is after --to');

    const noEvidence = await runCli(['coverage', '--plan', PLAN, '--evidence', path.join(work, 'nope'), '--out', out]);
    expect(noEvidence.code).toBe(2);
    expect(noEvidence.stderr).toContain('no such directory');

    const noPlan = await runCli(['coverage', '--evidence', evidence]);
    expect(noPlan.code).toBe(2);
    expect(noPlan.stderr).toContain('--plan');
    expect(fs.existsSync(out)).toBe(false);
  });
});
