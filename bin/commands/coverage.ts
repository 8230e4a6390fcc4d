/**
 * `drillbook coverage --plan FILE [--evidence DIR | s3://bucket/prefix] [--from D --to D] [--format table|html|csv] [--out FILE] [--now ISO]`:
 * systems × the test types their tier's policy requires × the last run × due date.
 * Exit 0 when everything is covered (or due soon), 1 when anything is overdue or never
 * tested, 2 on bad input (with nothing written).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Diagnostics } from '../../scenarios/diagnostics.js';
import type { ContinuityPlan } from '../../scenarios/schema.js';
import type { CoverageWindow } from '../../reports/coverage.js';
import { EXIT, Exit, err, out } from '../cli-common.js';
import type { CliDefaults } from '../config.js';
import { withEvidenceSource } from './evidence-source.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Parses `--from`/`--to`/`--now`; prints every problem and exits 2 when there is one. */
export function windowOrExit(options: { from?: string; to?: string; now?: string }): { window: CoverageWindow; now: Date } {
  const problems: string[] = [];
  const checkDate = (flag: string, value: string | undefined) => {
    if (value === undefined) return;
    const ms = Date.parse(`${value}T00:00:00Z`);
    const valid = DATE.test(value) && !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === value;
    if (!valid) problems.push(`${flag} ${JSON.stringify(value)}: not a date; use YYYY-MM-DD, e.g. 2026-01-01`);
  };
  checkDate('--from', options.from);
  checkDate('--to', options.to);
  if (problems.length === 0 && options.from && options.to && options.from > options.to) {
    problems.push(`--from ${options.from} is after --to ${options.to}: the audit window would be empty`);
  }
  let now = new Date();
  if (options.now !== undefined) {
    const parsed = Date.parse(options.now);
    if (Number.isNaN(parsed)) problems.push(`--now ${JSON.stringify(options.now)}: not an ISO 8601 time, e.g. 2026-11-26T12:00:00Z`);
    else now = new Date(parsed);
  }
  if (problems.length > 0) {
    for (const p of problems) err(p);
    throw new Exit(EXIT.invalid);
  }
  const window: CoverageWindow = {};
  if (options.from) window.from = options.from;
  if (options.to) window.to = options.to;
  return { window, now };
}

/** Loads and validates a ContinuityPlan; prints located problems and exits 2 when invalid. */
export async function planOrExit(file: string): Promise<ContinuityPlan> {
  const { loadPlan } = await import('../../scenarios/load.js');
  const diagnostics = new Diagnostics();
  const loaded = await loadPlan(file, diagnostics);
  const text = diagnostics.format();
  if (text) err(text);
  if (!loaded || diagnostics.hasErrors()) {
    err(`${file}: not a valid ContinuityPlan (${diagnostics.summary()})`);
    throw new Exit(EXIT.invalid);
  }
  return loaded.plan;
}

/** Exits 2 unless `dir` is an existing directory. */
export async function evidenceDirOrExit(dir: string, flag = '--evidence'): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
    err(`${flag} ${dir}: not a directory`);
  } catch {
    err(`${flag} ${dir}: no such directory (where \`drillbook run\` wrote its evidence; default ./evidence)`);
  }
  throw new Exit(EXIT.invalid);
}

export function registerCoverage(program: Command, defaults: CliDefaults): void {
  program
    .command('coverage')
    .description('systems × required test types × last run × due date (0 all covered, 1 overdue or never tested, 2 bad input)')
    .requiredOption('--plan <file>', 'the ContinuityPlan whose testPolicy says what is required (default: plan in drillbook.config.yaml)', defaults.plan)
    .option('--evidence <dir>', 'evidence directory or s3://bucket/prefix, read in place ($DRILLBOOK_EVIDENCE or drillbook.config.yaml set the default)', defaults.evidence)
    .option('--from <date>', 'audit window start, YYYY-MM-DD (inclusive)')
    .option('--to <date>', 'audit window end, YYYY-MM-DD (inclusive); ages are computed as of its end when it is past')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'html', 'csv', 'json']).default('table'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--now <iso>', 'compute ages as of this instant (reproducible reports, tests)')
    .option('--metrics-file <path>', 'also write the coverage status gauges to this node_exporter textfile (*.prom)', defaults.metricsFile)
    .option('--metrics-push <url>', 'also push the coverage status gauges to this Pushgateway (job drillbook, grouped by plan)', defaults.metricsPush)
    .action(async (options: { plan: string; evidence: string; from?: string; to?: string; format: 'table' | 'html' | 'csv' | 'json'; out?: string; now?: string; metricsFile?: string; metricsPush?: string }) => {
      const { window, now } = windowOrExit(options);
      if (options.metricsFile !== undefined || options.metricsPush !== undefined) {
        const { checkMetricsFile, checkPushUrl } = await import('../../reports/metrics.js');
        const fileProblem = options.metricsFile !== undefined ? checkMetricsFile(options.metricsFile) : undefined;
        const pushProblem = options.metricsPush !== undefined ? checkPushUrl(options.metricsPush) : undefined;
        if (fileProblem) err(`--metrics-file ${fileProblem}`);
        if (pushProblem) err(`--metrics-push ${pushProblem}`);
        if (fileProblem || pushProblem) throw new Exit(EXIT.invalid);
      }
      const plan = await planOrExit(options.plan);
      const { isS3Location } = await import('../../reports/evidence/source.js');
      if (!isS3Location(options.evidence)) await evidenceDirOrExit(options.evidence);
      const { computeCoverage, coverageCsv, coverageTable, readRunSummariesFrom } = await import('../../reports/coverage.js');
      const { readRegisterFrom } = await import('../../reports/remediation.js');
      const { index, register } = await withEvidenceSource(options.evidence, async (source) => ({
        index: await readRunSummariesFrom(source),
        // The register, for the items still waiting for a plan revision; a damaged one is a warning.
        register: await readRegisterFrom(source, { now }).catch((e: unknown) => ({ items: [], warnings: [`remediation register not read: ${(e as Error).message}`] })),
      }));
      for (const warning of register.warnings) err(`warning: ${warning}`);
      const report = computeCoverage(plan, index.runs, { window, now, register: register.items });
      for (const warning of index.warnings) err(`warning: ${warning}`);
      if (index.unfinished.length > 0) {
        err(`note: ${index.unfinished.length} run director${index.unfinished.length === 1 ? 'y has' : 'ies have'} no run.json yet (in progress, or waiting for \`drillbook recover\`) and ${index.unfinished.length === 1 ? 'is' : 'are'} not counted`);
      }

      let text: string;
      if (options.format === 'csv') text = coverageCsv(report);
      else if (options.format === 'json') text = `${JSON.stringify(report, null, 2)}\n`;
      else if (options.format === 'html') {
        const { SitePages } = await import('../../reports/site/pages.js');
        const base = options.out ? path.dirname(path.resolve(options.out)) : process.cwd();
        const systems = new Set(plan.spec.systems.map((s) => s.name));
        text = new SitePages().coverage(report, {
          runs: index.runs.filter((r) => systems.has(r.system)),
          evidence: options.evidence,
          generatedAt: new Date().toISOString(),
          // A report in S3 has no address a browser opens from the page: no link (`site` copies them).
          reportHref: (run) => (isS3Location(options.evidence) ? undefined : path.relative(base, path.resolve(options.evidence, run.dir, 'report.html')).split(path.sep).map(encodeURIComponent).join('/')),
        });
      } else text = `${coverageTable(report)}\n`;

      if (options.out) {
        const { writeFileAtomic } = await import('../../reports/evidence-files.js');
        try {
          await writeFileAtomic(options.out, text);
        } catch (error) {
          err(`--out ${options.out}: cannot write it (${(error as Error).message})`);
          throw new Exit(EXIT.invalid);
        }
        const c = report.counts;
        out(`wrote ${options.out}: ${report.rows.length} required tests, ${c.covered} covered, ${c['due-soon']} due soon, ${c.overdue} overdue, ${c['never-tested']} never tested`);
      } else process.stdout.write(text);
      if (options.metricsFile !== undefined || options.metricsPush !== undefined) {
        const metrics = await import('../../reports/metrics.js');
        const registry = metrics.coverageRegistry(report);
        let failed = false;
        if (options.metricsFile !== undefined) {
          try {
            await metrics.writeMetricsFile(registry, path.resolve(options.metricsFile), metrics.coverageSample);
          } catch (error) {
            err(`METRICS NOT WRITTEN: --metrics-file ${(error as Error).message}`);
            failed = true;
          }
        }
        if (options.metricsPush !== undefined) {
          try {
            await metrics.pushMetrics(registry, options.metricsPush, { plan: report.plan.name });
          } catch (error) {
            err(`METRICS NOT PUSHED: --metrics-push ${(error as Error).message}`);
            failed = true;
          }
        }
        if (failed) throw new Exit(EXIT.invalid);
      }
      if (report.gaps) throw new Exit(EXIT.findings);
    });
}
