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
  const probes = await readProbes(runDir);
  const options: RenderOptions = { probes };
  const hashes = await Promise.all([RUN_FILE, TIMELINE_FILE, PROBES_FILE].map((f) => sha256File(path.join(runDir, f)).catch(() => null)));
  const [runJson, timeline, probesCsv] = hashes;
  if (runJson && timeline && probesCsv) {
    options.integrity = { runJsonSha256: runJson.sha256, timelineSha256: timeline.sha256, probesSha256: probesCsv.sha256 };
  }
  const manifest = await sha256File(path.join(runDir, MANIFEST_FILE)).catch(() => null);
  if (manifest) options.manifest = { sha256: manifest.sha256 };

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
            ['Where the copy lived', `${copy.location} (port ${copy.port})`],
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
    earlierItems: 'Items opened by earlier runs of this system: tracked by the remediation register (pending).',
    controls,
    attachments: record.attachments,
    integrity: {
      runJson: options.integrity?.runJsonSha256 ?? 'not computed',
      timeline: options.integrity?.timelineSha256 ?? 'not computed',
      probes: options.integrity?.probesSha256 ?? 'not computed',
      manifest: options.manifest?.sha256 ?? null,
    },
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
