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

describe('systemTrends', () => {
  it('one series per system; every run with a measurement or a failure is a point', () => {
    const trends = systemTrends(runs(SERIES));
    expect(trends.map((t) => t.system)).toEqual(['alpha', 'beta']);
    const alpha = trends[0]!;
    expect(alpha.runs).toBe(6);
    expect(alpha.rto).toHaveLength(5); // 4 measured + the aborted run; the passed tabletop measured nothing
    expect(alpha.rto.map((p) => p.failure)).toEqual([false, true, false, true, true]);
    expect(alpha.rpo.map((p) => p.failure)).toEqual([false, true, false, true, true]);
    expect(alpha.rto.map((p) => p.seconds)).toEqual([12, 45, 10, 25, null]);
  });
});

describe('trendSvg', () => {
  it('draws one point per run, failure markers for the failures, the target and a legend', () => {
    const alpha = systemTrends(runs(SERIES))[0]!;
    const svg = trendSvg({ title: 'alpha: RTO', metric: 'rto', points: alpha.rto });
    expect(count(svg, /class="point( failure)?"/g)).toBe(alpha.rto.length);
    expect(count(svg, /class="point failure"/g)).toBe(3);
    expect(count(svg, /<circle class="point"/g)).toBe(2);
    expect(svg).toContain('class="target"');
    expect(svg).toContain('failed / missed / aborted');
    expect(svg).toContain('aria-label="alpha: RTO: 5 runs"');
    // Higher values are drawn higher: the 45 s point sits above the 10 s one.
    const cy = [...svg.matchAll(/<(?:circle class="point" cx="[\d.]+" cy="([\d.]+)"|path class="point failure" d="M[\d.]+ ([\d.]+))/g)].map((m) => Number(m[1] ?? m[2]));
    expect(cy[1]).toBeLessThan(cy[2]!);
    expect(svg).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
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

  it('10,000 runs stay one point each', () => {
    const many: FixtureRun[] = Array.from({ length: 10_000 }, (_, i) => ({ system: 's', tier: 1, type: 'failover', daysAgo: i / 20, outcome: i % 97 === 0 ? 'failed' : 'passed', rto: 5 + (i % 13), rpo: 1 }));
    const trend = systemTrends(runs(many))[0]!;
    const svg = trendSvg({ title: 's: RTO', metric: 'rto', points: trend.rto });
    expect(count(svg, /class="point( failure)?"/g)).toBe(10_000);
    expect(count(svg, /class="point failure"/g)).toBe(many.filter((r) => r.outcome === 'failed').length);
  });
});
