/**
 * Inline SVG charts for the HTML report. They are built from numbers; the only text that
 * comes from a run (probe names, marker labels) goes through {@link escapeXml}, which is why
 * the renderer may insert the result unescaped. No scripts, no external references.
 */
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

/** Round tick steps (1, 2, 5 × 10^k) giving about `targetCount` ticks over `span`. */
function niceStep(span: number, targetCount: number): number {
  const raw = span / Math.max(1, targetCount);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
  return nice * magnitude;
}

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

/**
 * One lane per probe, one tick per attempt (green ok, red failed), vertical markers for T0
 * and the recovery phases, and the RTO target as a dashed line — or, when the target lies
 * far beyond the drill, an arrow at the right edge so the drill itself stays readable.
 */
export function probeTimelineSvg(input: ProbeTimelineInput): string {
  const width = input.width ?? 900;
  const laneNames = [...new Set(input.probes.map((p) => p.probe))];
  const left = 170;
  const right = 24;
  const laneHeight = 28;
  const plotWidth = width - left - right;

  const attempts = input.probes.map((p) => ({
    lane: laneNames.indexOf(p.probe),
    start: (p.startMono - input.t0Mono) / 1000,
    end: (Math.max(p.endMono, p.startMono) - input.t0Mono) / 1000,
    ok: p.ok,
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
  const x = (seconds: number) => left + ((seconds - min) / (max - min)) * plotWidth;

  // Marker labels are stacked in rows so close markers (detected / action issued) stay legible.
  const markers = [...input.markers].filter((m) => Number.isFinite(m.seconds)).sort((a, b) => a.seconds - b.seconds);
  const rowEnds: number[] = [];
  const placed = markers.map((marker) => {
    const label = truncateLabel(`${marker.label} ${formatSeconds(marker.seconds)}`, 40);
    const textWidth = label.length * 6.2;
    // Labels run right of their marker, or left of it where they would leave the chart.
    const anchorEnd = x(marker.seconds) + 3 + textWidth > width - 4;
    const startX = anchorEnd ? x(marker.seconds) - 3 - textWidth : x(marker.seconds) + 3;
    let row = rowEnds.findIndex((end) => end < startX);
    if (row === -1) row = rowEnds.length;
    rowEnds[row] = startX + textWidth + 6;
    return { marker, label, row, anchorEnd };
  });
  const labelRows = Math.max(1, rowEnds.length);
  const top = 14 + labelRows * 14;
  const lanesHeight = Math.max(1, laneNames.length) * laneHeight;
  const axisY = top + lanesHeight + 6;
  const height = axisY + 36;

  const parts: string[] = [];
  parts.push(
    `<svg viewBox="0 0 ${width} ${n(height, 0)}" width="100%" role="img" aria-label="Probe attempts relative to T0" ${FONT} font-size="11">`,
    '<title>Probe attempts relative to T0</title>',
  );
  laneNames.forEach((name, lane) => {
    const y = top + lane * laneHeight;
    if (lane % 2 === 0) parts.push(`<rect x="${left}" y="${y}" width="${plotWidth}" height="${laneHeight}" fill="${COLORS.grid}"/>`);
    parts.push(`<text x="${left - 8}" y="${y + laneHeight / 2 + 4}" text-anchor="end" fill="${COLORS.text}"><title>${escapeXml(name)}</title>${escapeXml(truncateMiddle(name, 26))}</text>`);
  });
  if (laneNames.length === 0) {
    parts.push(`<text x="${left + plotWidth / 2}" y="${top + laneHeight / 2 + 4}" text-anchor="middle" fill="${COLORS.neutral}">no probe attempts recorded</text>`);
  }

  const step = niceStep(max - min, 10);
  for (let tick = Math.ceil(min / step) * step; tick <= max; tick += step) {
    const tx = n(x(tick));
    parts.push(
      `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${axisY}" stroke="${COLORS.grid}" stroke-width="1"/>`,
      `<text x="${tx}" y="${axisY + 14}" text-anchor="middle" fill="${COLORS.neutral}">${n(tick, 2)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${axisY}" x2="${left + plotWidth}" y2="${axisY}" stroke="${COLORS.axis}"/>`,
    `<text x="${left + plotWidth / 2}" y="${axisY + 30}" text-anchor="middle" fill="${COLORS.text}">seconds relative to T0 (the disruptive action)</text>`,
  );

  for (const attempt of attempts) {
    const y = top + attempt.lane * laneHeight + 5;
    const x1 = x(attempt.start);
    const tickWidth = Math.max(2, x(attempt.end) - x1);
    parts.push(
      `<rect x="${n(x1)}" y="${y}" width="${n(tickWidth)}" height="${laneHeight - 10}" fill="${attempt.ok ? COLORS.ok : COLORS.failed}"><title>${attempt.ok ? 'ok' : 'failed'} at ${n(attempt.start, 3)} s</title></rect>`,
    );
  }

  for (const { marker, label, row, anchorEnd } of placed) {
    const mx = n(x(marker.seconds));
    const color = marker.kind === 'recovered' ? COLORS.ok : marker.kind === 't0' ? COLORS.failed : COLORS.marker;
    const labelY = 12 + row * 14;
    parts.push(
      `<line x1="${mx}" y1="${labelY + 2}" x2="${mx}" y2="${axisY}" stroke="${color}" stroke-width="${marker.kind === 'phase' ? 1 : 2}"/>`,
      anchorEnd
        ? `<text x="${n(x(marker.seconds) - 3)}" y="${labelY}" text-anchor="end" fill="${color}">${escapeXml(label)}</text>`
        : `<text x="${n(x(marker.seconds) + 3)}" y="${labelY}" fill="${color}">${escapeXml(label)}</text>`,
    );
  }

  if (target !== null && Number.isFinite(target)) {
    const label = `target RTO ${formatSeconds(target)}`;
    if (targetInside) {
      const tx = n(x(target));
      parts.push(
        `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${axisY}" stroke="${COLORS.target}" stroke-width="2" stroke-dasharray="6 4"/>`,
        `<text x="${n(x(target) - 3)}" y="${axisY - 4}" text-anchor="end" fill="${COLORS.target}">${escapeXml(label)}</text>`,
      );
    } else {
      parts.push(`<text x="${left + plotWidth}" y="${axisY - 4}" text-anchor="end" fill="${COLORS.target}">${escapeXml(label)} →</text>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
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

/** One row per objective: the measured bar with its error whisker against the target line. */
export function targetBarsSvg(bars: TargetBar[], width = 900): string {
  const left = 70;
  const right = 200;
  const rowHeight = 44;
  const plotWidth = width - left - right;
  const height = bars.length * rowHeight + 24;
  const parts: string[] = [
    `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Measured RTO and RPO against their targets" ${FONT} font-size="12">`,
    '<title>Measured RTO and RPO against their targets</title>',
  ];
  bars.forEach((bar, index) => {
    const y = 10 + index * rowHeight;
    const measured = bar.measuredSeconds;
    const error = Number.isFinite(bar.errorSeconds) ? Math.max(0, bar.errorSeconds) : 0;
    const targetValue = bar.targetSeconds;
    parts.push(`<text x="${left - 10}" y="${y + 20}" text-anchor="end" font-weight="600" fill="${COLORS.text}">${escapeXml(bar.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 6}" width="${plotWidth}" height="20" fill="${COLORS.grid}"/>`);
    // Each row has its own scale: an RTO of minutes and an RPO of milliseconds share no axis.
    const scaleMax = Math.max(targetValue ?? 0, (measured ?? 0) + error, 0.001) * 1.15;
    const x = (seconds: number) => left + (Math.max(0, seconds) / scaleMax) * plotWidth;
    let summary: string;
    if (measured === null || !Number.isFinite(measured)) {
      summary = 'not measured';
    } else {
      const color = bar.verdict === 'met' ? COLORS.met : bar.verdict === 'missed' ? COLORS.missed : COLORS.neutral;
      parts.push(`<rect x="${left}" y="${y + 8}" width="${n(Math.max(1, x(measured) - left))}" height="16" fill="${color}"/>`);
      if (error > 0) {
        const low = n(x(measured - error));
        const high = n(x(measured + error));
        parts.push(
          `<line x1="${low}" y1="${y + 16}" x2="${high}" y2="${y + 16}" stroke="${COLORS.text}" stroke-width="1.5"/>`,
          `<line x1="${low}" y1="${y + 11}" x2="${low}" y2="${y + 21}" stroke="${COLORS.text}" stroke-width="1.5"/>`,
          `<line x1="${high}" y1="${y + 11}" x2="${high}" y2="${y + 21}" stroke="${COLORS.text}" stroke-width="1.5"/>`,
        );
      }
      summary = error > 0 ? `${formatSeconds(measured)} ± ${formatSeconds(error)}` : formatSeconds(measured);
    }
    if (targetValue !== null && Number.isFinite(targetValue)) {
      const tx = n(x(targetValue));
      parts.push(
        `<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + 30}" stroke="${COLORS.target}" stroke-width="2" stroke-dasharray="4 3"/>`,
        `<text x="${tx}" y="${y + 42}" text-anchor="middle" fill="${COLORS.target}" font-size="11">${escapeXml(bar.targetWord ?? 'target')} ${escapeXml(formatSeconds(targetValue))}</text>`,
      );
      summary += ` vs ${formatSeconds(targetValue)}`;
    } else {
      summary += ' (no target)';
    }
    parts.push(`<text x="${left + plotWidth + 10}" y="${y + 20}" fill="${COLORS.text}">${escapeXml(summary)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
