/**
 * Coverage on a fixture evidence set with known ages (written by the test, relative to a
 * fixed "now"): every system × required type gets the status its ages imply.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCoverage, coverageCsv, coverageTable, readRunSummaries, type RunIndex } from '../../../reports/coverage.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadPlan } from '../../../scenarios/load.js';
import type { ContinuityPlan } from '../../../scenarios/schema.js';
import { EXPECTED, FIXTURE_RUNS, NOW, PLAN, writeFixtureEvidence } from '../../fixtures/coverage/evidence.js';

let work: string;
let evidence: string;
let index: RunIndex;
let plan: ContinuityPlan;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-coverage-'));
  evidence = path.join(work, 'evidence');
  writeFixtureEvidence(evidence);
  // Things that are not finished runs must not break the index.
  fs.mkdirSync(path.join(evidence, '2026-11-26T000000Z-unfinished-abcdef12'));
  fs.writeFileSync(path.join(evidence, '2026-11-26T000000Z-unfinished-abcdef12', 'timeline.jsonl'), '');
  fs.mkdirSync(path.join(evidence, 'broken-run'));
  fs.writeFileSync(path.join(evidence, 'broken-run', 'run.json'), '{ not json');
  fs.writeFileSync(path.join(evidence, 'ledger.jsonl'), '');
  index = await readRunSummaries(evidence, { yieldEvery: 3 });
  const diagnostics = new Diagnostics();
  plan = (await loadPlan(PLAN, diagnostics))!.plan;
  expect(diagnostics.hasErrors()).toBe(false);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('readRunSummaries', () => {
  it('indexes every run.json, oldest first, and names what it skipped', () => {
    expect(index.runs).toHaveLength(FIXTURE_RUNS.length);
    const times = index.runs.map((r) => r.startedMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(index.unfinished).toEqual(['2026-11-26T000000Z-unfinished-abcdef12']);
    expect(index.warnings).toEqual(['broken-run/run.json: not valid JSON, skipped']);
  });
});

describe('computeCoverage', () => {
  it('gives the expected status for every system × required test type', () => {
    const report = computeCoverage(plan, index.runs, { now: new Date(NOW) });
    const statuses = Object.fromEntries(report.rows.map((r) => [`${r.system}/${r.type}`, r.status]));
    expect(statuses).toEqual(EXPECTED);
    expect(report.gaps).toBe(true);
    expect(report.counts).toEqual({ covered: 3, 'due-soon': 1, overdue: 1, rehearsed: 0, 'never-tested': 1 });
    expect(report.notes.some((n) => n.includes('delta') && n.includes('tier 4'))).toBe(true);
    expect(report.notes.some((n) => n.includes('zeta'))).toBe(true);
  });

  it('reports the last run, its age and due date, and flags a failed test and an aborted attempt', () => {
    const report = computeCoverage(plan, index.runs, { now: new Date(NOW) });
    const row = (key: string) => report.rows.find((r) => `${r.system}/${r.type}` === key)!;
    const failover = row('alpha/failover');
    expect(failover.lastRun!.measured.rto!.seconds).toBe(12.5);
    expect(Math.round(failover.ageDays!)).toBe(10);
    expect(failover.due).toBe(new Date(Date.parse(NOW) + (180 - 10) * 86_400_000).toISOString().slice(0, 10));
    expect(failover.due).toBe('2027-05-15');
    expect(failover.runsInWindow).toBe(2);
    expect(row('alpha/parallel-restore').daysLeft).toBeCloseTo(5, 5);
    expect(row('beta/tabletop').flags.join(' ')).toMatch(/FAILED .*1 check failed/);
    expect(row('beta/parallel-restore').lastRun).toBeNull();
    expect(row('beta/parallel-restore').flags.join(' ')).toMatch(/1 later attempt did not complete \(aborted\)/);
    // The newest counted gamma tabletop is 100 days old; the one dated after "now" is not evidence yet.
    expect(Math.round(row('gamma/tabletop').ageDays!)).toBe(100);
  });

  it('limits runs to the audit window and judges a past window as of its end', () => {
    // Window ending 2026-06-30: alpha's 10-day-old failover is outside it, the 200-day-old one
    // (2026-05-10) is inside and, as of the window's end, 51 days old.
    const report = computeCoverage(plan, index.runs, { now: new Date(NOW), window: { from: '2026-01-01', to: '2026-06-30' } });
    const failover = report.rows.find((r) => r.system === 'alpha' && r.type === 'failover')!;
    expect(failover.lastRun!.measured.rto!.seconds).toBe(20);
    expect(report.asOf).toBe('2026-06-30T23:59:59.999Z');
    expect(failover.status).toBe('covered');
    // gamma's 300-day-old tabletop (2026-01-30) is in the window, its 100-day-old one is not.
    const gamma = report.rows.find((r) => r.system === 'gamma')!;
    expect(gamma.lastRun!.startedAt.slice(0, 10)).toBe('2026-01-30');
    expect(gamma.status).toBe('covered');
    // alpha's tabletop (2025-10-22) is before the window: never tested within it.
    expect(report.rows.find((r) => r.system === 'alpha' && r.type === 'tabletop')!.status).toBe('never-tested');
  });

  it('everything covered gives no gaps', () => {
    const report = computeCoverage(plan, index.runs, { now: new Date(NOW) });
    const only = { ...plan, spec: { ...plan.spec, systems: plan.spec.systems.filter((s) => s.name === 'gamma') } };
    const gammaOnly = computeCoverage(only, index.runs, { now: new Date(NOW) });
    expect(report.gaps).toBe(true);
    expect(gammaOnly.gaps).toBe(false);
  });
});

describe('renderings', () => {
  it('the table and CSV carry one row per required test, with the status', () => {
    const report = computeCoverage(plan, index.runs, { now: new Date(NOW) });
    const table = coverageTable(report);
    expect(table).toMatch(/alpha\s+1\s+tabletop\s+OVERDUE/);
    expect(table).toMatch(/beta\s+2\s+parallel-restore\s+NEVER TESTED/);
    expect(table).toContain('6 required tests: 3 covered, 1 due soon, 1 overdue, 0 rehearsed only, 1 never tested');
    const lines = coverageCsv(report).trimEnd().split('\n');
    expect(lines).toHaveLength(1 + Object.keys(EXPECTED).length);
    const header = lines[0]!.split(',');
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      expect(EXPECTED[`${cells[header.indexOf('system')]}/${cells[header.indexOf('type')]}`]).toBe(cells[header.indexOf('status')]);
    }
  });
});
