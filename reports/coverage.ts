/**
 * Coverage: for every system of the continuity plan and every test type its tier's
 * `testPolicy` requires, the last run in the audit window, its outcome and figures, its age
 * against the policy's maximum, the due date and a status an auditor can act on.
 *
 * The runs come from the lean index of the evidence directory (run-index.ts, {@link readRunSummaries}):
 * only the fields coverage, trends and the site need are kept from each run.json, one file at a
 * time, so 10,000 runs stay a small heap.
 */
import { parseDuration } from '../scenarios/duration.js';
import { coversLiveSystem, environmentClassOf } from '../scenarios/environments.js';
import { comparePlanVersions } from '../scenarios/plan-version.js';
import { requiredTests, type ContinuityPlan, type TestType } from '../scenarios/schema.js';
import { csvText, type CsvCell } from './csv.js';
import { type RunSummary } from './run-index.js';

export * from './run-index.js';

export const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------
// Coverage

/**
 * `rehearsed`: no run in the window tested the live system, but runs in a sandbox or a
 * non-production environment rehearsed it; a gap, like never-tested (see {@link coversLiveSystem}).
 */
export type CoverageStatus = 'covered' | 'due-soon' | 'overdue' | 'rehearsed' | 'never-tested';

/**
 * Outcomes that count as "the test was performed": it ran to the end and was measured. Never
 * `inconclusive` (SPEC v1.1): a fault with no observable effect demonstrated no recovery.
 */
export const COUNTED_OUTCOMES: ReadonlySet<string> = new Set(['passed', 'failed']);
/** "Due soon": due within this many days, or within the last 10 % of the interval if that is shorter. */
export const DUE_SOON_DAYS = 30;
export const DUE_SOON_FRACTION = 0.1;

export interface CoverageWindow {
  /** Inclusive, YYYY-MM-DD (UTC). */
  from?: string;
  /** Inclusive, YYYY-MM-DD (UTC): runs up to the end of that day. */
  to?: string;
}

export interface CoverageRow {
  system: string;
  tier: number;
  owner: string;
  type: TestType;
  /** The policy's maximum age as written in the plan, e.g. `90d`. */
  maxAge: string;
  maxAgeDays: number;
  /** The newest run in the window that counts as a test (passed or failed) of the live system. */
  lastRun: RunSummary | null;
  /**
   * The newest completed run in the window that only rehearsed the test: in a sandbox, or a
   * non-production environment the plan does not declare production-equivalent. Shown beside
   * the status, never counted as coverage.
   */
  lastRehearsal: RunSummary | null;
  /** Age of that run in days (fractional) as of the coverage date. */
  ageDays: number | null;
  /** YYYY-MM-DD: the last run's start plus the maximum age. */
  due: string | null;
  daysLeft: number | null;
  status: CoverageStatus;
  /** Things an auditor should see beside the status: a failed last test, aborted attempts. */
  flags: string[];
  /** Runs of this system and type in the window, whatever their outcome. */
  runsInWindow: number;
}

export interface CoverageReport {
  plan: { name: string; version: string };
  /** The instant ages are computed at (ISO). */
  asOf: string;
  window: CoverageWindow;
  rows: CoverageRow[];
  counts: Record<CoverageStatus, number>;
  /** Systems whose tier has no test policy, runs of systems the plan does not list, … */
  notes: string[];
  /** True when anything is overdue, only rehearsed or never tested (the CLI exits 1). */
  gaps: boolean;
  /** Remediation items still waiting for a plan revision (when the register was given). */
  awaitingPlanRevision: PlanRevisionWait[];
}

/** A remediation item whose fix belongs in the continuity plan, and why it still waits. */
export interface PlanRevisionWait {
  id: string;
  system: string;
  title: string;
  status: 'open' | 'closed';
  reason: string;
}

/** What coverage needs of a register item (reports/remediation-events.ts RegisterItem). */
export interface PlanRevisionItem {
  id: string;
  system: string;
  title: string;
  status: 'open' | 'closed';
  type: string;
  findingKind?: string;
  verifiable?: unknown;
  resolution?: string;
  planVersion?: string;
}

/** Finding kinds whose fix is a change to the plan or its procedures (runbook, roles, objectives). */
export const PLAN_FINDING_KINDS: ReadonlySet<string> = new Set(['checklist-item', 'objective-rating', 'improvement', 'failed-step']);

/**
 * Items waiting for a plan revision (A1.3: the plan is revised from test results). An item
 * needs one when its finding is about the plan's procedures (a finding kind in
 * {@link PLAN_FINDING_KINDS}; for items recorded before kinds were, any item of a tabletop or
 * walkthrough that no run can verify). It waits while it is open, when it was closed without
 * `--plan-version`, or when the version it names is later than the plan coverage is computed on.
 */
export function itemsAwaitingPlanRevision(items: readonly PlanRevisionItem[], plan: { metadata: { version: string } }): PlanRevisionWait[] {
  const waits: PlanRevisionWait[] = [];
  for (const item of items) {
    const needsPlan = item.findingKind !== undefined
      ? PLAN_FINDING_KINDS.has(item.findingKind)
      : item.verifiable === undefined && (item.type === 'tabletop' || item.type === 'simulation');
    if (!needsPlan) continue;
    const base = { id: item.id, system: item.system, title: item.title, status: item.status };
    if (item.status === 'open') waits.push({ ...base, reason: 'open; its fix belongs in the plan' });
    else if (item.resolution === 'accepted-risk') continue; // the risk was accepted instead of revising the plan
    else if (item.planVersion === undefined) waits.push({ ...base, reason: 'closed without naming the plan version that carries the fix (remediation close --plan-version)' });
    else if (comparePlanVersions(item.planVersion, plan.metadata.version) > 0) {
      waits.push({ ...base, reason: `closed naming plan version ${item.planVersion}, but the plan is still at version ${plan.metadata.version}` });
    }
  }
  return waits;
}

export interface CoverageOptions {
  window?: CoverageWindow;
  /** Defaults to the current time. */
  now?: Date;
  /** The remediation register's items, for the items still waiting for a plan revision. */
  register?: readonly PlanRevisionItem[];
}

/** The instant a YYYY-MM-DD window bound stands for (start of `from`, end of `to`), UTC. */
export function windowBounds(window: CoverageWindow): { fromMs: number; toMs: number } {
  const fromMs = window.from ? Date.parse(`${window.from}T00:00:00.000Z`) : -Infinity;
  const toMs = window.to ? Date.parse(`${window.to}T00:00:00.000Z`) + DAY_MS - 1 : Infinity;
  return { fromMs, toMs };
}

export function computeCoverage(plan: ContinuityPlan, runs: readonly RunSummary[], options: CoverageOptions = {}): CoverageReport {
  const window = options.window ?? {};
  const { fromMs, toMs } = windowBounds(window);
  // An audit period that ended is judged as of its end: a test done after it is not evidence for it.
  const asOfMs = Math.min((options.now ?? new Date()).getTime(), toMs);
  // Records made before run.json carried environmentClass get the class their name has under this plan.
  const inWindow = runs
    .filter((r) => Number.isFinite(r.startedMs) && r.startedMs >= fromMs && r.startedMs <= asOfMs)
    .map((r) => (r.environmentClassRecorded ? r : { ...r, environmentClass: environmentClassOf(plan, r.environment) }));

  const byKey = new Map<string, RunSummary[]>();
  for (const run of inWindow) {
    const key = `${run.system}\u0000${run.type}`;
    const list = byKey.get(key) ?? [];
    list.push(run);
    byKey.set(key, list);
  }

  const rows: CoverageRow[] = [];
  const notes: string[] = [];
  for (const system of plan.spec.systems) {
    const policy = plan.spec.testPolicy?.[String(system.tier) as '1' | '2' | '3' | '4'];
    const required = requiredTests(policy);
    if (required.length === 0) {
      notes.push(`${system.name}: tier ${system.tier} has no testPolicy in the plan, so no test is required of it`);
      continue;
    }
    for (const [type, maxAge] of required) {
      const maxAgeMs = parseDuration(maxAge) ?? NaN;
      const all = (byKey.get(`${system.name}\u0000${type}`) ?? []).sort((a, b) => a.startedMs - b.startedMs);
      const completed = all.filter((r) => COUNTED_OUTCOMES.has(r.outcome));
      // Only runs of the live system (or a production-equivalent environment) are coverage;
      // the rest are rehearsals, shown beside it.
      const live = (r: RunSummary) => coversLiveSystem(plan, r.environment, r.environmentClass, r.type);
      const counted = completed.filter(live);
      const lastRun = counted.at(-1) ?? null;
      const lastRehearsal = completed.filter((r) => !live(r)).at(-1) ?? null;
      const flags: string[] = [];
      let status: CoverageStatus = 'never-tested';
      let ageDays: number | null = null;
      let due: string | null = null;
      let daysLeft: number | null = null;
      if (lastRun) {
        const ageMs = asOfMs - lastRun.startedMs;
        const dueMs = lastRun.startedMs + maxAgeMs;
        const leftMs = dueMs - asOfMs;
        ageDays = ageMs / DAY_MS;
        due = new Date(dueMs).toISOString().slice(0, 10);
        daysLeft = leftMs / DAY_MS;
        const soonMs = Math.min(DUE_SOON_DAYS * DAY_MS, DUE_SOON_FRACTION * maxAgeMs);
        status = leftMs < 0 ? 'overdue' : leftMs <= soonMs ? 'due-soon' : 'covered';
        if (lastRun.outcome === 'failed') flags.push(`last test FAILED (${failureSummary(lastRun)}): counts as tested, but recovery was not demonstrated; its findings need remediation and a re-test`);
      }
      if (lastRehearsal) {
        const rehearsalText = `${lastRehearsal.startedAt.slice(0, 10)} in ${lastRehearsal.environment} (${lastRehearsal.environmentClass})`;
        if (!lastRun) {
          status = 'rehearsed';
          flags.push(`rehearsed only: the newest run, ${rehearsalText}, was not of the live system and is not coverage; a run in a production-class environment (or one the plan declares productionEquivalent) is needed`);
        } else if (lastRehearsal.startedMs > lastRun.startedMs) {
          flags.push(`a later rehearsal, ${rehearsalText}, is not counted as coverage`);
        }
      }
      const later = all.filter((r) => !COUNTED_OUTCOMES.has(r.outcome) && (!lastRun || r.startedMs > lastRun.startedMs));
      if (later.length > 0) {
        flags.push(`${later.length} later attempt${later.length === 1 ? '' : 's'} did not complete (${[...new Set(later.map((r) => r.outcome))].join(', ')}); not counted as a test`);
      }
      rows.push({
        system: system.name,
        tier: system.tier,
        owner: system.owner,
        type,
        maxAge,
        maxAgeDays: maxAgeMs / DAY_MS,
        lastRun,
        lastRehearsal,
        ageDays,
        due,
        daysLeft,
        status,
        flags,
        runsInWindow: all.length,
      });
    }
  }
  const known = new Set(plan.spec.systems.map((s) => s.name));
  const strangers = [...new Set(inWindow.filter((r) => !known.has(r.system)).map((r) => r.system))].sort();
  if (strangers.length > 0) notes.push(`runs of systems the plan does not list were ignored: ${strangers.join(', ')}`);

  const counts: Record<CoverageStatus, number> = { covered: 0, 'due-soon': 0, overdue: 0, rehearsed: 0, 'never-tested': 0 };
  for (const row of rows) counts[row.status]++;
  return {
    plan: { name: plan.metadata.name, version: plan.metadata.version },
    asOf: new Date(asOfMs).toISOString(),
    window,
    rows,
    counts,
    notes,
    gaps: counts.overdue + counts.rehearsed + counts['never-tested'] > 0,
    awaitingPlanRevision: options.register ? itemsAwaitingPlanRevision(options.register.filter((i) => known.has(i.system)), plan) : [],
  };
}

function failureSummary(run: RunSummary): string {
  const parts: string[] = [];
  if (run.verdict.rto === 'missed') parts.push('RTO missed');
  if (run.verdict.rpo === 'missed') parts.push('RPO missed');
  if (run.checks.failed > 0) parts.push(`${run.checks.failed} check${run.checks.failed === 1 ? '' : 's'} failed`);
  return parts.length > 0 ? parts.join(', ') : 'findings recorded';
}

export const STATUS_LABEL: Record<CoverageStatus, string> = {
  covered: 'covered',
  'due-soon': 'due soon',
  overdue: 'OVERDUE',
  rehearsed: 'REHEARSED ONLY',
  'never-tested': 'NEVER TESTED',
};

// ---------------------------------------------------------------------------------------
// Plain renderings (the HTML one lives in reports/site, beside the site's templates)

export function formatFigure(measured: { seconds: number } | null, target: number | null): string {
  const m = measured ? secondsText(measured.seconds) : '—';
  const t = target === null ? '—' : secondsText(target);
  return `${m} / ${t}`;
}

export function secondsText(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 1) return `${Number(seconds.toFixed(3))}s`;
  if (seconds < 120) return `${Number(seconds.toFixed(2))}s`;
  if (seconds < 7200) return `${Number((seconds / 60).toFixed(1))}m`;
  return `${Number((seconds / 3600).toFixed(1))}h`;
}

function daysText(days: number | null): string {
  return days === null ? '—' : `${Math.floor(days)}d`;
}

/** A fixed-width table for the terminal, then the counts, flags and notes. */
export function coverageTable(report: CoverageReport): string {
  const header = ['SYSTEM', 'TIER', 'TYPE', 'STATUS', 'LAST RUN (UTC)', 'OUTCOME', 'ENV', 'RTO meas/target', 'RPO meas/target', 'AGE/MAX', 'DUE', 'REHEARSED (not coverage)'];
  const body = report.rows.map((row) => [
    row.system,
    String(row.tier),
    row.type,
    STATUS_LABEL[row.status],
    row.lastRun ? row.lastRun.startedAt.slice(0, 16).replace('T', ' ') : '—',
    row.lastRun?.outcome ?? '—',
    row.lastRun?.environment ?? '—',
    row.lastRun ? formatFigure(row.lastRun.measured.rto, row.lastRun.targets.rtoSeconds) : '—',
    row.lastRun ? formatFigure(row.lastRun.measured.rpo, row.lastRun.targets.rpoSeconds) : '—',
    `${daysText(row.ageDays)}/${Math.round(row.maxAgeDays)}d`,
    row.due ?? '—',
    row.lastRehearsal ? `${row.lastRehearsal.startedAt.slice(0, 10)} ${row.lastRehearsal.environment}` : '—',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const window = report.window.from || report.window.to ? `window ${report.window.from ?? '…'} → ${report.window.to ?? '…'}, ` : '';
  const lines = [`Coverage of plan ${report.plan.name} ${report.plan.version} (${window}as of ${report.asOf})`, '', line(header), ...body.map(line)];
  const flagged = report.rows.filter((r) => r.flags.length > 0);
  if (flagged.length > 0) {
    lines.push('');
    for (const row of flagged) for (const flag of row.flags) lines.push(`! ${row.system} ${row.type}: ${flag}`);
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  if (report.awaitingPlanRevision.length > 0) {
    lines.push('', `Waiting for a plan revision (${report.awaitingPlanRevision.length}):`);
    for (const wait of report.awaitingPlanRevision) lines.push(`  ${wait.id}  ${wait.system}: ${wait.title} — ${wait.reason}`);
  }
  const c = report.counts;
  lines.push('', `${report.rows.length} required tests: ${c.covered} covered, ${c['due-soon']} due soon, ${c.overdue} overdue, ${c.rehearsed} rehearsed only, ${c['never-tested']} never tested`);
  return lines.join('\n');
}

export const COVERAGE_CSV_HEADER = [
  'system', 'tier', 'type', 'status', 'max_age_days', 'last_run_id', 'last_run_dir', 'last_run_started_at', 'outcome', 'environment',
  'rto_measured_s', 'rto_error_s', 'rto_target_s', 'rto_verdict', 'rpo_measured_s', 'rpo_error_s', 'rpo_target_s', 'rpo_verdict',
  'age_days', 'due', 'days_left', 'runs_in_window', 'flags',
  'environment_class', 'rehearsal_run_id', 'rehearsal_started_at', 'rehearsal_environment', 'rehearsal_environment_class',
].join(',');

/** The coverage as CSV (reports/csv.ts: RFC 4180, CRLF, formula-like text prefixed with `'`). */
export function coverageCsv(report: CoverageReport): string {
  const f = (v: number | null | undefined, digits = 3): CsvCell => (v === null || v === undefined ? '' : Number(v.toFixed(digits)));
  const rows = report.rows.map((row): CsvCell[] => {
    const r = row.lastRun;
    return [
      row.system, row.tier, row.type, row.status, f(row.maxAgeDays),
      r?.runId ?? '', r?.dir ?? '', r?.startedAt ?? '', r?.outcome ?? '', r?.environment ?? '',
      f(r?.measured.rto?.seconds), f(r?.measured.rto?.errorSeconds), f(r?.targets.rtoSeconds), r?.verdict.rto ?? '',
      f(r?.measured.rpo?.seconds), f(r?.measured.rpo?.errorSeconds), f(r?.targets.rpoSeconds), r?.verdict.rpo ?? '',
      f(row.ageDays, 2), row.due ?? '', f(row.daysLeft, 2), row.runsInWindow, row.flags.join('; '),
      r?.environmentClass ?? '', row.lastRehearsal?.runId ?? '', row.lastRehearsal?.startedAt ?? '', row.lastRehearsal?.environment ?? '', row.lastRehearsal?.environmentClass ?? '',
    ];
  });
  return csvText([COVERAGE_CSV_HEADER.split(','), ...rows]);
}
