/**
 * The report's charts, drawn with Vega-Lite: marker labels (T0, outage detected, endpoint
 * ready, recovered) never overlap however close their instants are; the SVG is static (no
 * script, no external reference, nothing a strict CSP blocks); error bars span the bound.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeMarkerLabels, probeTimelineSvg, targetBarsSvg, type TimelineMarker } from '../../../reports/charts.js';
import { makeProbes } from '../../helpers/run-record-fixture.js';

const MARKERS: TimelineMarker[] = [
  { label: 'T0', seconds: 0, kind: 't0' },
  { label: 'outage detected', seconds: 0.25, kind: 'phase' },
  { label: 'endpoint ready', seconds: 0.6, kind: 'phase' },
  { label: 'recovered', seconds: 1.27, kind: 'recovered' },
];

describe('marker labels', () => {
  it('labels in one row never overlap, for any set of instants', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -5, max: 60, noNaN: true }), { minLength: 1, maxLength: 8 }), (seconds) => {
        const markers = seconds.map((s, i) => ({ label: ['T0', 'outage detected', 'endpoint ready', 'recovered'][i % 4]!, seconds: s, kind: 'phase' as const }));
        const placed = placeMarkerLabels(markers, [-6, 61], 690);
        for (const a of placed) {
          for (const b of placed) {
            if (a === b || a.row !== b.row) continue;
            expect(a.x1 <= b.x0 || b.x1 <= a.x0, `${a.text} / ${b.text}`).toBe(true);
          }
          expect(a.x0).toBeGreaterThanOrEqual(-200); // right-aligned labels near the left edge stay near it
          expect(a.x1).toBeLessThanOrEqual(690 + 1);
        }
      }),
    );
  });

  it('T0, outage detected and endpoint ready a fraction of a second apart get separate rows in the chart', () => {
    const svg = probeTimelineSvg({ probes: makeProbes(), t0Mono: 5_000, markers: MARKERS, targetRtoSeconds: 30 });
    const ys = ['T0 0 s', 'outage detected 0.25 s', 'endpoint ready 0.6 s'].map((text) => {
      const m = new RegExp(`<text [^>]*transform="translate\\(([\\d.-]+),([\\d.-]+)\\)"[^>]*>${text}</text>`).exec(svg);
      expect(m, text).not.toBeNull();
      return Number(m![2]);
    });
    expect(new Set(ys).size).toBe(3);
  });
});

describe('static SVG', () => {
  it('has no script, event handler, foreignObject or external reference', () => {
    const svg =
      probeTimelineSvg({ probes: makeProbes(), t0Mono: 5_000, markers: MARKERS, targetRtoSeconds: 30 }) +
      targetBarsSvg([{ label: 'RTO', measuredSeconds: 12.34, errorSeconds: 0.5, targetSeconds: 30, verdict: 'met' }]);
    expect(svg).not.toMatch(/<script|\son[a-z]+=|<foreignObject|href=|url\(|@import|https?:\/\/(?!www\.w3\.org\/)/i);
  });

  it('the error bar spans measured ± bound on the row’s own scale', () => {
    const svg = targetBarsSvg([{ label: 'RTO', measuredSeconds: 10, errorSeconds: 2, targetSeconds: 20, verdict: 'met' }]);
    const rule = /<g class="mark-rule role-mark bound_0_layer_0_marks"[^>]*><line [^>]*transform="translate\(([\d.]+),[\d.]+\)" x2="([\d.]+)"/.exec(svg)!;
    const bar = /<g class="mark-rect role-mark measured_0_marks"[^>]*><path [^>]*d="M0,[\d.]+h([\d.]+)/.exec(svg)!;
    const [low, span, measured] = [Number(rule[1]), Number(rule[2]), Number(bar[1])];
    // measured 10 → bar width; low 8 and high 12 are 0.8× and 1.2× of it
    expect(low / measured).toBeCloseTo(0.8, 2);
    expect((low + span) / measured).toBeCloseTo(1.2, 2);
  });
});
