/** The After-Action Report / Improvement Plan section of the report view model. */
import { formatSeconds } from './charts.js';
import { targetText, verdictText } from './report-text.js';
import type { RunRecord, Verdict } from './run-record.js';

const RATING_TEXT = { P: 'performed without challenges', S: 'performed with some challenges', M: 'performed with major challenges', U: 'unable to be performed' } as const;

/** A measured target's verdict as an HSEEP rating, so every test type has one AAR/IP shape. */
function derivedRating(verdict: Verdict): 'P' | 'M' | 'U' {
  return verdict === 'met' ? 'P' : verdict === 'missed' ? 'M' : 'U';
}

/**
 * The After-Action Report / Improvement Plan: the same section for every test type. A
 * tabletop's ratings come from the hot wash; a measured drill's from its verdicts; a
 * walkthrough's from its steps and its estimate.
 */
export function aarView(record: RunRecord) {
  const exercise = record.exercise ?? null;
  const walkthrough = record.walkthrough ?? null;
  let ratings: { objective: string; rating: string; meaning: string; note: string; className: string }[];
  const ratingRow = (objective: string, rating: 'P' | 'S' | 'M' | 'U' | 'n/a', note: string) => ({
    objective,
    rating,
    meaning: rating === 'n/a' ? 'not applicable to this target' : RATING_TEXT[rating],
    note,
    className: rating === 'P' || rating === 'n/a' ? 'met' : rating === 'S' ? 'pending' : 'missed',
  });
  // A target with nothing to lose (a stateless workload) has no RPO to rate; a drill that
  // stopped before it could measure one is rated U.
  const rpoApplies = record.measured.rpo !== null || record.verdict.rpo !== 'not-measured' || record.abort !== null || record.error !== null;
  if (exercise) {
    ratings = exercise.objectives.map((o) => ratingRow(o.text, o.rating, o.note ?? ''));
  } else if (walkthrough) {
    const failed = walkthrough.steps.filter((s) => s.status === 'failed').length;
    const notReached = walkthrough.steps.filter((s) => s.status === 'not-reached').length;
    ratings = [
      ratingRow('Perform every runbook step', failed > 0 || notReached > 0 ? (notReached > 0 ? 'U' : 'M') : 'P', `${walkthrough.steps.length - failed - notReached} of ${walkthrough.steps.length} steps done`),
      ratingRow(
        'Recover within the RTO (estimate from the walkthrough)',
        walkthrough.estimate.withinRto === false ? 'M' : 'P',
        `${walkthrough.estimate.label}: ${formatSeconds(walkthrough.estimate.seconds)} vs RTO ${targetText(walkthrough.estimate.rtoTargetSeconds)}`,
      ),
    ];
  } else {
    ratings = [
      ratingRow(`Recover within the RTO (${targetText(record.targets.rtoSeconds)})`, derivedRating(record.verdict.rto), `derived from the measured RTO: ${verdictText(record.verdict.rto)}`),
      rpoApplies
        ? ratingRow(`Lose no more than the RPO (${targetText(record.targets.rpoSeconds)})`, derivedRating(record.verdict.rpo), `derived from the measured RPO: ${verdictText(record.verdict.rpo)}`)
        : ratingRow(`Lose no more than the RPO (${targetText(record.targets.rpoSeconds)})`, 'n/a', 'the target holds no data this drill could lose (no heartbeat written)'),
      ...(record.checks.length > 0
        ? [ratingRow('Recovered data is complete and intact', record.checks.every((c) => c.passed) ? 'P' : 'M', `${record.checks.filter((c) => c.passed).length} of ${record.checks.length} checks passed`)]
        : []),
    ];
  }
  const earlier = (record.earlierItems ?? []).map((item) => ({
    ...item,
    statusText:
      item.status === 'closed'
        ? item.verifiedBy
          ? `closed ${item.closedAt?.slice(0, 10) ?? ''}, verified by run ${item.verifiedBy.slice(0, 8)}`
          : item.resolution === 'accepted-risk'
            ? `closed ${item.closedAt?.slice(0, 10) ?? ''}, NOT VERIFIED: risk accepted by ${item.riskOwner ?? 'an unnamed owner'}`
            : `closed ${item.closedAt?.slice(0, 10) ?? ''} with a note (not re-tested)`
        : item.overdue
          ? 'OVERDUE'
          : 'open',
    className: item.status === 'closed' ? (item.resolution === 'accepted-risk' ? 'pending' : 'met') : item.overdue ? 'missed' : 'pending',
  }));
  // A1.3 expects the plan to be revised from test results: the revisions the register records.
  const version = (v: string) => `v${v.replace(/^v(?=\d)/i, '')}`;
  const planRevisions = (record.earlierItems ?? [])
    .filter((item) => item.status === 'closed' && item.planVersion)
    .map((item) => `plan revised ${item.openedPlanVersion ? version(item.openedPlanVersion) : '(version not recorded)'} → ${version(item.planVersion!)} after ${item.id}`);
  return {
    kind: exercise ? 'tabletop' : walkthrough ? 'walkthrough' : 'measured',
    overview: [
      ['Exercise', `${record.scenario.name} — ${record.type}`],
      ['Dates (UTC)', `${record.startedAt} → ${record.endedAt}`],
      ...(record.replayedAt
        ? [['Replayed (UTC)', `${record.replayedAt} → ${record.replayEndedAt ?? '—'}: a recorded session replayed from its answers file; ${record.startedAt === record.replayedAt ? 'the answers file gives no conduct time, so the exercise is dated at the replay' : 'the dates above are when it was conducted; the timeline shows the replay'}`]]
        : exercise?.conductedAt
          ? [['Conducted', exercise.conductedAt]]
          : []),
      ['Scope', record.scope || 'not stated'],
      ['Objective', record.objective || 'not stated'],
      ...(exercise
        ? [
            ['Facilitator', `${exercise.facilitator} (${exercise.mode === 'live' ? 'facilitated live at a terminal' : 'replayed from a recorded answers file'})`],
            ...(exercise.answersFile ? [['Answers file', `${exercise.answersFile.file} (sha256 ${exercise.answersFile.sha256})`]] : []),
            ['Modules', exercise.modules.map((m) => m.title).join(' → ')],
            ['Sessions', exercise.sessions.map((s) => `${s.startedAt} → ${s.endedAt ?? '?'}`).join('; ')],
            ...(exercise.unavailableRoles.length > 0
              ? [['Key person unavailable', exercise.unavailableRoles.map((u) => `${u.role} from inject ${u.sinceInject}${u.reason ? ` (${u.reason})` : ''}`).join('; ')]]
              : []),
          ]
        : []),
      ['Participants', `${record.participants.filter((p) => p.present).length} of ${record.participants.length} present`],
    ].map(([label, value]) => ({ label, value })),
    ratings,
    injects: (exercise?.injects ?? []).map((inject) => ({
      title: inject.title,
      module: exercise!.modules.find((m) => m.id === inject.module)?.title ?? inject.module,
      at: `T+${formatSeconds(inject.plannedAtSeconds)}`,
      discussion: inject.discussion ?? '',
      unavailable: inject.keyPersonUnavailable ? `${inject.keyPersonUnavailable.role} unavailable from here` : '',
      items: inject.items.map((item) => ({
        action: item.action,
        role: item.coveredBy ? `${item.role} → covered by ${item.coveredBy}` : item.role,
        status: item.status,
        className: item.status === 'done' ? 'met' : item.status === 'partial' ? 'pending' : 'missed',
        time:
          item.tookSeconds !== null
            ? `${formatSeconds(item.tookSeconds)}${item.timeLimitSeconds !== null ? ` (limit ${formatSeconds(item.timeLimitSeconds)}${item.tookSeconds > item.timeLimitSeconds ? ', LATE' : ''})` : ''}`
            : item.timeLimitSeconds !== null
              ? `limit ${formatSeconds(item.timeLimitSeconds)}`
              : '',
        note: item.note ?? '',
        at: item.answeredAt,
      })),
    })),
    steps: (walkthrough?.steps ?? []).map((step) => ({
      title: step.title,
      owner: step.owner,
      kind: step.kind,
      expected: formatSeconds(step.expectedSeconds),
      elapsed: step.elapsedSeconds === null ? 'not recorded' : formatSeconds(step.elapsedSeconds),
      over: step.elapsedSeconds !== null && step.elapsedSeconds > step.expectedSeconds,
      status: step.status,
      className: step.status === 'done' ? 'met' : step.status === 'failed' ? 'missed' : 'pending',
      detail: step.kind === 'command' ? `exit ${step.exitCode ?? '—'}${step.output ? `, output in ${step.output}` : ''}` : (step.note ?? ''),
    })),
    estimate: walkthrough
      ? {
          text: `${formatSeconds(walkthrough.estimate.seconds)} end to end against an RTO of ${targetText(walkthrough.estimate.rtoTargetSeconds)}`,
          label: walkthrough.estimate.label,
          className: walkthrough.estimate.withinRto === false ? 'missed' : 'met',
          verdict: walkthrough.estimate.withinRto === null ? 'no RTO' : walkthrough.estimate.withinRto ? 'within the RTO (estimate)' : 'OVER the RTO (estimate)',
        }
      : null,
    plan: record.remediation.map((item) => ({
      id: item.id,
      issue: item.title,
      action: item.correctiveAction,
      owner: item.owner,
      start: record.endedAt.slice(0, 10),
      due: item.due,
      severity: item.severity,
      status: item.closedAs ? `closed: ${item.closedAs}` : item.status,
      className: item.status === 'open' ? 'pending' : item.closedAs?.startsWith('accepted risk') ? 'pending' : 'met',
      verifiedBy: item.verifiable ? ('target' in item.verifiable ? `a later run with the ${item.verifiable.target.toUpperCase()} target met` : `a later run with check "${item.verifiable.check}" passing`) : 'a note from the owner',
    })),
    earlier,
    planRevisions,
    earlierSummary:
      record.earlierItems === undefined
        ? 'The remediation register was not consulted for this run.'
        : earlier.length === 0
          ? `No items from earlier runs of ${record.system.name}.`
          : `${earlier.filter((e) => e.status === 'closed').length} closed, ${earlier.filter((e) => e.status === 'open' && !e.overdue).length} open, ${earlier.filter((e) => e.overdue).length} overdue (as of ${(record.earlierItemsAsOf ?? record.endedAt).slice(0, 10)}).`,
  };
}

