/**
 * The one view model both report templates (HTML and Markdown) render, so the two formats
 * cannot drift apart in content. All formatting decisions are made here.
 */
import { formatSeconds, probeTimelineSvg, targetBarsSvg, type TimelineMarker } from './charts.js';
import { controlMapping, type ControlEvidence } from './controls.js';
import { PROBES_FILE } from './evidence-files.js';
import { aarView } from './report-aar.js';
import { NOT_APPLICABLE, marginText, measuredMissingText, outcomeText, signedSeconds, summarizeSeqs, targetText, verdictText } from './report-text.js';
import { recordEnvironmentClass } from './environment-class.js';
import type { ProbeAttempt, RunRecord, Verdict } from './run-record.js';

export const ENVIRONMENT_CLASS_TEXT: Record<string, string> = {
  production: 'production (the live system)',
  'non-production': 'non-production (not the live system)',
  sandbox: 'sandbox (a rehearsal on a stand-in, not the live system)',
};
const bannerClass: Record<string, string> = { production: 'production', 'non-production': 'staging', sandbox: 'other' };

export interface IntegrityHashes {
  runJsonSha256: string;
  timelineSha256: string;
  probesSha256: string;
}

export interface RenderOptions {
  probes: ProbeAttempt[];
  /** Hashes of the bundle's data files, shown in the Integrity section. */
  integrity?: IntegrityHashes;
  /** Known only when re-rendering a finalized bundle (the reports are inside the manifest). */
  manifest?: { sha256: string; createdAt?: string };
  /** The Ed25519 key that signs (or signed) the manifest. */
  signer?: { keyId: string; publicKeyPem: string; status: 'signed' | 'unsigned' | 'invalid'; problem?: string | null };
  /** Review records appended by `drillbook signoff` (re-rendered reports only). */
  signoffs?: { reviewer: string; decision: string; note: string; at: string; keyId: string; signatureValid: boolean; reviewsCurrentManifest: boolean }[];
}


/** The headline cards of an exercise, in place of measured RTO/RPO it does not have. */
function exerciseCardsOf(record: RunRecord): { title: string; big: string; line: string; sub: string; className: string }[] | null {
  const exercise = record.exercise;
  if (exercise) {
    const count = (rating: string) => exercise.objectives.filter((o) => o.rating === rating).length;
    const items = exercise.injects.flatMap((i) => i.items);
    const done = items.filter((i) => i.status === 'done').length;
    const weak = count('M') + count('U');
    return [
      {
        title: 'Objectives (P/S/M/U)',
        big: exercise.objectives.map((o) => o.rating).join(' '),
        line: `P ${count('P')} · S ${count('S')} · M ${count('M')} · U ${count('U')}`,
        sub: weak > 0 ? `${weak} objective${weak === 1 ? '' : 's'} not achieved` : 'every objective achieved',
        className: weak > 0 ? 'missed' : count('S') > 0 ? 'not-measured' : 'met',
      },
      {
        title: 'Checklist',
        big: `${done} / ${items.length} done`,
        line: `${items.filter((i) => i.status === 'partial').length} partial · ${items.filter((i) => i.status === 'missed').length} missed`,
        sub: `${exercise.injects.length} injects in ${exercise.modules.length} modules${exercise.unavailableRoles.length > 0 ? ` · key person unavailable: ${exercise.unavailableRoles.map((u) => u.role).join(', ')}` : ''}`,
        className: items.some((i) => i.status === 'missed') ? 'missed' : items.some((i) => i.status === 'partial') ? 'not-measured' : 'met',
      },
    ];
  }
  const walkthrough = record.walkthrough;
  if (walkthrough) {
    const done = walkthrough.steps.filter((s) => s.status === 'done').length;
    return [
      {
        title: 'Estimated recovery (walkthrough)',
        big: formatSeconds(walkthrough.estimate.seconds),
        line: `RTO ${targetText(walkthrough.estimate.rtoTargetSeconds)} · ${walkthrough.estimate.withinRto === false ? 'OVER (estimate)' : 'within (estimate)'}`,
        sub: 'an estimate from a walkthrough, not a measured RTO',
        className: walkthrough.estimate.withinRto === false ? 'missed' : 'met',
      },
      {
        title: 'Runbook steps',
        big: `${done} / ${walkthrough.steps.length} done`,
        line: `${walkthrough.steps.filter((s) => s.status === 'failed').length} failed · ${walkthrough.steps.filter((s) => s.status === 'not-reached').length} not reached`,
        sub: `expected ${formatSeconds(walkthrough.expectedSeconds)} in total`,
        className: done === walkthrough.steps.length ? 'met' : 'missed',
      },
    ];
  }
  return null;
}

/**
 * A re-rendered report shows the register as it is now: this run's items and the items of
 * earlier runs with their current status (closed and verified by which run, open, overdue).
 * The sealed run.json keeps the status at the end of the run.
 */
interface ObjectiveView {
  name: 'RTO' | 'RPO';
  target: string;
  measured: string;
  bound: string;
  verdict: string;
  verdictClass: string;
  margin: string;
  method: string;
  extra: string | null;
}

/** Observed outage, server changes, re-opened recoveries, a fault without effect (SPEC v1.1). */
function rtoExtra(record: RunRecord): string | null {
  const rto = record.measured.rto;
  const parts: string[] = [];
  if (record.disruption && !record.disruption.observed) parts.push(`Inconclusive: ${record.disruption.evidence}`);
  const outage = rto?.observedOutage;
  if (outage) parts.push(`Outage as the probes saw it: last success ${outage.lastSuccessBefore ?? 'unknown'}, first failure ${outage.firstFailure}${outage.seconds !== null ? `, ${formatSeconds(outage.seconds)} until recovery` : ''}`);
  else if (rto && rto.observedOutage === null) parts.push('No probe of the disrupted endpoint failed after T0');
  for (const change of rto?.identityChanges ?? [])
    parts.push(`Server changed behind ${change.probe} at ${change.at}: system ${change.from.systemIdentifier ?? '?'} timeline ${change.from.timeline ?? '?'}${change.from.server ? ` (${change.from.server})` : ''} → system ${change.to.systemIdentifier ?? '?'} timeline ${change.to.timeline ?? '?'}${change.to.server ? ` (${change.to.server})` : ''}${change.to.inRecovery ? ', in recovery' : ''}`);
  for (const reopened of rto?.reopened ?? []) parts.push(`Recovery re-opened at ${reopened.at}: ${reopened.reason}`);
  return parts.length ? parts.join('; ') : null;
}

export function buildView(record: RunRecord, options: RenderOptions, svg: (markup: string) => unknown) {
  const t0 = record.t0;
  const rto = record.measured.rto;
  const rpo = record.measured.rpo;
  const objectives: ObjectiveView[] = [
    {
      name: 'RTO',
      target: targetText(record.targets.rtoSeconds),
      measured: rto ? formatSeconds(rto.seconds) : measuredMissingText(record, record.verdict.rto),
      bound: rto ? `± ${formatSeconds(rto.errorSeconds)}` : '—',
      verdict: verdictText(record.verdict.rto),
      verdictClass: record.verdict.rto,
      margin: marginText(record.verdict.rtoMarginSeconds),
      method: rto
        ? `${rto.method} (probe every ${formatSeconds(rto.probeInterval)}, ${rto.stableFor} further consecutive successes required${rto.stableForDuration ? `, held for ${rto.stableForDuration}` : ''}; recovered at ${rto.recoveredAt}${rto.truthAfter ? `; the true recovery lies after ${rto.truthAfter.at}: ${rto.truthAfter.evidence}` : ''})`
        : NOT_APPLICABLE,
      extra: rtoExtra(record),
    },
    {
      name: 'RPO',
      target: targetText(record.targets.rpoSeconds),
      // With no surviving heartbeat only a lower bound of the loss window is known.
      measured: rpo ? `${rpo.lowerBoundOnly ? '≥ ' : ''}${formatSeconds(rpo.seconds)}` : measuredMissingText(record, record.verdict.rpo),
      bound: rpo ? `± ${formatSeconds(rpo.errorSeconds)}` : '—',
      verdict: verdictText(record.verdict.rpo),
      verdictClass: record.verdict.rpo,
      margin: marginText(record.verdict.rpoMarginSeconds),
      method: rpo
        ? `${rpo.method} (heartbeat every ${formatSeconds(rpo.heartbeatInterval)}; ${rpo.acknowledged} acknowledged${rpo.acknowledgedAfterT0 !== undefined ? `, ${rpo.acknowledgedAfterT0} of them after T0` : ''}${rpo.cutAt ? `, cut at ${rpo.cutAt}` : ''}, newest present seq ${rpo.newestPresentSeq ?? 'none'} at ${rpo.newestPresentAt ?? '—'})`
        : NOT_APPLICABLE,
      extra: rpo
        ? `${rpo.lostWrites} acknowledged write${rpo.lostWrites === 1 ? '' : 's'} lost${rpo.missingSeqs.length > 0 ? ` (missing seq ${summarizeSeqs(rpo.missingSeqs)})` : ''}`
        : null,
    },
  ];

  const markers: TimelineMarker[] = [];
  if (t0) markers.push({ label: 'T0', seconds: 0, kind: 't0' });
  for (const phase of rto?.phases ?? []) {
    if (/recovered/i.test(phase.name) || phase.name.startsWith('T0')) continue; // drawn once, from the measurement itself
    // Short chart labels: the full phase names are in the phases table.
    markers.push({ label: phase.name.replace(/\s*\(.*\)$/, ''), seconds: phase.secondsAfterT0, kind: 'phase' });
  }
  if (rto) markers.push({ label: 'recovered', seconds: rto.seconds, kind: 'recovered' });

  const timelineChart = t0
    ? svg(probeTimelineSvg({ probes: options.probes, t0Mono: t0.mono, markers, targetRtoSeconds: record.targets.rtoSeconds }))
    : null;
  const barsChart = svg(
    targetBarsSvg([
      { label: 'RTO', measuredSeconds: rto?.seconds ?? null, errorSeconds: rto?.errorSeconds ?? 0, targetSeconds: record.targets.rtoSeconds, verdict: record.verdict.rto },
      { label: 'RPO', measuredSeconds: rpo?.seconds ?? null, errorSeconds: rpo?.errorSeconds ?? 0, targetSeconds: record.targets.rpoSeconds, verdict: record.verdict.rpo },
    ]),
  );

  const exerciseCards = exerciseCardsOf(record);
  const stepsChart = record.walkthrough
    ? svg(
        targetBarsSvg([
          ...record.walkthrough.steps.map((step, index) => ({
            label: `step ${index + 1}`,
            measuredSeconds: step.elapsedSeconds,
            errorSeconds: 0,
            targetSeconds: step.expectedSeconds,
            verdict: (step.status === 'failed' ? 'missed' : step.elapsedSeconds !== null && step.elapsedSeconds > step.expectedSeconds ? 'missed' : 'met') as Verdict,
            targetWord: 'expected',
          })),
          {
            label: 'total',
            measuredSeconds: record.walkthrough.estimate.seconds,
            errorSeconds: 0,
            targetSeconds: record.walkthrough.estimate.rtoTargetSeconds,
            verdict: record.walkthrough.estimate.withinRto === false ? 'missed' : 'met',
            targetWord: 'RTO',
          },
        ]),
      )
    : null;
  const participantsPresent = record.participants.filter((p) => p.present).length;
  const copy = record.restoredCopy;
  const controls: ControlEvidence[] = controlMapping(record);
  const environmentClassOfRecord = recordEnvironmentClass(record);
  const signoffs = (options.signoffs ?? []).map((s) => ({
    ...s,
    decisionText: s.decision === 'accepted-with-findings' ? 'accepted with findings' : s.decision,
    className: !s.signatureValid || !s.reviewsCurrentManifest ? 'missed' : s.decision === 'rejected' ? 'missed' : s.decision === 'accepted' ? 'met' : 'pending',
    validity: !s.signatureValid ? 'signature INVALID' : s.reviewsCurrentManifest ? `signed by key ${s.keyId}` : 'reviewed an earlier manifest',
  }));
  // The latest valid review of the bundle as it is now is the review status.
  const latest = [...signoffs].reverse().find((s) => s.signatureValid && s.reviewsCurrentManifest);

  return {
    title: `Recovery drill evidence — ${record.scenario.name}`,
    runId: record.runId,
    outcome: { label: outcomeText(record.outcome), className: record.outcome },
    environment: {
      name: record.environment,
      // The banner colour follows the class the run recorded (or the default rules for older records).
      className: bannerClass[environmentClassOfRecord],
      classLabel: ENVIRONMENT_CLASS_TEXT[environmentClassOfRecord],
    },
    rationale: record.rationale
      ? { threat: record.rationale.threat, likelihood: record.rationale.likelihood, impact: record.rationale.impact, notes: record.rationale.notes ?? null }
      : null,
    scenario: record.scenario,
    system: record.system,
    type: record.type,
    period: `${record.startedAt} → ${record.endedAt}`,
    generatedFor: `${record.system.name} · ${record.type} · ${record.startedAt.slice(0, 10)}`,
    objectives,
    exerciseCards,
    stepsChart,
    charts: {
      timeline: timelineChart,
      timelineMissing: t0 ? null : 'No disruptive action was issued (no T0), so there is no probe timeline: not applicable to this test type or the run ended before T0.',
      bars: barsChart,
      probeSummary: `${record.probeSummary.attempts} probe attempts, ${record.probeSummary.failures} failed (every attempt is in ${record.probeSummary.file || PROBES_FILE})`,
    },
    overview: [
      ['Scenario', `${record.scenario.name} (${record.scenario.file})`],
      ['Scenario sha256', record.scenario.sha256],
      ['Continuity plan', `${record.plan.name} version ${record.plan.version} (${record.plan.file}, sha256 ${record.plan.sha256})`],
      ['System', `${record.system.name} — tier ${record.system.tier}, owner ${record.system.owner}`],
      ['Environment', `${record.environment} — ${ENVIRONMENT_CLASS_TEXT[environmentClassOfRecord]}`],
      ['Test type', record.type],
      ['Objective', record.objective || 'not stated'],
      ['Scope', record.scope || 'not stated'],
      ...(record.rationale
        ? [
            ['Threat (rationale)', record.rationale.threat],
            ['Likelihood · impact', `likelihood ${record.rationale.likelihood} · impact ${record.rationale.impact}`],
            ...(record.rationale.notes ? [['Rationale notes', record.rationale.notes]] : []),
          ]
        : [['Threat (rationale)', 'not stated in the scenario (spec.rationale: threat, likelihood, impact)']]),
      ['Target', `${record.target.description || record.target.driver} (driver ${record.target.driver})`],
      ...topologyRows(record),
      ['Disruption', record.faults.length > 0 ? record.faults.map((f) => `${f.type}: ${f.description}`).join('; ') : (t0?.action ?? NOT_APPLICABLE)],
      ['T0', t0 ? `${t0.at} — ${t0.action}` : NOT_APPLICABLE],
      ['Started (UTC)', record.startedAt],
      ['Ended (UTC)', record.endedAt],
      ...(record.replayedAt ? [['Replayed (UTC)', `${record.replayedAt} → ${record.replayEndedAt ?? '—'} (a recorded session replayed from its answers file)`]] : []),
      ['Time source', record.timeSource],
      ['Operator', record.operator],
      ['Approver', record.approver ?? 'none required'],
      ['Tool', `${record.tool.name} ${record.tool.version} on Node ${record.tool.node}`],
      ['Host', record.host],
      ...(record.abort ? [['Aborted', `${record.abort.at}: ${record.abort.reason}`]] : []),
      ...(record.error ? [['Error', record.error]] : []),
    ].map(([label, value]) => ({ label, value })),
    participants: record.participants.map((p) => ({ name: p.name, role: p.role, attendance: p.present ? 'present' : 'absent' })),
    participantsSummary: `${participantsPresent} of ${record.participants.length} present`,
    phases: (rto?.phases ?? []).map((phase) => ({ name: phase.name, at: phase.at, after: `+${formatSeconds(phase.secondsAfterT0)}` })),
    // In time order: an event stamped with the instant it was measured (a probe's end) may be
    // recorded after a later one. Times to the ms, as the phases table rounds them.
    timeline: [...record.timeline].sort((a, b) => a.at.localeCompare(b.at)).map((event) => ({
      at: event.at,
      // An event without a monotonic time (mono < 0: added by recover) is placed by its UTC stamp.
      sinceT0: t0 ? signedSeconds(Math.round(event.mono >= 0 ? event.mono - t0.mono : Date.parse(event.at) - Date.parse(t0.at)) / 1000) : '—',
      phase: event.phase ?? '',
      event: event.event,
      detail: event.detail && Object.keys(event.detail).length > 0 ? JSON.stringify(event.detail) : '',
    })),
    integrityChecks: {
      restorePoint: record.dataIntegrity.restorePoint ?? NOT_APPLICABLE,
      backup: record.dataIntegrity.backup ?? NOT_APPLICABLE,
      notes: record.dataIntegrity.notes,
      rows: record.checks.map((check) => ({
        name: check.name,
        type: check.type,
        expected: check.expected,
        actual: check.actual,
        result: check.passed ? 'pass' : 'FAIL',
        className: check.passed ? 'met' : 'missed',
        detail: check.detail ?? '',
      })),
      summary:
        record.checks.length === 0
          ? `No data-integrity checks: ${NOT_APPLICABLE}.`
          : `${record.checks.filter((c) => c.passed).length} of ${record.checks.length} checks passed.`,
    },
    copy: copy
      ? {
          rows: [
            ['Where the copy lived', copy.port ? `${copy.location} (port ${copy.port})` : copy.location],
            ['Who could reach it', copy.access],
            ['Masking applied', copy.masking],
            ['Restored from', `${copy.baseBackup}, restore point ${copy.restorePoint}`],
            ['Retention', copy.kept ?? 'not kept beyond the run'],
            ['Destroyed at', copy.deletion?.destroyedAt ?? (copy.kept ? `pending (kept: ${copy.kept})` : 'not recorded')],
            [
              'Deletion verified by',
              copy.deletion
                ? copy.deletion.verification.map((v) => `${v.check}: ${v.passed ? 'passed' : 'FAILED'}`).join('; ') || 'no verification recorded'
                : 'pending',
            ],
          ].map(([label, value]) => ({ label, value })),
        }
      : null,
    teardown: {
      status: record.teardown.complete ? 'complete' : 'INCOMPLETE — manual action needed',
      className: record.teardown.complete ? 'met' : 'missed',
      recoveredBy: record.teardown.recoveredBy
        ? `Finished by drillbook recover (${record.teardown.recoveredBy}) after the run was interrupted.`
        : 'Finished by the run itself; drillbook recover was not needed.',
      undos: record.teardown.undos.map((undo) => ({
        id: undo.id,
        description: undo.description,
        status: undo.status,
        className: undo.status === 'done' ? 'met' : undo.status === 'failed' ? 'missed' : 'pending',
        at: undo.at ?? '—',
        by: undo.by === 'recover' ? 'drillbook recover' : 'the run',
        error: undo.error ?? '',
      })),
      deletions: record.teardown.deletions.map((deletion) => ({
        what: deletion.what,
        location: deletion.location,
        destroyedAt: deletion.destroyedAt,
        verification: deletion.verification.map((v) => `${v.check}: ${v.passed ? 'passed' : 'FAILED'}`).join('; ') || 'no verification recorded',
      })),
    },
    observations: {
      strengths: record.observations.strengths,
      improvements: record.observations.improvements,
    },
    findings: record.findings,
    remediation: record.remediation.map((item) => ({ ...item, className: item.status === 'open' ? 'pending' : 'met' })),
    aar: aarView(record),
    controls,
    attachments: record.attachments,
    signer: options.signer
      ? {
          keyId: options.signer.keyId,
          publicKeyPem: options.signer.publicKeyPem,
          status: options.signer.status === 'signed' ? 'Ed25519 signature over manifest.json (manifest.sig) and SHA256SUMS (SHA256SUMS.sig)' : `SIGNATURE INVALID: ${options.signer.problem ?? 'does not verify'}`,
          className: options.signer.status === 'signed' ? 'met' : 'missed',
        }
      : null,
    signoffs,
    review: {
      /** Rendered at sealing time: a review can only come later, recorded beside the bundle. */
      sealed: options.signoffs === undefined,
      status: latest ? `${latest.decisionText.toUpperCase()} by ${latest.reviewer} at ${latest.at}` : 'pending',
      className: latest ? latest.className : 'pending',
    },
    integrity: {
      runJson: options.integrity?.runJsonSha256 ?? 'not computed',
      timeline: options.integrity?.timelineSha256 ?? 'not computed',
      probes: options.integrity?.probesSha256 ?? 'not computed',
      manifest: options.manifest?.sha256 ?? null,
    },
  };
}


/** A cluster whose leader moves: who led before T0, after recovery, and each change seen. */
function topologyRows(record: RunRecord): string[][] {
  const topology = record.topology;
  if (!topology) return [];
  const member = (m: { name: string; host: string; port: number; timeline: number | null } | null) => (m ? `${m.name} (${m.host}:${m.port}, timeline ${m.timeline ?? 'unknown'})` : 'not found');
  const source = topology.source === 'patroni' ? 'Patroni REST API /cluster' : 'the member not in recovery';
  const changes = topology.leaderChanges.map((c) => `${c.at}: ${c.from ?? 'none'} → ${c.to ?? 'none'}`).join('; ');
  return [
    ['Leader before T0', `${member(topology.before)} — from ${source}`],
    ['Leader after recovery', member(topology.after)],
    ['Leader changes seen', changes || 'none'],
  ];
}
