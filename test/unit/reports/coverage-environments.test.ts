/**
 * Coverage and environment classes (finding 1): a sandbox run is a rehearsal, never coverage
 * of the live system; a non-production run counts only in an environment the plan declares
 * production-equivalent; a record made before run.json carried `environmentClass` gets the
 * class its name has. Also the items still waiting for a plan revision (A1.3).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCoverage, coverageCsv, coverageTable, readRunSummaries, type PlanRevisionItem } from '../../../reports/coverage.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadPlan } from '../../../scenarios/load.js';
import type { ContinuityPlan } from '../../../scenarios/schema.js';
import { NOW, writeFixtureEvidence, type FixtureRun } from '../../fixtures/coverage/evidence.js';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-coverage-env-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function writePlan(environments: string): string {
  const file = path.join(work, `plan-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    `apiVersion: drillbook.dev/v1
kind: ContinuityPlan
metadata: { name: env-plan, version: "3" }
spec:
  systems:
    - { name: alpha, tier: 1, rto: 30s, rpo: 5s, owner: alpha-team }
  testPolicy:
    "1": { tabletop: 365d, parallel-restore: 90d, failover: 180d }
${environments}`,
  );
  return file;
}

async function planWith(environments: string): Promise<ContinuityPlan> {
  const diagnostics = new Diagnostics();
  const loaded = await loadPlan(writePlan(environments), diagnostics);
  expect(diagnostics.hasErrors(), diagnostics.format()).toBe(false);
  return loaded!.plan;
}

async function coverageOf(runs: FixtureRun[], plan: ContinuityPlan, register?: PlanRevisionItem[]) {
  const evidence = fs.mkdtempSync(path.join(work, 'evidence-'));
  writeFixtureEvidence(evidence, runs);
  const index = await readRunSummaries(evidence);
  return computeCoverage(plan, index.runs, { now: new Date(NOW), ...(register ? { register } : {}) });
}

const alpha = { system: 'alpha', tier: 1, outcome: 'passed', rto: 10, rpo: 1 } as const;

describe('coverage by environment class', () => {
  it('counts sandbox runs as rehearsals, never as coverage, and says so in table and CSV', async () => {
    const plan = await planWith('');
    const report = await coverageOf(
      [
        { ...alpha, type: 'failover', daysAgo: 5, environment: 'sandbox', environmentClass: 'sandbox' },
        // a record made before environmentClass existed: the name decides (sandbox → sandbox)
        { ...alpha, type: 'parallel-restore', daysAgo: 3, environment: 'sandbox' },
        // a tabletop touches no environment: outside a sandbox it is a test of the plan
        { ...alpha, type: 'tabletop', daysAgo: 7, environment: 'tabletop (no systems touched)', rto: null, rpo: null },
      ],
      plan,
    );
    const byType = Object.fromEntries(report.rows.map((r) => [r.type, r]));
    expect(byType.failover!.status).toBe('rehearsed');
    expect(byType.failover!.lastRun).toBeNull();
    expect(byType.failover!.lastRehearsal?.environment).toBe('sandbox');
    expect(byType.failover!.flags.join(' ')).toMatch(/rehearsed only: .* in sandbox \(sandbox\), was not of the live system and is not coverage/);
    expect(byType['parallel-restore']!.status).toBe('rehearsed');
    expect(byType['parallel-restore']!.lastRehearsal?.environmentClassRecorded).toBe(false);
    expect(byType.tabletop!.status).toBe('covered');
    expect(report.counts).toEqual({ covered: 1, 'due-soon': 0, overdue: 0, rehearsed: 2, 'never-tested': 0 });
    expect(report.gaps).toBe(true);

    expect(coverageTable(report)).toMatch(/alpha\s+1\s+failover\s+REHEARSED ONLY/);
    expect(coverageTable(report)).toContain('1 covered, 0 due soon, 0 overdue, 2 rehearsed only, 0 never tested');
    const [header, ...lines] = coverageCsv(report).trimEnd().split('\r\n').map((l) => l.split(','));
    const failover = lines.find((c) => c[header!.indexOf('type')] === 'failover')!;
    expect(failover[header!.indexOf('status')]).toBe('rehearsed');
    expect(failover[header!.indexOf('last_run_id')]).toBe('');
    // The flags cell holds commas (quoted), so the rehearsal columns are read from the end.
    expect(header!.at(-1)).toBe('rehearsal_environment_class');
    expect(failover.at(-1)).toBe('sandbox');
    expect(failover.at(-2)).toBe('sandbox');
  });

  it('counts a production run and shows a later sandbox rehearsal beside it without counting it', async () => {
    const plan = await planWith('');
    const report = await coverageOf(
      [
        { ...alpha, type: 'failover', daysAgo: 100, environment: 'prod', environmentClass: 'production' },
        { ...alpha, type: 'failover', daysAgo: 2, environment: 'sandbox', environmentClass: 'sandbox' },
      ],
      plan,
    );
    const row = report.rows.find((r) => r.type === 'failover')!;
    expect(row.status).toBe('covered');
    expect(row.lastRun?.environment).toBe('prod');
    // Age and due date come from the production run, not the newer rehearsal.
    expect(Math.round(row.ageDays!)).toBe(100);
    expect(row.flags.join(' ')).toMatch(/a later rehearsal, .* in sandbox \(sandbox\), is not counted as coverage/);
  });

  it('counts a non-production run only where the plan declares the environment production-equivalent', async () => {
    const runs: FixtureRun[] = [{ ...alpha, type: 'failover', daysAgo: 5, environment: 'staging' }];
    expect((await coverageOf(runs, await planWith(''))).rows.find((r) => r.type === 'failover')!.status).toBe('rehearsed');
    const declared = await planWith(
      '  environments:\n    staging: { class: non-production, productionEquivalent: true }\n    production: { class: production }\n',
    );
    expect((await coverageOf(runs, declared)).rows.find((r) => r.type === 'failover')!.status).toBe('covered');
    // An old record's class comes from the plan's declarations: `live-eu` declared production covers.
    const aliased = await planWith('  environments:\n    production: { class: production, aliases: [live-eu] }\n');
    expect((await coverageOf([{ ...alpha, type: 'failover', daysAgo: 5, environment: 'live-eu' }], aliased)).rows.find((r) => r.type === 'failover')!.status).toBe('covered');
  });
});

describe('productionEquivalent in the plan', () => {
  it('is refused on a sandbox or production environment, with the path', async () => {
    const file = writePlan('  environments:\n    lab: { class: sandbox, productionEquivalent: true }\n');
    const diagnostics = new Diagnostics();
    await loadPlan(file, diagnostics);
    expect(diagnostics.hasErrors()).toBe(true);
    expect(diagnostics.format()).toMatch(/spec.environments.lab.productionEquivalent: productionEquivalent applies to a non-production environment; `lab` is sandbox/);
  });
});

describe('items waiting for a plan revision', () => {
  it('lists plan findings that are open, closed without --plan-version, or closed naming a version the plan has not reached', async () => {
    const plan = await planWith('');
    const item = (id: string, extra: Partial<PlanRevisionItem>): PlanRevisionItem => ({ id, system: 'alpha', title: `item ${id}`, status: 'closed', type: 'tabletop', ...extra });
    const report = await coverageOf([{ ...alpha, type: 'failover', daysAgo: 5, environment: 'production' }], plan, [
      item('REM-open', { status: 'open', findingKind: 'checklist-item' }),
      item('REM-noversion', { findingKind: 'objective-rating', resolution: 'note' }),
      item('REM-ahead', { findingKind: 'improvement', resolution: 'note', planVersion: '4' }),
      item('REM-done', { findingKind: 'improvement', resolution: 'note', planVersion: '3' }),
      item('REM-risk', { findingKind: 'improvement', resolution: 'accepted-risk' }),
      item('REM-measured', { type: 'failover', findingKind: 'missed-target', verifiable: { target: 'rto' }, resolution: 'verified' }),
      // recorded before finding kinds: a tabletop item no run can verify is about the plan
      item('REM-old', { resolution: 'note' }),
      item('REM-other', { system: 'zeta', status: 'open', findingKind: 'checklist-item' }),
    ]);
    const waits = Object.fromEntries(report.awaitingPlanRevision.map((w) => [w.id, w.reason]));
    expect(Object.keys(waits).sort()).toEqual(['REM-ahead', 'REM-noversion', 'REM-old', 'REM-open']);
    expect(waits['REM-ahead']).toBe('closed naming plan version 4, but the plan is still at version 3');
    expect(waits['REM-noversion']).toMatch(/closed without naming the plan version/);
    expect(coverageTable(report)).toContain('Waiting for a plan revision (4):');
  });
});

describe('the site', () => {
  it('shows rehearsals in their own column, items waiting for a plan revision, and an accepted risk as not verified', async () => {
    const { buildSite } = await import('../../../reports/site/build.js');
    const { closeItem, recordRunItems } = await import('../../../reports/remediation.js');
    const { fixtureRecord } = await import('../../fixtures/coverage/evidence.js');
    const plan = await planWith('');
    const evidence = fs.mkdtempSync(path.join(work, 'site-evidence-'));
    const runs: FixtureRun[] = [{ ...alpha, type: 'failover', daysAgo: 5, environment: 'sandbox', environmentClass: 'sandbox' }];
    writeFixtureEvidence(evidence, runs);
    const record = fixtureRecord(runs[0]!, 0);
    record.remediation = [
      { id: 'REM-plan-1', findingId: 'F-1', title: 'Runbook lacks the DNS step', correctiveAction: 'add it', severity: 'P3', owner: 'alpha-team', due: '2999-01-01', status: 'open', findingKind: 'checklist-item' },
      { id: 'REM-risk-1', findingId: 'F-2', title: 'Pause not handled', correctiveAction: 'proxy', severity: 'P2', owner: 'alpha-team', due: '2999-01-01', status: 'open', findingKind: 'missed-target', verifiable: { target: 'rto' } },
    ];
    await recordRunItems(evidence, record);
    await closeItem(evidence, 'REM-risk-1', { note: 'accepted for this year', by: 'cto', acceptRisk: true, riskOwner: 'Chloé' });

    const out = path.join(work, `site-${Math.random().toString(36).slice(2)}`);
    await buildSite(evidence, out, { plan, now: new Date(NOW) });
    const coverage = fs.readFileSync(path.join(out, 'coverage.html'), 'utf8');
    expect(coverage).toMatch(/<tr data-system="alpha" data-type="failover" data-status="rehearsed">/);
    expect(coverage).toMatch(/<td class="rehearsal">(<a [^>]*>)?2026-11-21 12:00 · sandbox \(sandbox\) · passed/);
    expect(coverage).toMatch(/<table id="plan-revision">[\s\S]*REM-plan-1[\s\S]*open; its fix belongs in the plan/);
    const remediation = fs.readFileSync(path.join(out, 'remediation.html'), 'utf8');
    expect(remediation).toMatch(/<table id="closed-remediation">[\s\S]*REM-risk-1[\s\S]*accepted risk \(not verified\), owner Chloé/);
  });
});
