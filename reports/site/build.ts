/**
 * `drillbook site <evidence dir> <out dir>`: a static, self-contained site for continuity
 * managers and auditors.
 *
 *   index.html        every run, filterable by system, test type, outcome and period
 *   runs/<dir>/report.html   each run's A1.3 report, copied byte for byte from its bundle
 *   coverage.html     systems × required test types (with a plan)
 *   trends.html       measured RTO / RPO per system over all runs, against the target
 *   remediation.html  open remediation items
 *
 * No page loads anything from the network; the site works from file:// and any static
 * server. The evidence directory is only read.
 */
import { copyFile, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ContinuityPlan } from '../../scenarios/schema.js';
import { computeCoverage, readRunSummariesFrom, type CoverageReport, type CoverageWindow, type RunSummary } from '../coverage.js';
import { EvidenceError, HTML_REPORT_FILE, pathExists, writeFileAtomic } from '../evidence-files.js';
import { localEvidenceSource, type EvidenceSource } from '../evidence/source.js';
import { closedAsText, readRegisterFrom, type RegisterItem } from '../remediation.js';
import { readSignoffsFrom } from '../signoff.js';
import { SitePages, type NavLink, type RemediationView } from './pages.js';

export interface SiteOptions {
  plan?: ContinuityPlan;
  window?: CoverageWindow;
  now?: Date;
  /** Reports copied at once. */
  concurrency?: number;
}

export interface SiteResult {
  outDir: string;
  pages: string[];
  runs: number;
  reportsCopied: number;
  reportsMissing: string[];
  coverage?: CoverageReport;
  remediationSource: string;
  warnings: string[];
}

export const RUNS_SUBDIR = 'runs';

export function reportHrefFor(run: RunSummary, prefix = ''): string {
  return `${prefix}${RUNS_SUBDIR}/${encodeURIComponent(run.dir)}/${HTML_REPORT_FILE}`;
}

/**
 * The site of an evidence directory, or of any evidence source (`s3://…` read in place, see
 * evidence/source.ts): the same pages from the same content.
 */
export async function buildSite(evidence: string | EvidenceSource, outDir: string, options: SiteOptions = {}): Promise<SiteResult> {
  const source = typeof evidence === 'string' ? localEvidenceSource(evidence) : evidence;
  const evidenceDir = source.where;
  const outResolved = path.resolve(outDir);
  if (source.kind === 'local') {
    if (!(await pathExists(evidenceDir))) throw new EvidenceError(`evidence directory ${evidenceDir} does not exist`);
    const evidenceReal = await realpath(evidenceDir);
    const outReal = (await pathExists(outResolved)) ? await realpath(outResolved) : outResolved;
    if (outReal === evidenceReal || outReal.startsWith(`${evidenceReal}${path.sep}`)) {
      throw new EvidenceError(`the site's directory ${outDir} is inside the evidence directory ${evidenceDir}: write it elsewhere (the evidence directory holds only runs)`);
    }
  }
  const now = options.now ?? new Date();
  const generatedAt = now.toISOString();
  const index = await readRunSummariesFrom(source);
  const runs = index.runs;
  const warnings = [...index.warnings, ...index.unfinished.map((d) => `${d}: no run.json (a run in progress, or one for \`drillbook recover\`)`)];

  await mkdir(path.join(outResolved, RUNS_SUBDIR), { recursive: true });
  const copied = new Set<string>();
  const missing: string[] = [];
  await forEachLimited(runs, options.concurrency ?? 16, async (run) => {
    const target = path.join(outResolved, RUNS_SUBDIR, run.dir);
    if (source.kind === 'local') {
      try {
        await mkdir(target, { recursive: true });
        await copyFile(path.join(evidenceDir, run.dir, HTML_REPORT_FILE), path.join(target, HTML_REPORT_FILE));
        copied.add(run.dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        missing.push(run.dir);
      }
      return;
    }
    const report = await source.read(`${run.dir}/${HTML_REPORT_FILE}`);
    if (report === undefined) {
      missing.push(run.dir);
      return;
    }
    await mkdir(target, { recursive: true });
    await writeFileAtomic(path.join(target, HTML_REPORT_FILE), report);
    copied.add(run.dir);
  });
  // Copies finish in any order: the pages list what is missing in name order.
  missing.sort();
  const href = (run: RunSummary) => (copied.has(run.dir) ? reportHrefFor(run) : undefined);
  // The sealed report cannot show a later review: the index shows the latest one beside it.
  const reviews = new Map<string, { text: string; className: string }>();
  await forEachLimited(runs, options.concurrency ?? 16, async (run) => {
    const review = await latestReview(source, run.dir);
    if (review) reviews.set(run.dir, review);
  });

  const pages = new SitePages();
  const nav = (current: string): NavLink[] =>
    [
      { href: 'index.html', label: 'Runs' },
      ...(options.plan ? [{ href: 'coverage.html', label: 'Coverage' }] : []),
      { href: 'trends.html', label: 'Trends' },
      { href: 'remediation.html', label: 'Remediation' },
    ].map((link) => ({ ...link, current: link.href === current }));
  const written: string[] = [];
  const write = async (name: string, html: string) => {
    const file = path.join(outResolved, name);
    await writeFileAtomic(file, html);
    written.push(file);
  };

  const register = await readRemediation(source, runs, now);
  let coverage: CoverageReport | undefined;
  if (options.plan) {
    coverage = computeCoverage(options.plan, runs, { window: options.window, now, register: register.registerItems });
    await write('coverage.html', pages.coverage(coverage, { evidence: evidenceDir, nav: nav('coverage.html'), reportHref: href, generatedAt }));
  }
  await write('trends.html', pages.trends(runs, { evidence: evidenceDir, nav: nav('trends.html'), generatedAt }));

  const byRunId = new Map(runs.map((r) => [r.runId, r] as const));
  const items = register.items.map((item) => {
    const run = byRunId.get(item.runId);
    return { ...item, reportHref: run ? href(run) : undefined };
  });
  await write(
    'remediation.html',
    pages.remediation(items, {
      closedCount: items.filter((i) => i.status === 'closed').length,
      warnings: register.warnings,
      source: register.source,
      nav: nav('remediation.html'),
      generatedAt,
    }),
  );
  await write(
    'index.html',
    pages.index(runs, {
      evidence: evidenceDir,
      nav: nav('index.html'),
      generatedAt,
      reportHref: href,
      reviews,
      coverage,
      openRemediation: items.filter((i) => i.status === 'open').length,
      warnings: [...warnings, ...missing.map((d) => `${d}: no report.html in the bundle`)],
    }),
  );
  return {
    outDir: outResolved,
    pages: written,
    runs: runs.length,
    reportsCopied: copied.size,
    reportsMissing: missing,
    coverage,
    remediationSource: register.source,
    warnings: [...warnings, ...register.warnings],
  };
}

/**
 * Remediation items from the register (reports/remediation.ts), plus the items of runs the
 * register has not recorded, from their run.json (their status as of that run).
 */
export async function readRemediation(
  evidence: EvidenceSource,
  runs: readonly RunSummary[],
  now: Date,
): Promise<{ items: RemediationView[]; warnings: string[]; source: string; registerItems: RegisterItem[] }> {
  const warnings: string[] = [];
  const items: RemediationView[] = [];
  let registerItems: RegisterItem[] = [];
  /** `runId\u0000item id` of every item the register knows. */
  const known = new Set<string>();
  let source = 'the items recorded in each run.json (status as of that run)';
  try {
    const result = await readRegisterFrom(evidence, { now });
    registerItems = result.items;
    for (const item of result.items) {
      const { id, system, runId, title, severity, owner, due, status, overdue } = item;
      items.push({ id, system, runId, title, severity, owner, due, status, overdue, ...(status === 'closed' ? { closedAs: closedAsText(item) } : {}) });
      known.add(`${item.runId}\u0000${item.itemId}`);
    }
    warnings.push(...result.warnings);
    source = 'the remediation register';
  } catch (error) {
    warnings.push(`the remediation register could not be read (${(error as Error).message}); showing the items recorded in each run instead`);
  }
  // Runs the register has not recorded (e.g. written before it existed) still show their items.
  const today = now.toISOString().slice(0, 10);
  let fromRuns = 0;
  for (const run of runs) {
    for (const item of run.remediation) {
      if (known.has(`${run.runId}\u0000${item.id}`)) continue;
      const status = item.status === 'closed' ? 'closed' : 'open';
      fromRuns++;
      items.push({
        id: item.id,
        system: run.system,
        runId: run.runId,
        title: item.title,
        severity: item.severity,
        owner: item.owner,
        due: item.due,
        status,
        overdue: status === 'open' && item.due !== '' && item.due < today,
      });
    }
  }
  if (fromRuns > 0 && source === 'the remediation register') source += ` and ${fromRuns} item${fromRuns === 1 ? '' : 's'} it has not recorded, from run.json (status as of that run)`;
  return { items, warnings, source, registerItems };
}

/** The latest valid review of a run as the site shows it; null when it has none. */
async function latestReview(source: EvidenceSource, dir: string): Promise<{ text: string; className: string } | null> {
  const signoffs = await readSignoffsFrom(source, dir).catch(() => null);
  if (!signoffs || signoffs.length === 0) return null;
  const valid = signoffs.filter((s) => s.signatureValid && s.reviewsCurrentManifest);
  const latest = valid.at(-1);
  if (!latest) return { text: `${signoffs.length} review record${signoffs.length === 1 ? '' : 's'}, none valid for the bundle as it is`, className: 'missed' };
  const decision = latest.decision === 'accepted-with-findings' ? 'accepted with findings' : latest.decision;
  return { text: `${decision} by ${latest.reviewer}, ${latest.at.slice(0, 10)}`, className: latest.decision === 'accepted' ? 'met' : latest.decision === 'rejected' ? 'missed' : 'pending' };
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
