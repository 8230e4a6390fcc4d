/**
 * Renders a RunRecord into the A1.3 evidence report (HTML and Markdown) through Handlebars
 * templates in reports/templates. All formatting decisions are made here, in one view model
 * shared by both templates, so the two formats cannot drift apart in content.
 *
 * Escaping: templates use `{{ }}` only, which HTML-escapes every value. The one exception is
 * the SVG charts, built in charts.ts from numbers and escaped labels, and passed as SafeString.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { escapeXml, formatSeconds, probeTimelineSvg, targetBarsSvg, type TimelineMarker } from './charts.js';
import { controlMapping, type ControlEvidence } from './controls.js';
import {
  EXPORTS_DIR,
  EvidenceError,
  HTML_REPORT_FILE,
  MANIFEST_FILE,
  MARKDOWN_REPORT_FILE,
  PROBES_FILE,
  RUN_FILE,
  TIMELINE_FILE,
  pathExists,
  readProbes,
  readRunRecord,
  sha256File,
  writeFileAtomic,
} from './evidence-files.js';
import { templatesDir } from './paths.js';
import type { Outcome, ProbeAttempt, RunRecord, Verdict } from './run-record.js';

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

const NOT_APPLICABLE = 'not applicable to this test type';

/** A private Handlebars environment with the report templates compiled. */
export class ReportRenderer {
  private readonly htmlTemplate: Handlebars.TemplateDelegate;
  private readonly markdownTemplate: Handlebars.TemplateDelegate;
  private readonly handlebars: typeof Handlebars;

  constructor(templateDirectory: string = templatesDir()) {
    this.handlebars = Handlebars.create();
    this.handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    // Table cells in Markdown: a `|` or a newline would break the table; emphasis and link
    // syntax from data must not format. The result is still HTML-escaped by `{{ }}`.
    this.handlebars.registerHelper('cell', (value: unknown) =>
      String(value ?? '')
        .replace(/[\\`*_[\]|#]/g, (char) => `\\${char}`)
        .replace(/\r?\n/g, ' '),
    );
    const read = (name: string) => readFileSync(path.join(templateDirectory, name), 'utf8');
    const compileOptions = { strict: false, preventIndent: true };
    this.htmlTemplate = this.handlebars.compile(read('report.html.hbs'), compileOptions);
    this.markdownTemplate = this.handlebars.compile(read('report.md.hbs'), compileOptions);
  }

  html(record: RunRecord, options: RenderOptions): string {
    return this.htmlTemplate(buildView(record, options, (svg) => new this.handlebars.SafeString(svg)));
  }

  markdown(record: RunRecord, options: RenderOptions): string {
    return this.markdownTemplate(buildView(record, options, () => null));
  }
}

export function renderHtml(record: RunRecord, options: RenderOptions): string {
  return new ReportRenderer().html(record, options);
}

export function renderMarkdown(record: RunRecord, options: RenderOptions): string {
  return new ReportRenderer().markdown(record, options);
}

export type RerenderFormat = 'html' | 'md' | 'json';

/**
 * Re-render a finished (or recovered) run from its run.json and probes.csv into `outDir`,
 * by default `<runDir>/exports/`, which the manifest does not cover: re-rendering must
 * never change a verified bundle. Returns the files written.
 */
export async function rerender(runDir: string, formats: RerenderFormat[], outDir?: string): Promise<string[]> {
  if (!(await pathExists(runDir))) throw new EvidenceError(`run directory ${runDir} does not exist`);
  const record = await readRunRecord(runDir);
  await refreshRemediation(record, path.dirname(path.resolve(runDir)));
  const probes = await readProbes(runDir);
  const options: RenderOptions = { probes };
  const hashes = await Promise.all([RUN_FILE, TIMELINE_FILE, PROBES_FILE].map((f) => sha256File(path.join(runDir, f)).catch(() => null)));
  const [runJson, timeline, probesCsv] = hashes;
  if (runJson && timeline && probesCsv) {
    options.integrity = { runJsonSha256: runJson.sha256, timelineSha256: timeline.sha256, probesSha256: probesCsv.sha256 };
  }
  const manifest = await sha256File(path.join(runDir, MANIFEST_FILE)).catch(() => null);
  if (manifest) options.manifest = { sha256: manifest.sha256 };
  const { signatureInfo } = await import('./signing.js');
  const { readSignoffs } = await import('./signoff.js');
  const signature = await signatureInfo(runDir).catch(() => null);
  if (signature && signature.status !== 'unsigned' && signature.keyId && signature.publicKeyPem) {
    options.signer = { keyId: signature.keyId, publicKeyPem: signature.publicKeyPem, status: signature.status, problem: signature.problem };
  }
  options.signoffs = await readSignoffs(runDir).catch(() => []);

  const target = outDir ?? path.join(runDir, EXPORTS_DIR);
  await mkdir(target, { recursive: true });
  const renderer = formats.some((f) => f !== 'json') ? new ReportRenderer() : undefined;
  const written: string[] = [];
  for (const format of [...new Set(formats)]) {
    let file: string;
    let content: string;
    if (format === 'html') {
      file = HTML_REPORT_FILE;
      content = renderer!.html(record, options);
    } else if (format === 'md') {
      file = MARKDOWN_REPORT_FILE;
      content = renderer!.markdown(record, options);
    } else if (format === 'json') {
      file = RUN_FILE;
      content = `${JSON.stringify(record, null, 2)}\n`;
    } else {
      throw new EvidenceError(`unknown report format "${String(format)}": use html, md or json`);
    }
    const destination = path.join(target, file);
    await writeFileAtomic(destination, content);
    written.push(destination);
  }
  return written;
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
async function refreshRemediation(record: RunRecord, evidenceDir: string): Promise<void> {
  const { REMEDIATION_FILE, earlierItemsIn, readRegister } = await import('./remediation.js');
  if (!(await pathExists(path.join(evidenceDir, REMEDIATION_FILE)))) return;
  const now = new Date();
  const { items } = await readRegister(evidenceDir, { now });
  record.earlierItems = earlierItemsIn(items, record);
  record.remediation = record.remediation.map((item) => {
    const current = items.find((i) => i.runId === record.runId && (i.id === item.id || i.id.startsWith(`${item.id}@`)));
    return current ? { ...item, status: current.status, owner: current.owner, due: current.due, severity: current.severity, correctiveAction: current.correctiveAction } : item;
  });
  record.earlierItemsAsOf = now.toISOString();
}

// ---------------------------------------------------------------------------------------
// View model

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

function buildView(record: RunRecord, options: RenderOptions, svg: (markup: string) => unknown) {
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
        ? `${rto.method} (probe every ${formatSeconds(rto.probeInterval)}, ${rto.stableFor} further consecutive successes required; recovered at ${rto.recoveredAt})`
        : NOT_APPLICABLE,
      extra: null,
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
        ? `${rpo.method} (heartbeat every ${formatSeconds(rpo.heartbeatInterval)}; ${rpo.acknowledged} acknowledged, newest present seq ${rpo.newestPresentSeq ?? 'none'} at ${rpo.newestPresentAt ?? '—'})`
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

  return {
    title: `Recovery drill evidence — ${record.scenario.name}`,
    runId: record.runId,
    outcome: { label: outcomeText(record.outcome), className: record.outcome },
    environment: { name: record.environment, className: environmentClass(record.environment) },
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
      ['Environment', record.environment],
      ['Test type', record.type],
      ['Objective', record.objective || 'not stated'],
      ['Scope', record.scope || 'not stated'],
      ['Target', `${record.target.description || record.target.driver} (driver ${record.target.driver})`],
      ['Disruption', record.faults.length > 0 ? record.faults.map((f) => `${f.type}: ${f.description}`).join('; ') : (t0?.action ?? NOT_APPLICABLE)],
      ['T0', t0 ? `${t0.at} — ${t0.action}` : NOT_APPLICABLE],
      ['Started (UTC)', record.startedAt],
      ['Ended (UTC)', record.endedAt],
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
    timeline: record.timeline.map((event) => ({
      at: event.at,
      sinceT0: t0 ? signedSeconds((event.mono - t0.mono) / 1000) : '—',
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
    signoffs: (options.signoffs ?? []).map((s) => ({
      ...s,
      className: !s.signatureValid || !s.reviewsCurrentManifest ? 'missed' : s.decision === 'accepted' ? 'met' : 'missed',
      validity: !s.signatureValid ? 'signature INVALID' : s.reviewsCurrentManifest ? `signed by key ${s.keyId}` : 'reviewed an earlier manifest',
    })),
    integrity: {
      runJson: options.integrity?.runJsonSha256 ?? 'not computed',
      timeline: options.integrity?.timelineSha256 ?? 'not computed',
      probes: options.integrity?.probesSha256 ?? 'not computed',
      manifest: options.manifest?.sha256 ?? null,
    },
  };
}

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
function aarView(record: RunRecord) {
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
          : `closed ${item.closedAt?.slice(0, 10) ?? ''}`
        : item.overdue
          ? 'OVERDUE'
          : 'open',
    className: item.status === 'closed' ? 'met' : item.overdue ? 'missed' : 'pending',
  }));
  return {
    kind: exercise ? 'tabletop' : walkthrough ? 'walkthrough' : 'measured',
    overview: [
      ['Exercise', `${record.scenario.name} — ${record.type}`],
      ['Dates (UTC)', `${record.startedAt} → ${record.endedAt}`],
      ...(exercise?.conductedAt ? [['Conducted', `${exercise.conductedAt} (recorded session replayed on ${record.startedAt.slice(0, 10)})`]] : []),
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
      status: item.status,
      className: item.status === 'open' ? 'pending' : 'met',
      verifiedBy: item.verifiable ? ('target' in item.verifiable ? `a later run with the ${item.verifiable.target.toUpperCase()} target met` : `a later run with check "${item.verifiable.check}" passing`) : 'a note from the owner',
    })),
    earlier,
    earlierSummary:
      record.earlierItems === undefined
        ? 'The remediation register was not consulted for this run.'
        : earlier.length === 0
          ? `No items from earlier runs of ${record.system.name}.`
          : `${earlier.filter((e) => e.status === 'closed').length} closed, ${earlier.filter((e) => e.status === 'open' && !e.overdue).length} open, ${earlier.filter((e) => e.overdue).length} overdue (as of ${(record.earlierItemsAsOf ?? record.endedAt).slice(0, 10)}).`,
  };
}

function targetText(seconds: number | null): string {
  return seconds === null ? 'no target' : formatSeconds(seconds);
}

function verdictText(verdict: Verdict): string {
  return verdict === 'not-measured' ? 'not measured' : verdict;
}

function measuredMissingText(record: RunRecord, verdict: Verdict): string {
  if (verdict === 'missed') return 'not recovered';
  return record.type === 'tabletop' ? NOT_APPLICABLE : 'not measured';
}

/** Margin is target − measured: positive means headroom (see runners/measure.ts verdictOf). */
function marginText(margin: number | null): string {
  if (margin === null) return '—';
  return margin >= 0 ? `${formatSeconds(margin)} under target` : `${formatSeconds(-margin)} over target`;
}

function signedSeconds(seconds: number): string {
  return seconds >= 0 ? `+${formatSeconds(seconds)}` : `−${formatSeconds(-seconds)}`;
}

function outcomeText(outcome: Outcome): string {
  switch (outcome) {
    case 'passed':
      return 'Passed';
    case 'failed':
      return 'Failed';
    case 'aborted':
      return 'Aborted — rolled back';
    case 'rollback-incomplete':
      return 'Rollback incomplete';
    default:
      return String(outcome);
  }
}

/** The banner colour: red for production, amber for staging, neutral for anything else. */
export function environmentClass(environment: string): 'production' | 'staging' | 'other' {
  const name = environment.trim().toLowerCase();
  if (/^prod(uction)?(\b|[-_])/.test(name)) return 'production';
  if (/^stag(e|ing)?(\b|[-_])/.test(name)) return 'staging';
  return 'other';
}

/** `1-5, 9, 12-13`: missing heartbeats are usually runs, and there may be thousands. */
function summarizeSeqs(seqs: number[]): string {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  const shown = ranges.slice(0, 20).join(', ');
  return ranges.length > 20 ? `${shown}, … (${sorted.length} in all)` : shown;
}

// Exported for tests: the SVG label escaping is part of the report's safety.
export { escapeXml };
