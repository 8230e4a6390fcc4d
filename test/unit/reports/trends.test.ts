/**
 * Trend charts: one point per run, failures drawn with their own marker and legend, the
 * target line, and nothing from a run's text reaching the SVG unescaped.
 */
import { describe, expect, it } from 'vitest';
import { summarize, type RunSummary } from '../../../reports/coverage.js';
import { systemTrends, trendSvg } from '../../../reports/trends.js';
import { fixtureRecord, type FixtureRun } from '../../fixtures/coverage/evidence.js';

function runs(list: FixtureRun[]): RunSummary[] {
  return list.map((run, i) => summarize(`run-${i}`, fixtureRecord(run, i)) as RunSummary).sort((a, b) => a.startedMs - b.startedMs);
}

const SERIES: FixtureRun[] = [
  { system: 'alpha', tier: 1, type: 'failover', daysAgo: 50, outcome: 'passed', rto: 12, rpo: 0.5 },
  { system: 'alpha', tier: 1, type: 'failover', daysAgo: 40, outcome: 'failed', rto: 45, rpo: 0.7 }, // RTO missed (target 30)
  { system: 'alpha', tier: 1, type: 'failover', daysAgo: 30, outcome: 'passed', rto: 10, rpo: 0.3 },
  { system: 'alpha', tier: 1, type: 'parallel-restore', daysAgo: 20, outcome: 'failed', rto: 25, rpo: 9 }, // RPO missed (target 5)
  { system: 'alpha', tier: 1, type: 'failover', daysAgo: 10, outcome: 'aborted', rto: null, rpo: null }, // nothing measured
  { system: 'alpha', tier: 1, type: 'tabletop', daysAgo: 5, outcome: 'passed', rto: null, rpo: null }, // nothing to plot
  { system: 'beta', tier: 2, type: 'failover', daysAgo: 3, outcome: 'passed', rto: 100, rpo: 2 },
];

const count = (svg: string, pattern: RegExp) => (svg.match(pattern) ?? []).length;
/** The items of one named Vega mark: the <path>s (<line>s for rules) inside `<g class="mark-… role-mark NAME_marks">`. */
const items = (svg: string, name: string) => {
  const group = new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>(.*?)</g>`).exec(svg);
  return group ? [...group[1]!.matchAll(/<(?:path|line) [^>]*>/g)].map((m) => m[0]) : [];
};
/** The y of a symbol (its translate), in SVG pixels: smaller is higher. */
const yOf = (path: string) => Number(/transform="translate\([\d.-]+,([\d.-]+)\)"/.exec(path)![1]);

describe('systemTrends', () => {
  it('one series per system; every run with a measurement or a failure is a point; exercises are not', () => {
    const trends = systemTrends(runs(SERIES));
    expect(trends.map((t) => t.system)).toEqual(['alpha', 'beta']);
    const alpha = trends[0]!;
    expect(alpha.runs).toBe(6);
    expect(alpha.rto).toHaveLength(5); // 4 measured + the aborted run; the tabletop measured nothing
    expect(alpha.rto.map((p) => p.failure)).toEqual([false, true, false, true, true]);
    expect(alpha.rpo.map((p) => p.failure)).toEqual([false, true, false, true, true]);
    expect(alpha.rto.map((p) => p.seconds)).toEqual([12, 45, 10, 25, null]);
    expect(alpha.rto.map((p) => p.type)).toEqual(['failover', 'failover', 'failover', 'parallel-restore', 'failover']);
  });

  it('a failed tabletop is not drawn as a 0 s failure', () => {
    const trend = systemTrends(runs([{ system: 'x', tier: 1, type: 'tabletop', daysAgo: 1, outcome: 'failed', rto: null, rpo: null }]))[0]!;
    expect(trend.rto).toEqual([]);
    expect(trend.rpo).toEqual([]);
  });
});

describe('trendSvg (Vega-Lite)', () => {
  it('draws one mark per run: circles for passed, red crosses for failures, a rule for the run that measured nothing; target and bounds', () => {
    const alpha = systemTrends(runs(SERIES))[0]!;
    const svg = trendSvg({ title: 'alpha: RTO', metric: 'rto', points: alpha.rto });
    expect(items(svg, 'point')).toHaveLength(2);
    expect(items(svg, 'failure')).toHaveLength(2);
    expect(items(svg, 'unmeasured')).toHaveLength(1);
    expect(items(svg, 'bound').length).toBe(4);
    expect(items(svg, 'target').length).toBeGreaterThan(0);
    for (const p of items(svg, 'failure')) expect(p).toContain('fill="#c62828"');
    expect(svg).toContain('class="marks trend"');
    expect(svg).toContain('aria-label="alpha: RTO: 5 runs"');
    // One series per test type, each its own colour, named in a legend.
    expect(svg).toMatch(/>failover</);
    expect(svg).toMatch(/>parallel-restore</);
    expect(new Set(items(svg, 'point').map((p) => /fill="(#[0-9a-f]+)"/.exec(p)![1]))).toEqual(new Set(['#1565c0']));
    // The time axis says its time zone.
    expect(svg).toContain('>run start (UTC)<');
    // Higher values are drawn higher: the 45 s failure sits above the 25 s one.
    const [f45, f25] = items(svg, 'failure').map(yOf);
    expect(f45!).toBeLessThan(f25!);
    expect(svg).not.toMatch(/<script|<foreignObject|href=|https?:\/\/(?!www\.w3\.org\/)/);
  });

  it('keeps a target far above the data inside the scale (the axis reaches it)', () => {
    const beta = systemTrends(runs([SERIES[6]!, { ...SERIES[6]!, daysAgo: 2, rto: 110 }]))[0]!;
    const withTarget = beta.rto.map((p) => ({ ...p, targetSeconds: 900 }));
    const svg = trendSvg({ title: 'beta: RTO', metric: 'rto', points: withTarget });
    expect(svg).toContain('target 900 s');
    expect(svg).not.toContain('above the scale');
    // The target's line lies inside the plot (y ≥ 0, the plot's top), above the points.
    const target = items(svg, 'target')[0]!;
    const targetY = Number(/d="M[\d.-]+,([\d.-]+)/.exec(target)![1]);
    expect(targetY).toBeGreaterThanOrEqual(0);
    for (const p of items(svg, 'point')) expect(targetY).toBeLessThan(yOf(p));
  });

  it('a chart with no runs says so', () => {
    expect(trendSvg({ title: 't', metric: 'rpo', points: [] })).toContain('no runs measured this');
  });

  it('escapes text that comes from runs', () => {
    const hostile = runs([SERIES[0]!]).map((r) => ({ ...r, scenario: '<img src=x onerror=alert(1)>', environment: '"><script>alert(2)</script>' }));
    const svg = trendSvg({ title: '<b>x</b>', metric: 'rto', points: systemTrends(hostile)[0]!.rto });
    expect(svg).not.toContain('<img');
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('2,000 runs stay one mark each', () => {
    const many: FixtureRun[] = Array.from({ length: 2_000 }, (_, i) => ({ system: 's', tier: 1, type: 'failover', daysAgo: i / 20, outcome: i % 97 === 0 ? 'failed' : 'passed', rto: 5 + (i % 13), rpo: 1 }));
    const trend = systemTrends(runs(many))[0]!;
    const svg = trendSvg({ title: 's: RTO', metric: 'rto', points: trend.rto });
    expect(items(svg, 'point').length + items(svg, 'failure').length).toBe(2_000);
    expect(items(svg, 'failure')).toHaveLength(trend.rto.filter((p) => p.failure).length);
    expect(count(svg, /NaN/g)).toBe(0);
  });
});
