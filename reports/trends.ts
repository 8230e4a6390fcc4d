/**
 * Trends: per system, the measured RTO and RPO of every run over time against the target,
 * drawn with Vega-Lite into static inline SVG (no scripts, no external references): a UTC
 * time axis that says so, one coloured series per test type, an error bar for each run's
 * ± bound, the target as a dashed step line inside the scale, a run that did not pass or
 * missed the target as a red cross. A run that measured nothing (aborted before recovery)
 * is a dashed vertical rule at its time, never a point at 0 s; exercises (tabletop,
 * walkthrough) measure no RTO/RPO and are not drawn at all.
 *
 * Vega escapes every text it writes (tooltips become aria-labels).
 */
import type { TopLevelSpec } from 'vega-lite';
import { CHART_FONT, formatSeconds, vegaLiteSvg } from './charts.js';
import type { RunSummary } from './coverage.js';

const C = {
  failure: '#c62828',
  target: '#37474f',
  axis: '#9e9e9e',
  grid: '#eceff1',
  text: '#263238',
} as const;
/** One colour per test type, the same on every chart. */
const TYPE_COLORS: [string, string][] = [
  ['failover', '#1565c0'],
  ['parallel-restore', '#6a1b9a'],
  ['restore', '#00838f'],
];
const EXERCISE_TYPES = new Set(['tabletop', 'simulation']);

export type TrendMetric = 'rto' | 'rpo';

export interface TrendPoint {
  /** ms since the epoch. */
  at: number;
  /** null: the run measured nothing for this metric. */
  seconds: number | null;
  errorSeconds: number;
  targetSeconds: number | null;
  /** Drawn as a failure: the run did not pass, or this metric missed its target. */
  failure: boolean;
  /** The run's test type: one series per type. */
  type: string;
  /** Tooltip text (escaped when drawn). */
  label: string;
}

export interface SystemTrend {
  system: string;
  rto: TrendPoint[];
  rpo: TrendPoint[];
  runs: number;
  failures: number;
}

/** Group run summaries by system (sorted by name) into RTO and RPO series, oldest first. */
export function systemTrends(runs: readonly RunSummary[]): SystemTrend[] {
  const bySystem = new Map<string, RunSummary[]>();
  for (const run of runs) {
    if (!Number.isFinite(run.startedMs)) continue;
    const list = bySystem.get(run.system) ?? [];
    list.push(run);
    bySystem.set(run.system, list);
  }
  return [...bySystem.keys()].sort().map((system) => {
    const list = bySystem.get(system)!.sort((a, b) => a.startedMs - b.startedMs);
    return {
      system,
      rto: seriesOf(list, 'rto'),
      rpo: seriesOf(list, 'rpo'),
      runs: list.length,
      failures: list.filter((r) => r.outcome !== 'passed').length,
    };
  });
}

function seriesOf(runs: RunSummary[], metric: TrendMetric): TrendPoint[] {
  const points: TrendPoint[] = [];
  for (const run of runs) {
    // An exercise measures no RTO or RPO: it is not a point at 0 s, it is not on the chart.
    if (EXERCISE_TYPES.has(run.type)) continue;
    const m = run.measured[metric];
    const target = metric === 'rto' ? run.targets.rtoSeconds : run.targets.rpoSeconds;
    const verdict = run.verdict[metric];
    const failure = run.outcome !== 'passed' || verdict === 'missed';
    // A passed run that measured nothing (a tabletop) has nothing to plot for this metric.
    if (!m && !failure) continue;
    const figure = m ? `${metric.toUpperCase()} ${formatSeconds(m.seconds)} ± ${formatSeconds(m.errorSeconds)}` : `no ${metric.toUpperCase()} measured`;
    points.push({
      at: run.startedMs,
      seconds: m ? m.seconds : null,
      errorSeconds: m ? m.errorSeconds : 0,
      targetSeconds: target,
      failure,
      type: run.type,
      label: `${run.startedAt} ${run.scenario} (${run.type}, ${run.environment}): ${figure}${target === null ? '' : ` vs target ${formatSeconds(target)}`} — ${run.outcome}${verdict === 'missed' ? `, ${metric.toUpperCase()} missed` : ''}`,
    });
  }
  return points;
}

export interface TrendChartInput {
  title: string;
  metric: TrendMetric;
  points: TrendPoint[];
  width?: number;
  height?: number;
}

/** 0, 1, 2, 5, 10, 20, 50, … up to the first value at or above `max`: readable ticks on a symlog axis. */
function symlogTicks(max: number): number[] {
  const ticks = [0];
  for (let magnitude = 1; ticks[ticks.length - 1]! < max; magnitude *= 10) for (const step of [1, 2, 5]) if (ticks[ticks.length - 1]! < max) ticks.push(step * magnitude);
  return ticks;
}

/** `%Y-%m-%d`, or with the time of day when the runs span less than three days. */
function timeFormat(points: TrendPoint[]): string {
  const times = points.map((p) => p.at);
  return Math.max(...times) - Math.min(...times) < 3 * 86_400_000 ? '%Y-%m-%d %H:%M' : '%Y-%m-%d';
}

/**
 * A time × seconds chart. Its marks are named so tests and readers can find them:
 * `point_marks` (a measured run that passed), `failure_marks` (did not pass or missed the
 * target), `unmeasured_marks` (did not pass and measured nothing), `bound_marks` (± bounds),
 * `target_marks` (the target step line).
 */
export function trendSvg(input: TrendChartInput): string {
  const width = input.width ?? 900;
  const height = input.height ?? 220;
  const points = input.points.filter((p) => Number.isFinite(p.at));
  const label = `${input.title}: ${points.length} run${points.length === 1 ? '' : 's'}`;
  const metric = input.metric.toUpperCase();
  const rows = points.map((p) => ({
    at: p.at,
    seconds: p.seconds,
    low: p.seconds === null ? null : Math.max(0, p.seconds - p.errorSeconds),
    high: p.seconds === null ? null : p.seconds + p.errorSeconds,
    target: p.targetSeconds,
    type: p.type,
    result: p.failure ? 'failed / missed / aborted' : 'passed',
    label: p.label,
  }));
  const measured = rows.filter((r) => r.seconds !== null);
  const types = [...new Set(points.map((p) => p.type))].sort();
  const known = new Map(TYPE_COLORS);
  const palette = ['#ef6c00', '#2e7d32', '#5d4037', '#455a64'];
  const x = {
    field: 'at',
    type: 'temporal',
    scale: { type: 'utc', ...(points.length > 0 && Math.max(...points.map((p) => p.at)) - Math.min(...points.map((p) => p.at)) < 86_400_000 ? { padding: 40 } : { padding: 12 }) },
    axis: { title: 'run start (UTC)', format: points.length > 0 ? timeFormat(points) : '%Y-%m-%d', labelOverlap: true, labelFlush: true, tickCount: 6, grid: false },
  } as const;
  // The target is always inside the scale. When it is far above the measurements (a 15-minute
  // target over 12-second recoveries) a linear axis would flatten them onto 0, so the axis is
  // symlog (linear near 0, logarithmic above) and says so.
  const measuredMax = Math.max(0, ...points.map((p) => (p.seconds === null ? 0 : p.seconds + p.errorSeconds)));
  const targetMax = Math.max(0, ...points.map((p) => p.targetSeconds ?? 0));
  const symlog = measuredMax > 0 && targetMax > measuredMax * 5;
  const y = {
    type: 'quantitative',
    scale: symlog ? { type: 'symlog', constant: 1 } : { zero: true, nice: true },
    axis: { title: `${metric} (seconds${symlog ? ', symlog scale' : ''})`, grid: true, ...(symlog ? { values: symlogTicks(Math.max(measuredMax, targetMax)) } : { tickCount: 5 }) },
  } as const;
  const color = {
    field: 'type',
    type: 'nominal',
    title: 'test type',
    scale: { domain: types, range: types.map((t, i) => known.get(t) ?? palette[i % palette.length]!) },
    legend: { orient: 'top', direction: 'horizontal' },
  } as const;
  const layer: Record<string, unknown>[] = [];
  if (points.length === 0) {
    layer.push({ data: { values: [{ text: 'no runs measured this' }] }, mark: { type: 'text', color: C.text, fontSize: 12 }, encoding: { text: { field: 'text' } } });
  } else {
    const targeted = rows.filter((r) => r.target !== null);
    if (targeted.length > 0) {
      // The current target (the newest run's) across the whole chart; the history as a step line.
      const newest = [...new Set(types.map((t) => [...targeted].reverse().find((r) => r.type === t)?.target).filter((v): v is number => typeof v === 'number'))];
      layer.push({
        name: 'target_now',
        data: { values: newest.map((target) => ({ target })) },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: C.target, opacity: 0.8 },
        encoding: { y: { field: 'target', ...y } },
      });
      layer.push({
        name: 'target',
        data: { values: targeted },
        mark: { type: 'line', interpolate: 'step-after', strokeDash: [6, 4], strokeWidth: 1.5, color: C.target, point: false },
        encoding: { x, y: { field: 'target', ...y }, detail: { field: 'type' }, description: { value: 'target' } },
      });
      // One label per distinct target value, at the newest run that has it.
      const last = new Map<number, (typeof rows)[number]>();
      for (const r of targeted) last.set(r.target!, r);
      layer.push({
        name: 'target_label',
        data: { values: [...last.values()].map((r) => ({ ...r, text: `target ${formatSeconds(r.target!)}` })) },
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, color: C.target, fontSize: 10 },
        encoding: { x, y: { field: 'target', ...y }, text: { field: 'text' } },
      });
    }
    layer.push(
      { name: 'series', data: { values: measured }, mark: { type: 'line', strokeWidth: 1, opacity: 0.45 }, encoding: { x, y: { field: 'seconds', ...y }, color } },
      {
        name: 'bound',
        data: { values: measured.filter((r) => r.high! > r.low!) },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x, y: { field: 'low', ...y }, y2: { field: 'high' }, color },
      },
      {
        name: 'point',
        data: { values: measured.filter((r) => r.result === 'passed') },
        mark: { type: 'point', filled: true, size: points.length > 500 ? 12 : 55, opacity: 1 },
        encoding: { x, y: { field: 'seconds', ...y }, color, shape: { value: 'circle' }, description: { field: 'label' } },
      },
      {
        name: 'failure',
        data: { values: measured.filter((r) => r.result !== 'passed') },
        mark: { type: 'point', shape: 'cross', filled: true, size: points.length > 500 ? 20 : 90, color: C.failure, opacity: 1 },
        encoding: { x, y: { field: 'seconds', ...y }, description: { field: 'label' } },
      },
      {
        name: 'unmeasured',
        data: { values: rows.filter((r) => r.seconds === null) },
        mark: { type: 'rule', color: C.failure, strokeDash: [2, 3], strokeWidth: 1.5, opacity: 0.8 },
        encoding: { x, description: { field: 'label' } },
      },
    );
  }
  const failures = points.filter((p) => p.failure).length;
  const unmeasured = points.filter((p) => p.seconds === null).length;
  const subtitle = points.length === 0 ? ['no measured runs: tabletop exercises and walkthroughs measure no RTO or RPO'] : [
    [`${points.length} run${points.length === 1 ? '' : 's'}`, failures > 0 ? `${failures} not passed or target missed (red ✕)` : 'all passed', ...(unmeasured > 0 ? [`${unmeasured} measured nothing (red dashed rule)`] : [])].join(' · '),
    'grey dashed line: the target · vertical bars: each run’s ± error bound',
  ];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: {
      font: CHART_FONT,
      view: { stroke: null },
      axis: { labelColor: C.text, titleColor: C.text, gridColor: C.grid, domainColor: C.axis, tickColor: C.axis, labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' },
      legend: { labelColor: C.text, titleColor: C.text, labelFontSize: 11, titleFontSize: 11 },
      title: { color: C.text, fontSize: 13, anchor: 'start', subtitleColor: '#5f6f78', subtitleFontSize: 11 },
    },
    // Title and subtitle are params set per chart, so every system's chart shares one compiled spec.
    params: [
      { name: 'chartTitle', value: '' },
      { name: 'chartSubtitle', value: [] },
    ],
    title: { text: { expr: 'chartTitle' }, subtitle: { expr: 'chartSubtitle' }, frame: 'group', limit: width - 110, subtitlePadding: 4 },
    width: width - 110,
    height: points.length === 0 ? 40 : height,
    layer,
  };
  return vegaLiteSvg(spec as unknown as TopLevelSpec, { label, className: 'trend', signals: { chartTitle: input.title, chartSubtitle: subtitle } });
}
