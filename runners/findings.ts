/**
 * The findings policy: what a finished run's record says went wrong (findings, with the
 * plan's severity rules), what is to be done about it (remediation items with due dates),
 * what went well (observations), and the outcome that follows. Pure: record in, verdicts out.
 */
import type { Finding, Outcome, RemediationItem, RunRecord, Severity } from '../reports/run-record.js';
import type { ContinuityPlan, FindingClass } from '../scenarios/schema.js';
import type { DrillResult } from './measured-drill.js';

export function outcomeOf(record: RunRecord): Outcome {
  if (!record.teardown.complete) return 'rollback-incomplete';
  if (record.abort) return 'aborted';
  const missed = record.verdict.rto === 'missed' || record.verdict.rpo === 'missed' || Boolean(record.measured.rpo?.lowerBoundOnly && record.t0);
  if (missed || record.error || record.checks.some((c) => !c.passed)) return 'failed';
  // No pass without an outage: a fault nobody saw take effect proves no recovery (SPEC v1.1).
  if (record.verdict.rto === 'inconclusive') return 'inconclusive';
  // An exercise fails when an objective was not achieved (M, U), a checklist action was
  // missed, or the walkthrough's estimate exceeds the RTO; lesser findings still pass.
  const exercise = record.exercise;
  if (exercise && (exercise.objectives.some((o) => o.rating === 'M' || o.rating === 'U') || exercise.injects.some((i) => i.items.some((item) => item.status === 'missed')))) return 'failed';
  if (record.walkthrough?.estimate.withinRto === false) return 'failed';
  return 'passed';
}

type PlanSeverity = ContinuityPlan['spec']['severity'];
type SeverityFor = (finding: FindingClass, fallback: Severity) => Severity;

/** The plan's `spec.severity.<P>.for` rules, first match from P1 down; drillbook's default otherwise. */
export function severityRule(severity: PlanSeverity): SeverityFor {
  return (finding, fallback) => {
    for (const level of ['P1', 'P2', 'P3', 'P4'] as const) if (severity?.[level]?.for?.includes(finding)) return level;
    return fallback;
  };
}

export function deriveFindings(record: RunRecord, severityFor: SeverityFor = (_, fallback) => fallback): Finding[] {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'id'>, cls: FindingClass = f.kind as FindingClass) =>
    findings.push({ id: `F-${findings.length + 1}`, ...f, severity: severityFor(cls, f.severity) });
  const targetSeverity = record.system.tier <= 1 ? 'P1' : record.system.tier === 2 ? 'P2' : 'P3';
  for (const inject of record.exercise?.injects ?? []) {
    for (const item of inject.items) {
      if (item.status !== 'done')
        add(
          {
            kind: 'checklist-item',
            severity: item.status === 'missed' ? 'P2' : 'P3',
            title: `Checklist item ${item.status}: ${item.action}`,
            detail: `inject "${inject.title}" (${inject.id}/${item.id}), responsible role ${item.role}${item.coveredBy ? `, covered by ${item.coveredBy} (role unavailable)` : ''}${item.note ? `: ${item.note}` : ''}`,
          },
          item.status === 'missed' ? 'checklist-missed' : 'checklist-partial',
        );
      else if (item.timeLimitSeconds !== null && item.tookSeconds !== null && item.tookSeconds > item.timeLimitSeconds)
        add(
          { kind: 'checklist-item', severity: 'P3', title: `Checklist item late: ${item.action}`, detail: `took ${item.tookSeconds} s against a limit of ${item.timeLimitSeconds} s (${inject.id}/${item.id})` },
          'checklist-late',
        );
    }
  }
  for (const objective of record.exercise?.objectives ?? []) {
    if (objective.rating === 'M' || objective.rating === 'U')
      add(
        {
          kind: 'objective-rating',
          severity: objective.rating === 'U' ? 'P1' : 'P2',
          title: `Objective rated ${objective.rating} (${objective.rating === 'U' ? 'unable to be performed' : 'major challenges'}): ${objective.text}`,
          detail: objective.note ?? `objective ${objective.id}`,
        },
        objective.rating === 'U' ? 'rating-U' : 'rating-M',
      );
  }
  for (const improvement of record.exercise?.hotwash.improvements ?? []) {
    add({
      kind: 'improvement',
      severity: improvement.severity ?? 'P3',
      title: `Area for improvement: ${improvement.observation}`,
      ...(improvement.correctiveAction ? { correctiveAction: improvement.correctiveAction } : {}),
      ...(improvement.owner ? { owner: improvement.owner } : {}),
      detail: [improvement.analysis && `analysis: ${improvement.analysis}`, improvement.correctiveAction && `corrective action: ${improvement.correctiveAction}`].filter(Boolean).join('; ') || improvement.observation,
    });
  }
  for (const step of record.walkthrough?.steps.filter((s) => s.status === 'failed') ?? []) {
    add({ kind: 'failed-step', severity: 'P2', title: `Runbook step failed: ${step.title}`, detail: `${step.kind === 'command' ? `\`${step.instruction}\` exited ${step.exitCode}` : 'reported failed by the operator'}${step.note ? `: ${step.note}` : ''} (owner ${step.owner})` });
  }
  const estimate = record.walkthrough?.estimate;
  if (estimate && estimate.withinRto === false)
    add(
      { kind: 'improvement', severity: targetSeverity, title: 'Walkthrough estimate exceeds the RTO', detail: `${estimate.label}: ${estimate.seconds} s against an RTO of ${estimate.rtoTargetSeconds} s` },
      'walkthrough-over-rto',
    );
  const missedTarget = (target: 'rto' | 'rpo', title: string, detail: string) => add({ kind: 'missed-target', severity: targetSeverity, verifiable: { target }, title, detail });
  const { rto, rpo } = record.measured;
  if (record.verdict.rto === 'missed')
    missedTarget(
      'rto',
      'RTO target missed',
      rto ? `measured ${rto.seconds} s ± ${rto.errorSeconds} s against a target of ${record.targets.rtoSeconds} s` : `recovery was not observed; target ${record.targets.rtoSeconds} s`,
    );
  if (rpo?.lowerBoundOnly && record.verdict.rpo !== 'missed')
    missedTarget(
      'rpo',
      'RPO not established',
      `no acknowledged heartbeat survived in the recovered data: the loss window is at least ${rpo.seconds} s but its start is unknown; lengthen probes.heartbeat.warmup beyond the backup or archive interval`,
    );
  if (record.verdict.rpo === 'missed')
    missedTarget(
      'rpo',
      'RPO target missed',
      rpo
        ? `measured ${rpo.seconds} s ± ${rpo.errorSeconds} s (${rpo.lostWrites} acknowledged writes lost) against a target of ${record.targets.rpoSeconds} s`
        : `data loss was not measured; target ${record.targets.rpoSeconds} s`,
    );
  if (record.disruption && !record.disruption.observed)
    add(
      {
        kind: 'no-effect',
        severity: 'P2',
        title: 'The fault had no observable effect',
        detail: `${record.disruption.evidence}: the drill proves no recovery (outcome inconclusive, no coverage credit); check that the fault targets the server behind the endpoint`,
      },
      'failed-step',
    );
  for (const check of record.checks.filter((c) => !c.passed))
    add({ kind: 'failed-check', severity: 'P2', verifiable: { check: check.name }, title: `Data check failed: ${check.name}`, detail: `expected ${check.expected}, got ${check.actual}${check.detail ? ` (${check.detail})` : ''}` });
  if (record.error && !record.walkthrough) add({ kind: 'failed-step', severity: 'P2', title: 'Drill step failed', detail: record.error });
  if (record.abort) add({ kind: 'aborted', severity: 'P3', title: 'Drill aborted', detail: record.abort.reason });
  for (const undo of record.teardown.undos.filter((u) => u.status !== 'done'))
    add({ kind: 'teardown', severity: 'P1', title: 'Teardown incomplete: manual action needed', detail: `${undo.description}: ${undo.error ?? undo.status}` });
  return findings;
}

const DEFAULT_DUE_DAYS = { P1: 7, P2: 30, P3: 90, P4: 180 } as const;

export function remediationFor(findings: Finding[], record: RunRecord, severity: Partial<Record<'P1' | 'P2' | 'P3' | 'P4', { dueInDays: number }>> | undefined): RemediationItem[] {
  return findings.map((finding, index) => {
    const days = severity?.[finding.severity]?.dueInDays ?? DEFAULT_DUE_DAYS[finding.severity];
    const due = new Date(Date.parse(record.endedAt) + days * 86_400_000).toISOString().slice(0, 10);
    return {
      id: `REM-${record.runId.slice(0, 8)}-${index + 1}`,
      findingId: finding.id,
      title: finding.title,
      correctiveAction: finding.correctiveAction ?? correctiveActionFor(finding),
      severity: finding.severity,
      owner: finding.owner ?? record.system.owner,
      due,
      status: 'open',
      ...(finding.verifiable ? { verifiable: finding.verifiable } : {}),
      findingKind: finding.kind,
    };
  });
}

function correctiveActionFor(finding: Finding): string {
  switch (finding.kind) {
    case 'missed-target':
      return `Find what limits ${finding.verifiable && 'target' in finding.verifiable ? finding.verifiable.target.toUpperCase() : 'recovery'}, fix it, and re-run the drill to show the target met`;
    case 'failed-check':
      return 'Find why the recovered data differs, fix the backup or restore path, and re-run the drill to show the check passing';
    case 'teardown':
      return 'Remove the left-over drill resources by hand, record it, and fix the undo that failed';
    case 'checklist-item':
      return 'Update the runbook and train the responsible role; re-exercise the inject';
    case 'objective-rating':
      return 'Find the cause of the challenges, update the plan, and re-exercise the objective';
    default:
      return `Address: ${finding.title}`;
  }
}

export function observe(record: RunRecord, result: DrillResult): RunRecord['observations'] {
  const strengths = [...result.strengths, ...(record.exercise?.hotwash.strengths ?? [])];
  const improvements = [...result.improvements];
  if (record.verdict.rto === 'met' && record.verdict.rtoMarginSeconds !== null)
    strengths.push(`Recovered in ${record.measured.rto!.seconds} s, ${record.verdict.rtoMarginSeconds} s inside the ${record.targets.rtoSeconds} s RTO.`);
  if (record.measured.rpo && record.measured.rpo.acknowledged > 0 && record.measured.rpo.lostWrites === 0) strengths.push('No acknowledged write was lost.');
  if (record.measured.rpo && record.measured.rpo.lostWrites > 0)
    improvements.push(`${record.measured.rpo.lostWrites} acknowledged writes were lost: consider synchronous replication or a shorter archive interval if the RPO requires it.`);
  if (record.checks.length > 0 && record.checks.every((c) => c.passed)) strengths.push(`All ${record.checks.length} data-integrity checks passed.`);
  for (const f of record.findings.filter((f) => f.kind !== 'missed-target')) improvements.push(`${f.title}: ${f.detail}`);
  return { strengths, improvements };
}
