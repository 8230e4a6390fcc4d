/**
 * The HTML pages of the static site and of `drillbook coverage --format html`, rendered
 * through Handlebars templates in reports/templates/site. Every value goes through `{{ }}`
 * (HTML-escaped); the only raw insertions are the SVG charts (built from numbers, their
 * text through escapeXml) and the index page's filter script, a constant of this module.
 *
 * Pages carry a Content-Security-Policy: no network at all, styles inline, and the one
 * script allowed by its sha256, so even markup that slipped into a page could not run an
 * inline event handler.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { DUE_SOON_DAYS, STATUS_LABEL, secondsText, type CoverageReport, type RunSummary } from '../coverage.js';
import { packageRoot, templatesDir } from '../paths.js';
import { systemTrends, trendSvg } from '../trends.js';

export interface NavLink {
  href: string;
  label: string;
  current?: boolean;
}

export interface RemediationView {
  id: string;
  system: string;
  runId: string;
  title: string;
  severity: string;
  owner: string;
  due: string;
  status: 'open' | 'closed';
  overdue: boolean;
  /** Closed items: how (verified by a run, accepted risk, a note). */
  closedAs?: string;
  reportHref?: string;
}

/** Filters of the run index; works from file:// (no fetch, no modules). */
export const INDEX_SCRIPT = `(function () {
  var form = document.getElementById('filters');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#runs tbody tr'));
  var shown = document.getElementById('shown');
  function apply() {
    var f = { system: form.elements.system.value, type: form.elements.type.value, outcome: form.elements.outcome.value, from: form.elements.from.value, to: form.elements.to.value };
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var d = rows[i].dataset;
      var ok = (!f.system || d.system === f.system) && (!f.type || d.type === f.type) && (!f.outcome || d.outcome === f.outcome) && (!f.from || d.date >= f.from) && (!f.to || d.date <= f.to);
      rows[i].hidden = !ok;
      if (ok) count++;
    }
    shown.textContent = String(count);
  }
  var params = new URLSearchParams(window.location.search);
  ['system', 'type', 'outcome', 'from', 'to'].forEach(function (name) { if (params.has(name)) form.elements[name].value = params.get(name); });
  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('reset', function () { setTimeout(apply, 0); });
  apply();
})();`;

function cspFor(script?: string): string {
  const scriptSrc = script ? `'sha256-${createHash('sha256').update(script).digest('base64')}'` : "'none'";
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src ${scriptSrc}; base-uri 'none'; form-action 'none'`;
}

export function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export class SitePages {
  private readonly hb = Handlebars.create();
  private readonly templates: Record<'index' | 'coverage' | 'trends' | 'remediation', Handlebars.TemplateDelegate>;
  readonly version = toolVersion();

  constructor(directory = path.join(templatesDir(), 'site')) {
    const read = (name: string) => readFileSync(path.join(directory, name), 'utf8');
    const options = { strict: false, preventIndent: true };
    this.hb.registerPartial('head', read('_head.hbs'));
    this.hb.registerPartial('nav', read('_nav.hbs'));
    this.hb.registerPartial('coverageTable', read('_coverage-table.hbs'));
    this.hb.registerPartial('trends', read('_trends.hbs'));
    this.templates = {
      index: this.hb.compile(read('index.hbs'), options),
      coverage: this.hb.compile(read('coverage.hbs'), options),
      trends: this.hb.compile(read('trends.hbs'), options),
      remediation: this.hb.compile(read('remediation.hbs'), options),
    };
  }

  private svg(markup: string): Handlebars.SafeString {
    return new this.hb.SafeString(markup);
  }

  private trendsView(runs: readonly RunSummary[]) {
    return systemTrends(runs).map((t) => ({
      system: t.system,
      anchor: t.system.replace(/[^A-Za-z0-9-]/g, '-'),
      runs: t.runs,
      single: t.runs === 1,
      failures: t.failures,
      rtoSvg: this.svg(trendSvg({ title: `${t.system}: RTO`, metric: 'rto', points: t.rto })),
      rpoSvg: this.svg(trendSvg({ title: `${t.system}: RPO`, metric: 'rpo', points: t.rpo })),
    }));
  }

  coverage(
    report: CoverageReport,
    options: { runs?: readonly RunSummary[]; evidence: string; nav?: NavLink[]; reportHref?: (run: RunSummary) => string | undefined; generatedAt: string },
  ): string {
    const window = report.window.from || report.window.to ? `${report.window.from ?? '…'} → ${report.window.to ?? '…'}` : '';
    return this.templates.coverage({
      title: `Coverage — ${report.plan.name}`,
      csp: cspFor(),
      nav: options.nav,
      plan: report.plan,
      asOf: report.asOf,
      window,
      evidence: options.evidence,
      toolVersion: this.version,
      generatedAt: options.generatedAt,
      dueSoonDays: DUE_SOON_DAYS,
      counts: { covered: report.counts.covered, dueSoon: report.counts['due-soon'], overdue: report.counts.overdue, rehearsed: report.counts.rehearsed, neverTested: report.counts['never-tested'] },
      awaitingPlanRevision: report.awaitingPlanRevision,
      notes: report.notes,
      rows: report.rows.map((row) => {
        const r = row.lastRun;
        return {
          system: row.system,
          owner: row.owner,
          tier: row.tier,
          type: row.type,
          status: row.status,
          statusLabel: STATUS_LABEL[row.status],
          flags: row.flags,
          lastRunAt: r ? r.startedAt.slice(0, 16).replace('T', ' ') : 'never',
          reportHref: r ? options.reportHref?.(r) : undefined,
          outcome: r?.outcome,
          environment: r ? `${r.environment} (${r.environmentClass})` : '—',
          rto: r ? `${r.measured.rto ? secondsText(r.measured.rto.seconds) : '—'} / ${r.targets.rtoSeconds === null ? '—' : secondsText(r.targets.rtoSeconds)}` : '—',
          rpo: r ? `${r.measured.rpo ? secondsText(r.measured.rpo.seconds) : '—'} / ${r.targets.rpoSeconds === null ? '—' : secondsText(r.targets.rpoSeconds)}` : '—',
          rtoVerdict: r?.verdict.rto ?? '',
          rpoVerdict: r?.verdict.rpo ?? '',
          age: `${row.ageDays === null ? '—' : `${Math.floor(row.ageDays)}d`} / ${row.maxAge}`,
          rehearsal: row.lastRehearsal ? `${row.lastRehearsal.startedAt.slice(0, 16).replace('T', ' ')} · ${row.lastRehearsal.environment} (${row.lastRehearsal.environmentClass}) · ${row.lastRehearsal.outcome}` : null,
          rehearsalHref: row.lastRehearsal ? options.reportHref?.(row.lastRehearsal) : undefined,
          due: row.due ?? '—',
        };
      }),
      showTrends: options.runs !== undefined,
      trends: options.runs ? this.trendsView(options.runs) : [],
    });
  }

  trends(runs: readonly RunSummary[], options: { evidence: string; nav?: NavLink[]; generatedAt: string }): string {
    return this.templates.trends({
      title: 'Trends',
      csp: cspFor(),
      nav: options.nav,
      evidence: options.evidence,
      toolVersion: this.version,
      generatedAt: options.generatedAt,
      trends: this.trendsView(runs),
    });
  }

  remediation(
    items: RemediationView[],
    options: { closedCount: number; warnings: string[]; source: string; nav?: NavLink[]; generatedAt: string },
  ): string {
    const open = items.filter((i) => i.status === 'open');
    return this.templates.remediation({
      title: 'Open remediation items',
      csp: cspFor(),
      nav: options.nav,
      items: open,
      closed: items.filter((i) => i.status === 'closed').map((i) => ({ ...i, riskAccepted: (i.closedAs ?? '').startsWith('accepted risk') })),
      openCount: open.length,
      overdueCount: open.filter((i) => i.overdue).length,
      closedCount: options.closedCount,
      warnings: options.warnings,
      source: options.source,
      toolVersion: this.version,
      generatedAt: options.generatedAt,
    });
  }

  index(
    runs: readonly RunSummary[],
    options: {
      evidence: string;
      nav?: NavLink[];
      generatedAt: string;
      reportHref: (run: RunSummary) => string | undefined;
      /** The latest review of each run (by run directory), from its signoffs.jsonl. */
      reviews?: ReadonlyMap<string, { text: string; className: string }>;
      coverage?: CoverageReport;
      openRemediation: number;
      warnings: string[];
    },
  ): string {
    const newestFirst = [...runs].reverse();
    const distinct = (pick: (r: RunSummary) => string) => [...new Set(runs.map(pick))].filter(Boolean).sort();
    return this.templates.index({
      title: 'drillbook evidence',
      csp: cspFor(INDEX_SCRIPT),
      nav: options.nav,
      evidence: options.evidence,
      generatedAt: options.generatedAt,
      toolVersion: this.version,
      firstAt: runs[0]?.startedAt.slice(0, 10) ?? '—',
      lastAt: runs.at(-1)?.startedAt.slice(0, 10) ?? '—',
      totals: {
        runs: runs.length,
        systems: new Set(runs.map((r) => r.system)).size,
        passed: runs.filter((r) => r.outcome === 'passed').length,
        failed: runs.filter((r) => r.outcome === 'failed').length,
        aborted: runs.filter((r) => r.outcome !== 'passed' && r.outcome !== 'failed').length,
      },
      coverage: options.coverage
        ? { gaps: options.coverage.gaps, gapCount: options.coverage.counts.overdue + options.coverage.counts.rehearsed + options.coverage.counts['never-tested'] }
        : undefined,
      openRemediation: options.openRemediation,
      options: { systems: distinct((r) => r.system), types: distinct((r) => r.type), outcomes: distinct((r) => r.outcome) },
      warnings: options.warnings,
      runs: newestFirst.map((r) => ({
        startedAt: r.startedAt.slice(0, 19).replace('T', ' '),
        date: r.startedAt.slice(0, 10),
        scenario: r.scenario,
        system: r.system,
        type: r.type,
        environment: r.environment,
        envClass: r.environmentClass === 'production' ? 'env-production' : '',
        environmentClass: r.environmentClass,
        outcome: r.outcome,
        rto: `${r.measured.rto ? secondsText(r.measured.rto.seconds) : '—'} / ${r.targets.rtoSeconds === null ? '—' : secondsText(r.targets.rtoSeconds)}`,
        rpo: `${r.measured.rpo ? secondsText(r.measured.rpo.seconds) : '—'} / ${r.targets.rpoSeconds === null ? '—' : secondsText(r.targets.rpoSeconds)}`,
        rtoVerdict: r.verdict.rto,
        rpoVerdict: r.verdict.rpo,
        checks: r.checks.total === 0 ? '—' : `${r.checks.total - r.checks.failed}/${r.checks.total}`,
        reportHref: options.reportHref(r),
        review: options.reviews?.get(r.dir)?.text ?? 'pending',
        reviewClass: options.reviews?.get(r.dir)?.className ?? 'pending',
      })),
      script: INDEX_SCRIPT,
    });
  }
}
