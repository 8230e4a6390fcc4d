/**
 * Prometheus series for the monitoring SREs already watch (SPEC v1.1): a run's RTO/RPO, its
 * outcome and when it ran, labelled `system`, `scenario`, `type`, `environment`; and the
 * coverage status per system × test type. Built with prom-client in a registry of their own
 * (never the global one), then either pushed to a Pushgateway or written as a node_exporter
 * textfile. No printing, no exit: callers report the errors.
 *
 * Exercises (tabletop, walkthrough) measure no RTO/RPO: their rto/rpo series are absent, not 0,
 * so a dashboard does not draw them as an instant recovery.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Gauge, Pushgateway, Registry } from 'prom-client';
import type { CoverageReport, CoverageStatus } from './coverage.js';
import { writeFileAtomic } from './evidence-files.js';
import type { RunRecord } from './run-record.js';

export const RUN_LABELS = ['system', 'scenario', 'type', 'environment'] as const;
/** Every outcome a run can end with; `drillbook_run_outcome` is 1 for the run's and 0 for the rest. */
export const OUTCOMES = ['passed', 'failed', 'inconclusive', 'aborted', 'rollback-incomplete'] as const;
export const COVERAGE_STATUSES: CoverageStatus[] = ['covered', 'due-soon', 'overdue', 'rehearsed', 'never-tested'];
/** The Pushgateway job the series are pushed under. */
export const PUSH_JOB = 'drillbook';

export class MetricsError extends Error {
  override name = 'MetricsError';
}

export function runRegistry(record: RunRecord): Registry {
  const registry = new Registry();
  const labels = { system: record.system.name, scenario: record.scenario.name, type: record.type, environment: record.environment };
  const gauge = (name: string, help: string, extra: string[] = []) => new Gauge({ name, help, labelNames: [...RUN_LABELS, ...extra], registers: [registry] });
  const { rto, rpo } = record.measured;
  if (rto) {
    gauge('drillbook_rto_seconds', 'Measured RTO of the last run: T0 to the first of the stable successful probes, client side').set(labels, rto.seconds);
    gauge('drillbook_rto_error_seconds', 'Error bound (±) of drillbook_rto_seconds').set(labels, rto.errorSeconds);
  }
  if (rpo) {
    gauge('drillbook_rpo_seconds', 'Measured RPO of the last run: the data-loss window of acknowledged writes (a lower bound when drillbook_rpo_lower_bound_only is 1)').set(labels, rpo.seconds);
    gauge('drillbook_rpo_error_seconds', 'Error bound (±) of drillbook_rpo_seconds').set(labels, rpo.errorSeconds);
    gauge('drillbook_rpo_lower_bound_only', '1 when the RPO could only be bounded from below').set(labels, rpo.lowerBoundOnly ? 1 : 0);
    gauge('drillbook_lost_writes', 'Acknowledged writes missing after recovery in the last run').set(labels, rpo.lostWrites);
  }
  if (record.targets.rtoSeconds !== null) gauge('drillbook_rto_target_seconds', 'RTO target the last run was judged against').set(labels, record.targets.rtoSeconds);
  if (record.targets.rpoSeconds !== null) gauge('drillbook_rpo_target_seconds', 'RPO target the last run was judged against').set(labels, record.targets.rpoSeconds);
  const outcome = gauge('drillbook_run_outcome', 'Outcome of the last run: 1 for its outcome label, 0 for the others', ['outcome']);
  const known = (OUTCOMES as readonly string[]).includes(record.outcome) ? OUTCOMES : [...OUTCOMES, record.outcome];
  for (const o of known) outcome.set({ ...labels, outcome: o }, o === record.outcome ? 1 : 0);
  gauge('drillbook_last_run_timestamp_seconds', 'When the last run ended (Unix time)').set(labels, Date.parse(record.endedAt) / 1000);
  gauge('drillbook_run_duration_seconds', 'Wall time of the last run, start to end of teardown').set(labels, (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000);
  gauge('drillbook_findings', 'Findings of the last run').set(labels, record.findings.length);
  return registry;
}

export function coverageRegistry(report: CoverageReport): Registry {
  const registry = new Registry();
  const status = new Gauge({ name: 'drillbook_coverage_status', help: 'Coverage of a required test: 1 for its status label, 0 for the others', labelNames: ['system', 'type', 'tier', 'status'], registers: [registry] });
  const age = new Gauge({ name: 'drillbook_coverage_last_run_timestamp_seconds', help: 'Start of the newest counted run of this system and test type (Unix time)', labelNames: ['system', 'type', 'tier'], registers: [registry] });
  const due = new Gauge({ name: 'drillbook_coverage_due_timestamp_seconds', help: 'When the next run of this system and test type is due (Unix time)', labelNames: ['system', 'type', 'tier'], registers: [registry] });
  const gaps = new Gauge({ name: 'drillbook_coverage_gaps', help: 'Required tests overdue or never tested', registers: [registry] });
  for (const row of report.rows) {
    const labels = { system: row.system, type: row.type, tier: String(row.tier) };
    for (const s of COVERAGE_STATUSES) status.set({ ...labels, status: s }, s === row.status ? 1 : 0);
    if (row.lastRun) age.set(labels, Date.parse(row.lastRun.startedAt) / 1000);
    if (row.due) due.set(labels, Date.parse(`${row.due}T00:00:00Z`) / 1000);
  }
  // A test only rehearsed in a sandbox or non-production is a gap, like one never tested.
  gaps.set(report.counts.overdue + report.counts.rehearsed + report.counts['never-tested']);
  return registry;
}

/** Checks a Pushgateway URL before anything runs. */
export function checkPushUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${url}: use an http:// or https:// Pushgateway URL`;
    return undefined;
  } catch {
    return `${url}: not a URL, e.g. http://pushgateway:9091`;
  }
}

/** Checks a textfile path before anything runs: its directory must exist. */
export function checkMetricsFile(file: string): string | undefined {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return `${file}: ${dir} is not a directory`;
  if (!file.endsWith('.prom')) return `${file}: node_exporter's textfile collector only reads files ending in .prom`;
  return undefined;
}

/**
 * Pushes the registry to a Pushgateway (PUT: replaces the group), grouped by `grouping`
 * so each scenario/environment keeps its own group and one run never erases another's.
 */
export async function pushMetrics(registry: Registry, url: string, grouping: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<void> {
  const gateway = new Pushgateway(url, { timeout: options.timeoutMs ?? 10_000 }, registry);
  try {
    await gateway.push({ jobName: PUSH_JOB, groupings: grouping });
  } catch (error) {
    throw new MetricsError(`push to ${url} failed: ${(error as Error).message}`);
  }
}

interface Family {
  header: string[];
  samples: string[];
}

/** Parses Prometheus text exposition into families (HELP/TYPE lines and samples), in order. */
function families(text: string): Map<string, Family> {
  const result = new Map<string, Family>();
  const family = (name: string) => {
    let f = result.get(name);
    if (!f) result.set(name, (f = { header: [], samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (meta) {
      family(meta[2]!).header.push(line);
      continue;
    }
    if (line.startsWith('#')) continue;
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
    if (name) family(name).samples.push(line);
  }
  return result;
}

const labelValue = (sample: string, label: string): string | undefined => {
  const match = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(sample);
  return match?.[1];
};

/**
 * Writes the registry as a node_exporter textfile, atomically (temp file + rename in the same
 * directory, so the collector never reads half a file). Series of other scenarios already in
 * the file are kept: one file can collect every drill of a host. `replaces(sample)` says
 * which existing samples this registry supersedes.
 */
export async function writeMetricsFile(registry: Registry, file: string, replaces: (sample: string) => boolean): Promise<void> {
  let existing = '';
  try {
    existing = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new MetricsError(`${file}: cannot read it (${(error as Error).message})`);
  }
  const merged = families(existing);
  for (const f of merged.values()) f.samples = f.samples.filter((s) => !replaces(s));
  for (const [name, f] of families(await registry.metrics())) {
    const target = merged.get(name);
    if (target) target.samples.push(...f.samples);
    else merged.set(name, f);
  }
  const lines: string[] = [];
  for (const f of merged.values()) {
    if (f.samples.length === 0) continue;
    lines.push(...f.header, ...f.samples);
  }
  try {
    await writeFileAtomic(file, `${lines.join('\n')}\n`);
  } catch (error) {
    throw new MetricsError(`${file}: cannot write it (${(error as Error).message})`);
  }
}

/** Samples of the same scenario and environment as `record` (the series this run replaces). */
export function sameRun(record: RunRecord): (sample: string) => boolean {
  return (sample) => sample.startsWith('drillbook_') && !sample.startsWith('drillbook_coverage_') && labelValue(sample, 'scenario') === record.scenario.name && labelValue(sample, 'environment') === record.environment;
}

/** Coverage series (all of them: a coverage computation replaces the previous one). */
export const coverageSample = (sample: string) => sample.startsWith('drillbook_coverage_');

export function runGrouping(record: RunRecord): Record<string, string> {
  return { scenario: record.scenario.name, environment: record.environment };
}
