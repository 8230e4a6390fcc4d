/**
 * Every cause the AAR/IP lists becomes a finding, and every finding a remediation item with
 * its severity (the plan's rules first), owner and SLA due date.
 */
import { describe, expect, it } from 'vitest';
import type { ExerciseRecord, RunRecord, WalkthroughRecord } from '../../../reports/run-record.js';
import { completeRecord, deriveFindings, severityRule } from '../../../runners/engine.js';
import { emptyDrillResult } from '../../../runners/measured-drill.js';
import type { ContinuityPlan } from '../../../scenarios/schema.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';

const PLAN_SEVERITY: ContinuityPlan['spec']['severity'] = {
  P1: { dueInDays: 5, for: ['rating-U'] },
  P2: { dueInDays: 20, for: ['checklist-missed'] },
  P3: { dueInDays: 60, for: ['checklist-partial', 'improvement'] },
  P4: { dueInDays: 120, for: ['checklist-late'] },
};

const clean = (overrides: Partial<RunRecord> = {}): RunRecord =>
  ({
    ...makeRunRecord(),
    verdict: { rto: 'met', rpo: 'met', rtoMarginSeconds: 1, rpoMarginSeconds: 1 },
    checks: [],
    error: null,
    abort: null,
    exercise: null,
    walkthrough: null,
    ...overrides,
  }) as RunRecord;

function exercise(parts: Partial<ExerciseRecord>): ExerciseRecord {
  return {
    mode: 'answers',
    facilitator: 'F',
    answersFile: null,
    conductedAt: null,
    modules: [{ id: 'm', title: 'M' }],
    objectives: [],
    injects: [],
    unavailableRoles: [],
    hotwash: { strengths: [], improvements: [] },
    sessions: [],
    ...parts,
  };
}

const item = (id: string, status: 'done' | 'partial' | 'missed', extra: { took?: number; limit?: number } = {}) => ({
  id,
  action: `do ${id}`,
  role: 'sre',
  coveredBy: null,
  roleUnavailable: false,
  timeLimitSeconds: extra.limit ?? null,
  tookSeconds: extra.took ?? null,
  status,
  note: null,
  answeredAt: '2026-11-26T17:00:00.000Z',
});

const inject = (items: ReturnType<typeof item>[]) => ({
  id: 'i1',
  module: 'm',
  title: 'Inject',
  plannedAtSeconds: 0,
  situation: 's',
  questions: [],
  discussion: null,
  presentedAt: '2026-11-26T17:00:00.000Z',
  keyPersonUnavailable: null,
  items,
});

describe('findings from every cause', () => {
  it('a clean measured run has none', () => {
    expect(deriveFindings(clean())).toEqual([]);
  });

  it('a missed RTO and a failed check are findings a later run can verify', () => {
    const findings = deriveFindings(
      clean({
        verdict: { rto: 'missed', rpo: 'met', rtoMarginSeconds: -3, rpoMarginSeconds: 1 },
        checks: [{ name: 'orders-count', type: 'row-count', passed: false, expected: '10', actual: '9' }],
      }),
    );
    expect(findings.map((f) => [f.kind, f.verifiable])).toEqual([
      ['missed-target', { target: 'rto' }],
      ['failed-check', { check: 'orders-count' }],
    ]);
  });

  it('a missed RPO is verifiable by the RPO target', () => {
    const findings = deriveFindings(clean({ verdict: { rto: 'met', rpo: 'missed', rtoMarginSeconds: 1, rpoMarginSeconds: -1 } }));
    expect(findings.map((f) => [f.kind, f.verifiable])).toEqual([['missed-target', { target: 'rpo' }]]);
  });

  it('checklist items marked partial or missed, and done but late', () => {
    const findings = deriveFindings(
      clean({ exercise: exercise({ injects: [inject([item('a', 'done'), item('b', 'partial'), item('c', 'missed'), item('d', 'done', { took: 900, limit: 600 }), item('e', 'done', { took: 300, limit: 600 })])] }) }),
      severityRule(PLAN_SEVERITY),
    );
    expect(findings.map((f) => [f.kind, f.severity, f.title])).toEqual([
      ['checklist-item', 'P3', 'Checklist item partial: do b'],
      ['checklist-item', 'P2', 'Checklist item missed: do c'],
      ['checklist-item', 'P4', 'Checklist item late: do d'],
    ]);
  });

  it('objectives rated M or U, not P or S', () => {
    const objectives = (['P', 'S', 'M', 'U'] as const).map((rating) => ({ id: rating, text: `objective ${rating}`, capability: null, rating, note: null, ratedAt: '2026-11-26T17:00:00.000Z' }));
    const findings = deriveFindings(clean({ exercise: exercise({ objectives }) }), severityRule(PLAN_SEVERITY));
    expect(findings.map((f) => [f.kind, f.severity, f.detail])).toEqual([
      ['objective-rating', 'P2', 'objective M'],
      ['objective-rating', 'P1', 'objective U'],
    ]);
  });

  it('every area for improvement, carrying its proposed action and owner', () => {
    const findings = deriveFindings(
      clean({ exercise: exercise({ hotwash: { strengths: ['x'], improvements: [{ observation: 'runbook gap', analysis: null, correctiveAction: 'write it', owner: 'ops', severity: 'P2' }] } }) }),
      severityRule(undefined),
    );
    expect(findings).toMatchObject([{ kind: 'improvement', severity: 'P2', correctiveAction: 'write it', owner: 'ops' }]);
  });

  it('failed runbook steps and a walkthrough estimate over the RTO', () => {
    const walkthrough: WalkthroughRecord = {
      steps: [
        { id: 's1', title: 'Promote', owner: 'dba', kind: 'command', instruction: 'false', expectedSeconds: 60, elapsedSeconds: 1, status: 'failed', exitCode: 1, output: null, note: null, startedAt: null },
        { id: 's2', title: 'DNS', owner: 'sre', kind: 'manual', instruction: 'switch', expectedSeconds: 60, elapsedSeconds: null, status: 'not-reached', exitCode: null, output: null, note: null, startedAt: null },
      ],
      elapsedSeconds: 1,
      expectedSeconds: 120,
      estimate: { label: 'estimate from a walkthrough', seconds: 1200, rtoTargetSeconds: 900, withinRto: false },
    };
    const findings = deriveFindings(clean({ walkthrough, error: 'runbook step failed: s1' }));
    expect(findings.map((f) => [f.kind, f.title])).toEqual([
      ['failed-step', 'Runbook step failed: Promote'],
      ['improvement', 'Walkthrough estimate exceeds the RTO'],
    ]);
  });

  it('an error, an abort and an incomplete teardown', () => {
    const base = makeRunRecord();
    const findings = deriveFindings(
      clean({
        error: 'recovery command exited 1',
        abort: { reason: 'guardrail maxDuration 1m exceeded', at: base.endedAt },
        teardown: { ...base.teardown, complete: false, undos: [{ id: 1, description: 'stop copy', status: 'failed', error: 'boom', by: 'run' }] },
      }),
    );
    expect(findings.map((f) => [f.kind, f.severity])).toEqual([
      ['failed-step', 'P2'],
      ['aborted', 'P3'],
      ['teardown', 'P1'],
    ]);
  });
});

describe('remediation items', () => {
  it('one per finding: severity from the plan, due from its SLA, owner the system owner unless proposed', () => {
    const skeleton = clean();
    const result = emptyDrillResult();
    result.exercise = exercise({
      injects: [inject([item('b', 'partial'), item('c', 'missed')])],
      hotwash: { strengths: [], improvements: [{ observation: 'gap', analysis: null, correctiveAction: 'fix', owner: 'alice', severity: null }] },
    });
    const record = completeRecord(
      skeleton,
      { result, abort: null, error: null, timeline: [], probes: [], endedAt: '2026-12-01T10:00:00.000Z', teardown: { complete: true, undos: [], deletions: [], recoveredBy: null } },
      { plan: { spec: { severity: PLAN_SEVERITY } } as unknown as ContinuityPlan },
    );
    expect(record.remediation.map((r) => [r.severity, r.due, r.owner, r.status])).toEqual([
      ['P3', '2027-01-30', skeleton.system.owner, 'open'],
      ['P2', '2026-12-21', skeleton.system.owner, 'open'],
      ['P3', '2027-01-30', 'alice', 'open'],
    ]);
    expect(record.remediation.map((r) => r.findingId)).toEqual(record.findings.map((f) => f.id));
    expect(record.outcome).toBe('failed'); // a missed checklist item
  });
});
