/**
 * Inline SVG charts for the HTML report, drawn from a grammar: each chart is a Vega-Lite
 * specification rendered server-side (vega's headless SVG string renderer) into static SVG,
 * inserted inline so the report stays one self-contained file under a strict CSP (no
 * scripts, no external references). Vega escapes every text and attribute it writes; the
 * only text this module adds itself (the root's aria-label and title) goes through
 * {@link escapeXml}.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ProbeAttempt, Verdict } from './run-record.js';

const COLORS = {
  ok: '#2e7d32',
  failed: '#c62828',
  missed: '#c62828',
  met: '#2e7d32',
  neutral: '#607d8b',
  axis: '#9e9e9e',
  grid: '#eceff1',
  text: '#263238',
  target: '#37474f',
  marker: '#1565c0',
} as const;

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

/** Escape text for SVG/XML element content and attribute values. */
export function escapeXml(text: string): string {
  return String(text).replace(/[&<>"']/g, (char) => XML_ENTITIES[char] ?? char);
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A number safe to put in an attribute: non-finite (e.g. from a hand-edited run.json) becomes 0. */
function n(value: number, decimals = 1): string {
  const finite = Number.isFinite(value) ? value : 0;
  return String(Number(finite.toFixed(decimals)));
}

/** `12.34 s`, `0.4 s`, `900 s`: up to the precision a probe interval can resolve, no trailing zeros. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const decimals = Math.abs(seconds) < 1 ? 3 : 2;
  return `${Number(seconds.toFixed(decimals))} s`;
}

function truncateLabel(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** Probe names often share a prefix and differ at the end, so keep both ends. */
function truncateMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const head = Math.ceil((maxChars - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (maxChars - 1 - head))}`;
}

export const CHART_FONT = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif';

/** Vega/Vega-Lite warnings are collected, never printed (library code stays silent). */
function silentLogger() {
  const messages: string[] = [];
  const logger = {
    level(_?: number) {
      return logger as never;
    },
    error(...args: unknown[]) {
      messages.push(args.map(String).join(' '));
      return logger;
    },
    warn(...args: unknown[]) {
      messages.push(args.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return { logger, messages };
}

interface HeadlessView {
  run(): unknown;
  data(name: string, values: unknown[]): HeadlessView;
  signal(name: string, value: unknown): HeadlessView;
  padding(): { left: number; right: number; top: number; bottom: number };
  background(): string;
  loader(): unknown;
  scenegraph(): { root: unknown };
  _viewWidth: number;
  _viewHeight: number;
  _origin: [number, number];
}

interface StringRenderer {
  initialize(el: null, width: number, height: number, origin: number[]): StringRenderer;
  background(color: string): StringRenderer;
  render(scene: unknown): StringRenderer;
  svg(): string;
}

/**
 * Compiling Vega-Lite and parsing the Vega spec cost more than drawing a chart, and a site has
 * many charts of the same shape: specs are cached by their structure, with the inline data
 * taken out into named datasets (and `signals` into Vega signals) that are set on each view.
 */
const runtimeCache = new Map<string, unknown>();
const RUNTIME_CACHE_SIZE = 64;

/** Replaces every `data: { values }` with `data: { name }` and returns the values by name. */
function extractData(spec: unknown): { structure: unknown; datasets: Map<string, unknown[]> } {
  const datasets = new Map<string, unknown[]>();
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === 'data' && value && typeof value === 'object' && Array.isArray((value as { values?: unknown }).values)) {
        const name = `drillbook_data_${datasets.size}`;
        datasets.set(name, (value as { values: unknown[] }).values);
        out[key] = { name };
      } else out[key] = walk(value);
    }
    return out;
  };
  return { structure: walk(spec), datasets };
}

/**
 * A Vega-Lite specification as static SVG markup, synchronously (the data is set before the
 * first run, so the dataflow evaluates in one pass; the second pass applies autosize padding,
 * as vega's own `toSVG` does). The root element gets `class`, `role="img"`, an aria-label and
 * a title, and scales to its container's width. `signals` are top-level params of the spec
 * whose values are set per chart (titles), so charts differing only in them share the cache.
 */
export function vegaLiteSvg(spec: TopLevelSpec, options: { label: string; className?: string; signals?: Record<string, unknown> }): string {
  const { logger } = silentLogger();
  const { structure, datasets } = extractData(spec);
  const key = JSON.stringify(structure);
  let runtime = runtimeCache.get(key);
  if (runtime === undefined) {
    const compiled = compile(structure as TopLevelSpec, { logger: logger as never }).spec;
    runtime = vega.parse(compiled, undefined, { ast: false } as never);
    if (runtimeCache.size >= RUNTIME_CACHE_SIZE) runtimeCache.delete(runtimeCache.keys().next().value!);
    runtimeCache.set(key, runtime);
  }
  const View = vega.View as unknown as new (runtime: unknown, options: unknown) => HeadlessView;
  const view = new View(runtime, { renderer: 'none', logger, logLevel: vega.None });
  for (const [name, values] of datasets) view.data(name, values);
  for (const [name, value] of Object.entries(options.signals ?? {})) view.signal(name, value);
  view.run();
  view.run();
  const pad = view.padding();
  const width = Math.max(0, view._viewWidth + pad.left + pad.right);
  const height = Math.max(0, view._viewHeight + pad.top + pad.bottom);
  const Renderer = (vega as unknown as { SVGStringRenderer: new (loader: unknown) => StringRenderer }).SVGStringRenderer;
  const renderer = new Renderer(view.loader()).initialize(null, width, height, [pad.left + view._origin[0], pad.top + view._origin[1]]).background(view.background());
  const markup = renderer.render(view.scenegraph().root).svg();
  const label = escapeXml(options.label);
  // Inline in HTML: no namespace declarations needed (and no URL at all in the report).
  return markup.replace(
    /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink" version="1\.1" ([^>]*?)class="marks" width="[\d.]+" height="[\d.]+"/,
    `<svg $1class="marks${options.className ? ` ${escapeXml(options.className)}` : ''}" width="100%" role="img" aria-label="${label}" font-family="${CHART_FONT}"`,
  ).replace(/^(<svg [^>]*>)/, `$1<title>${label}</title>`);
}

const BASE_CONFIG = {
  font: CHART_FONT,
  view: { stroke: null },
  axis: { labelColor: COLORS.text, titleColor: COLORS.text, gridColor: COLORS.grid, domainColor: COLORS.axis, tickColor: COLORS.axis, labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelColor: COLORS.text, titleColor: COLORS.text, labelFontSize: 11, titleFontSize: 11 },
  title: { color: COLORS.text, fontSize: 13, anchor: 'start' },
} as const;

export interface TimelineMarker {
  label: string;
  /** Seconds relative to T0 (negative before it). */
  seconds: number;
  kind: 't0' | 'phase' | 'recovered';
}

export interface ProbeTimelineInput {
  probes: ProbeAttempt[];
  /** Monotonic ms of T0; probe attempts are placed relative to it. */
  t0Mono: number;
  markers: TimelineMarker[];
  targetRtoSeconds: number | null;
  width?: number;
}

const LABEL_ROW_PX = 14;
/** Width estimate of 11 px system-ui text, generous so estimated labels never touch. */
const CHAR_PX = 6.4;

/**
 * Marker labels placed in rows so that none overlaps another: each label goes in the first
 * row where it starts after the previous label of that row ends (in pixels of the plot), and
 * runs left of its marker where it would leave the chart. Pure, so a test can check it.
 */
export function placeMarkerLabels(markers: TimelineMarker[], domain: [number, number], plotWidth: number): { marker: TimelineMarker; text: string; row: number; align: 'left' | 'right'; x0: number; x1: number }[] {
  const px = (s: number) => ((s - domain[0]) / (domain[1] - domain[0])) * plotWidth;
  const rowEnds: number[] = [];
  return [...markers]
    .filter((m) => Number.isFinite(m.seconds))
    .sort((a, b) => a.seconds - b.seconds)
    .map((marker) => {
      const text = truncateLabel(`${marker.label} ${formatSeconds(marker.seconds)}`, 40);
      const w = text.length * CHAR_PX;
      const at = px(marker.seconds);
      const align: 'left' | 'right' = at + 3 + w > plotWidth ? 'right' : 'left';
      const x0 = align === 'left' ? at + 3 : at - 3 - w;
      let row = rowEnds.findIndex((end) => end < x0);
      if (row === -1) row = rowEnds.length;
      rowEnds[row] = x0 + w + 8;
      return { marker, text, row, align, x0, x1: x0 + w };
    });
}

/**
 * One lane per probe, one bar per attempt (green ok, red failed) from its start to its end,
 * vertical rules for T0 and the recovery phases with their labels stacked above the lanes
 * so they never overlap, and the RTO target as a dashed rule — or, when the target lies far
 * beyond the drill, a labelled arrow at the right edge so the drill itself stays readable.
 */
export function probeTimelineSvg(input: ProbeTimelineInput): string {
  const width = input.width ?? 900;
  const plotWidth = width - 210;
  const laneNames = [...new Set(input.probes.map((p) => p.probe))];
  const attempts = input.probes.map((p) => ({
    probe: truncateMiddle(p.probe, 26),
    start: (p.startMono - input.t0Mono) / 1000,
    end: (Math.max(p.endMono, p.startMono) - input.t0Mono) / 1000,
    result: p.ok ? 'ok' : 'failed',
  }));
  const xs = [0, ...attempts.flatMap((a) => [a.start, a.end]), ...input.markers.map((m) => m.seconds)].filter(Number.isFinite);
  let min = Math.min(...xs);
  let max = Math.max(...xs);
  const target = input.targetRtoSeconds;
  // Show the target inside the plot when that does not squash the drill to a sliver.
  const targetInside = target !== null && Number.isFinite(target) && target <= Math.max(max, 1) * 3;
  if (targetInside && target !== null) max = Math.max(max, target);
  if (max - min < 1) max = min + 1;
  const pad = (max - min) * 0.04;
  min -= pad;
  max += pad;
  const domain: [number, number] = [Number(min.toFixed(3)), Number(max.toFixed(3))];
  // Every attempt stays visible: at least 2 px wide.
  const minSeconds = (2 / plotWidth) * (domain[1] - domain[0]);
  const bars = attempts.map((a) => ({ ...a, end: Math.max(a.end, a.start + minSeconds), description: `${a.probe}: ${a.result} at ${a.start.toFixed(3)} s` }));
  const placed = placeMarkerLabels(input.markers, domain, plotWidth);
  const rows = Math.max(1, ...placed.map((p) => p.row + 1));
  // Fixed colours per marker kind (one layer each), so they never share the attempts' colour scale.
  const KIND_COLOR = { t0: COLORS.failed, phase: COLORS.marker, recovered: COLORS.ok } as const;
  const KINDS = ['t0', 'phase', 'recovered'] as const;
  const markerRows = placed.map((p) => ({ seconds: p.marker.seconds, kind: p.marker.kind, text: p.text, align: p.align, y: (p.row + 1) * LABEL_ROW_PX - 3 }));
  const x = { field: 'seconds', type: 'quantitative', scale: { domain, nice: false, zero: false } } as const;
  const lanesHeight = Math.max(1, laneNames.length) * 28;

  const labelText = KINDS.flatMap((kind) =>
    (['left', 'right'] as const).map((align) => ({
      data: { values: markerRows.filter((m) => m.align === align && m.kind === kind) },
      mark: { type: 'text', align, baseline: 'alphabetic', dx: align === 'left' ? 3 : -3, fontSize: 11, color: KIND_COLOR[kind] },
      encoding: { x, y: { field: 'y', type: 'quantitative', scale: null }, text: { field: 'text' } },
    })),
  );
  const lanes: Record<string, unknown>[] = [
    {
      name: 'attempt',
      data: { values: bars },
      mark: { type: 'bar', height: 18 },
      encoding: {
        x: { field: 'start', type: 'quantitative', scale: { domain, nice: false, zero: false }, axis: { title: 'seconds relative to T0 (the disruptive action)', grid: true, tickCount: 10 } },
        x2: { field: 'end' },
        y: { field: 'probe', type: 'nominal', sort: laneNames.map((n) => truncateMiddle(n, 26)), axis: { title: null, labelLimit: 180, ticks: false, domain: false } },
        color: { field: 'result', type: 'nominal', scale: { domain: ['ok', 'failed'], range: [COLORS.ok, COLORS.failed] }, legend: { title: 'probe attempt', orient: 'right' } },
        description: { field: 'description' },
      },
    },
    ...KINDS.map((kind) => ({
      name: `marker_${kind}`,
      data: { values: markerRows.filter((m) => m.kind === kind) },
      mark: { type: 'rule', strokeWidth: kind === 'phase' ? 1 : 2, color: KIND_COLOR[kind] },
      encoding: { x },
    })),
  ];
  if (target !== null && Number.isFinite(target)) {
    const label = `target RTO ${formatSeconds(target)}`;
    lanes.push(
      targetInside
        ? {
            name: 'target',
            data: { values: [{ seconds: target, text: label }] },
            layer: [
              { mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2, color: COLORS.target }, encoding: { x } },
              { mark: { type: 'text', align: 'right', baseline: 'bottom', dx: -4, dy: -2, color: COLORS.target, fontSize: 11 }, encoding: { x, y: { value: lanesHeight }, text: { field: 'text' } } },
            ],
          }
        : {
            name: 'target',
            // Below the axis, right-aligned on the title's line: never over the probe lanes.
            data: { values: [{ text: `${label} →` }] },
            mark: { type: 'text', align: 'right', baseline: 'alphabetic', color: COLORS.target, fontSize: 11 },
            encoding: { x: { value: plotWidth }, y: { value: lanesHeight + 31 }, text: { field: 'text' } },
          },
    );
  }
  if (laneNames.length === 0) {
    lanes.push({ data: { values: [{ text: 'no probe attempts recorded' }] }, mark: { type: 'text', color: COLORS.neutral, fontSize: 12 }, encoding: { x: { value: plotWidth / 2 }, y: { value: lanesHeight / 2 }, text: { field: 'text' } } });
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: BASE_CONFIG,
    spacing: 0,
    resolve: { scale: { x: 'shared', color: 'independent' } },
    vconcat: [
      { width: plotWidth, height: rows * LABEL_ROW_PX + 2, layer: labelText, encoding: { x: { ...x, axis: null } } },
      { width: plotWidth, height: lanesHeight, layer: lanes },
    ],
  };
  return vegaLiteSvg(spec as unknown as TopLevelSpec, { label: 'Probe attempts relative to T0', className: 'probe-timeline' });
}

export interface TargetBar {
  label: string;
  measuredSeconds: number | null;
  errorSeconds: number;
  targetSeconds: number | null;
  verdict: Verdict;
  /** How the reference line is named (default "target"; a walkthrough step's is "expected"). */
  targetWord?: string;
}

/**
 * One row per objective: the measured bar with its error bar (the ± bound) against the
 * target rule. Each row has its own scale: an RTO of minutes and an RPO of milliseconds
 * share no axis.
 */
export function targetBarsSvg(bars: TargetBar[], width = 900): string {
  const plotWidth = width - 300;
  // Layer names are unique per row: Vega-Lite merges the data of units that share a name.
  const rows = bars.map((bar, index) => {
    const measured = bar.measuredSeconds !== null && Number.isFinite(bar.measuredSeconds) ? bar.measuredSeconds : null;
    const error = Number.isFinite(bar.errorSeconds) ? Math.max(0, bar.errorSeconds) : 0;
    const targetValue = bar.targetSeconds !== null && Number.isFinite(bar.targetSeconds) ? bar.targetSeconds : null;
    const scaleMax = Math.max(targetValue ?? 0, (measured ?? 0) + error, 0.001) * 1.15;
    let summary = measured === null ? 'not measured' : error > 0 ? `${formatSeconds(measured)} ± ${formatSeconds(error)}` : formatSeconds(measured);
    summary += targetValue !== null ? ` vs ${formatSeconds(targetValue)}` : ' (no target)';
    const x = { type: 'quantitative', scale: { domain: [0, scaleMax], nice: false }, axis: null } as const;
    const verdictColor = bar.verdict === 'met' ? COLORS.met : bar.verdict === 'missed' ? COLORS.missed : COLORS.neutral;
    const layer: Record<string, unknown>[] = [
      { data: { values: [{ v: scaleMax }] }, mark: { type: 'bar', color: COLORS.grid, height: 20 }, encoding: { x: { field: 'v', ...x } } },
      { data: { values: [{ text: bar.label }] }, mark: { type: 'text', align: 'right', dx: -10, fontWeight: 'bold', fontSize: 12, color: COLORS.text }, encoding: { x: { value: 0 }, text: { field: 'text' } } },
      { data: { values: [{ text: summary }] }, mark: { type: 'text', align: 'left', dx: 10, fontSize: 12, color: COLORS.text }, encoding: { x: { value: plotWidth }, text: { field: 'text' } } },
    ];
    if (measured !== null) {
      layer.push({ name: `measured_${index}`, data: { values: [{ v: Math.max(0, measured), verdict: bar.verdict }] }, mark: { type: 'bar', color: verdictColor, height: 16 }, encoding: { x: { field: 'v', ...x }, description: { value: `${bar.label} ${summary}` } } });
      if (error > 0) {
        layer.push({
          name: `bound_${index}`,
          data: { values: [{ low: Math.max(0, measured - error), high: measured + error }] },
          layer: [
            { mark: { type: 'rule', color: COLORS.text, strokeWidth: 1.5 }, encoding: { x: { field: 'low', ...x }, x2: { field: 'high' } } },
            { mark: { type: 'tick', color: COLORS.text, thickness: 1.5, size: 10 }, encoding: { x: { field: 'low', ...x } } },
            { mark: { type: 'tick', color: COLORS.text, thickness: 1.5, size: 10 }, encoding: { x: { field: 'high', ...x } } },
          ],
        });
      }
    }
    if (targetValue !== null) {
      layer.push({
        name: `target_${index}`,
        data: { values: [{ v: targetValue, text: `${bar.targetWord ?? 'target'} ${formatSeconds(targetValue)}` }] },
        layer: [
          { mark: { type: 'rule', color: COLORS.target, strokeWidth: 2, strokeDash: [4, 3], y: -4, y2: 24 }, encoding: { x: { field: 'v', ...x } } },
          { mark: { type: 'text', color: COLORS.target, fontSize: 11, y: 34 }, encoding: { x: { field: 'v', ...x }, text: { field: 'text' } } },
        ],
      });
    }
    return { width: plotWidth, height: 20, layer, resolve: { scale: { x: 'shared' } } };
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: BASE_CONFIG,
    spacing: 24,
    padding: { left: 80, right: 10, top: 10, bottom: 22 },
    autosize: { type: 'pad' },
    resolve: { scale: { x: 'independent' } },
    vconcat: rows,
  };
  return vegaLiteSvg(spec as unknown as TopLevelSpec, { label: 'Measured RTO and RPO against their targets', className: 'target-bars' });
}
