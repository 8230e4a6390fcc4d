/**
 * Trends: per system, the measured RTO and RPO of every run over time against the target,
 * as inline SVG (no scripts, no external references). Every run with a measurement is one
 * point; a run that did not pass (failed, aborted, rollback incomplete) or missed the
 * target is drawn with a distinct marker (a red cross), and the legend says so. A run that
 * did not pass and measured nothing is still shown, as a cross on the time axis.
 *
 * Text from runs (run ids, scenario names) only reaches the SVG through `escapeXml`.
 */
import { escapeXml, formatSeconds } from './charts.js';
import type { RunSummary } from './coverage.js';

const C = {
  ok: '#2e7d32',
  failure: '#c62828',
  target: '#37474f',
  axis: '#9e9e9e',
  grid: '#eceff1',
  text: '#263238',
  line: '#90a4ae',
} as const;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

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
      label: `${run.startedAt} ${run.scenario} (${run.type}, ${run.environment}): ${figure}${target === null ? '' : ` vs target ${formatSeconds(target)}`} — ${run.outcome}${verdict === 'missed' ? `, ${metric.toUpperCase()} missed` : ''}`,
    });
  }
  return points;
}

function n(value: number): string {
  return String(Number((Number.isFinite(value) ? value : 0).toFixed(1)));
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

export interface TrendChartInput {
  title: string;
  metric: TrendMetric;
  points: TrendPoint[];
  width?: number;
  height?: number;
}

/**
 * A time × seconds chart: one circle per measured run (class `point`), a red cross for a
 * failure (class `point failure`), the target as a dashed step line, a legend.
 */
export function trendSvg(input: TrendChartInput): string {
  const width = input.width ?? 900;
  const height = input.height ?? 260;
  const left = 64;
  const right = 16;
  const top = 30;
  const bottom = 44;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const points = input.points.filter((p) => Number.isFinite(p.at));
  const label = `${input.title}: ${points.length} run${points.length === 1 ? '' : 's'}`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeXml(label)}" ${FONT} font-size="11">`,
    `<title>${escapeXml(label)}</title>`,
  ];
  if (points.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="${C.text}">no runs measured this</text></svg>`);
    return parts.join('');
  }
  const times = points.map((p) => p.at);
  let tMin = Math.min(...times);
  let tMax = Math.max(...times);
  if (tMax - tMin < 86_400_000) {
    tMin -= 43_200_000;
    tMax += 43_200_000;
  }
  const tPad = (tMax - tMin) * 0.03;
  tMin -= tPad;
  tMax += tPad;
  const measuredMax = Math.max(0, ...points.map((p) => (p.seconds === null ? 0 : p.seconds + p.errorSeconds)));
  const targetMax = Math.max(0, ...points.map((p) => p.targetSeconds ?? 0));
  // Show the target inside the plot unless that squashes the measurements into a sliver (a
  // 15-minute target over 12-second recoveries); then it is drawn along the top edge, labelled.
  const targetInside = measuredMax === 0 || targetMax <= measuredMax * 4;
  const yMax = niceMax((targetInside ? Math.max(measuredMax, targetMax) : measuredMax) * 1.05);
  const x = (t: number) => left + ((t - tMin) / (tMax - tMin)) * plotW;
  const y = (s: number) => top + plotH - (Math.max(0, s) / yMax) * plotH;

  // Grid and axes
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(
      `<line x1="${left}" y1="${n(y(v))}" x2="${width - right}" y2="${n(y(v))}" stroke="${C.grid}"/>`,
      `<text x="${left - 6}" y="${n(y(v) + 4)}" text-anchor="end" fill="${C.text}">${escapeXml(formatSeconds(v))}</text>`,
    );
  }
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="${C.axis}"/>`);
  const ticks = 5;
  const withTime = tMax - tMin < 5 * 86_400_000;
  for (let i = 0; i <= ticks; i++) {
    const t = tMin + ((tMax - tMin) * i) / ticks;
    const anchor = i === 0 ? 'start' : i === ticks ? 'end' : 'middle';
    const text = withTime ? new Date(t).toISOString().slice(5, 16).replace('T', ' ') : new Date(t).toISOString().slice(0, 10);
    parts.push(`<text x="${n(x(t))}" y="${top + plotH + 16}" text-anchor="${anchor}" fill="${C.text}">${text}</text>`);
  }

  // Target: a dashed step line (a scenario may override the plan's target).
  const targeted = points.filter((p) => p.targetSeconds !== null);
  if (targeted.length > 0) {
    let d = '';
    targeted.forEach((p, i) => {
      const ty = n(Math.max(top, y(p.targetSeconds!)));
      const px = i === 0 ? left : x(p.at);
      d += i === 0 ? `M${n(px)} ${ty}` : ` H${n(px)} V${ty}`;
    });
    d += ` H${width - right}`;
    parts.push(`<path class="target" d="${d}" fill="none" stroke="${C.target}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    if (!targetInside) {
      parts.push(`<text x="${left + 6}" y="${top + 12}" fill="${C.target}">target ${escapeXml(formatSeconds(targetMax))}: above the scale ↑</text>`);
    }
  }

  // The measured series, joined by a thin line.
  const measured = points.filter((p) => p.seconds !== null);
  if (measured.length > 1 && measured.length <= 2000) {
    parts.push(`<polyline fill="none" stroke="${C.line}" stroke-width="1" points="${measured.map((p) => `${n(x(p.at))},${n(y(p.seconds!))}`).join(' ')}"/>`);
  }
  const r = points.length > 500 ? 2 : 4;
  for (const p of points) {
    const px = n(x(p.at));
    const py = n(p.seconds === null ? top + plotH : y(p.seconds));
    const title = `<title>${escapeXml(p.label)}</title>`;
    if (p.failure) {
      const a = r + 1;
      parts.push(
        `<path class="point failure" d="M${px} ${py} m-${a} -${a} l${2 * a} ${2 * a} m0 -${2 * a} l-${2 * a} ${2 * a}" stroke="${C.failure}" stroke-width="2.2" fill="none">${title}</path>`,
      );
    } else {
      parts.push(`<circle class="point" cx="${px}" cy="${py}" r="${r}" fill="${C.ok}">${title}</circle>`);
    }
  }

  // Legend
  const ly = 14;
  parts.push(
    `<text x="${left}" y="${ly + 4}" font-weight="600" fill="${C.text}">${escapeXml(input.title)}</text>`,
    `<g class="legend" transform="translate(${width - right - 330} ${ly})">`,
    `<circle cx="0" cy="0" r="4" fill="${C.ok}"/><text x="8" y="4" fill="${C.text}">passed</text>`,
    `<path d="M66 -5 l10 10 m0 -10 l-10 10" stroke="${C.failure}" stroke-width="2.2"/><text x="82" y="4" fill="${C.text}">failed / missed / aborted</text>`,
    `<line x1="228" y1="0" x2="252" y2="0" stroke="${C.target}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="258" y="4" fill="${C.text}">target</text>`,
    '</g>',
    '</svg>',
  );
  return parts.join('');
}
