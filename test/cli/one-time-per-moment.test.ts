/**
 * Issue 13 finding 6: one moment had two times ("endpoint ready" +1.29 s in the phases table,
 * +1.79 s in the timeline; teardown undos at one time in §7 and another in the timeline).
 * A real sandbox failover runs through the CLI; its report.html is parsed and every
 * representation of each event (phases table, timeline, probe chart marker, key facts,
 * teardown table) must show the same stamp.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

const FAILOVER = path.join(REPO_ROOT, 'scenarios', 'samples', 'orders-db-failover.yaml');

const decode = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
    .trim();

/** The data rows (those with a `<td>`) of the first table after `start`: each cell's text, `<th>` too (a cell's sub-line `<div>` left out). */
function tableRows(html: string, start: string): string[][] {
  const from = html.indexOf(start);
  expect(from, start).toBeGreaterThanOrEqual(0);
  const table = html.slice(html.indexOf('<table', from), html.indexOf('</table>', from));
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
    .filter((row) => row[1]!.includes('<td'))
    .map((row) => [...row[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => decode(cell[1]!.replace(/<div[\s\S]*$/, ''))));
}

/** "+1.29 s" / "1.29 s" → 1.29 */
const seconds = (text: string) => Number(/(-?[\d.]+) s/.exec(text.replace('−', '-'))![1]);

describe('one time per moment', () => {
  let evidence: string;
  let scratch: string;
  let html: string;
  let record: RunRecord;

  beforeAll(async () => {
    evidence = sharedTempDir('drillbook-evidence-');
    scratch = sharedTempDir('drillbook-scratch-');
    const result = await runCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch } });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const [dir] = fs.readdirSync(evidence).filter((d) => fs.statSync(path.join(evidence, d)).isDirectory());
    html = fs.readFileSync(path.join(evidence, dir!, 'report.html'), 'utf8');
    record = JSON.parse(fs.readFileSync(path.join(evidence, dir!, 'run.json'), 'utf8')) as RunRecord;
  }, 120_000);
  afterAll(() => {
    fs.rmSync(evidence, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('each phase has the same UTC and seconds after T0 in the phases table, the timeline and the chart', () => {
    const phases = tableRows(html, '<h3>Phases (seconds after T0)</h3>').map(([name, at, after]) => ({ name: name!, at: at!, after: after! }));
    const timeline = tableRows(html, '<section id="timeline">').map(([at, sinceT0, phase, event]) => ({ at: at!, sinceT0: sinceT0!, phase: phase!, event: event! }));
    const chart = html.slice(html.indexOf('<title>Probe attempts relative to T0</title>'), html.indexOf('</svg>', html.indexOf('<title>Probe attempts relative to T0</title>')));
    const chartLabels = [...chart.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!));
    // The phases this drill has: the last success before the outage (the observer runs from before
    // T0), T0, the outage as observed and as detected, recovery action issued, endpoint ready, data checks passed.
    expect(phases.map((p) => p.name.replace(/\s*\(.*\)$/, ''))).toEqual(['last success before the outage', 'T0: disruptive action issued', 'outage observed', 'outage detected', 'recovery action issued', 'endpoint ready', 'data checks passed']);
    const eventOf = (phase: string): ((event: string) => boolean) => {
      if (phase.startsWith('T0')) return (e) => e.startsWith('T0: ');
      const issued = /^recovery action issued \((.+)\)$/.exec(phase);
      if (issued) return (e) => e === `recovery action issued: ${issued[1]}`;
      const short = phase.replace(/\s*\(.*\)$/, '');
      return (e) => e === short;
    };
    for (const phase of phases) {
      const rows = timeline.filter((row) => eventOf(phase.name)(row.event));
      expect(rows, phase.name).toHaveLength(1);
      expect({ phase: phase.name, at: rows[0]!.at, after: seconds(rows[0]!.sinceT0) }).toEqual({ phase: phase.name, at: phase.at, after: seconds(phase.after) });
      if (phase.name.startsWith('T0')) continue; // drawn as the chart's "T0" line at 0
      const short = phase.name.replace(/\s*\(.*\)$/, '');
      const label = chartLabels.find((l) => l.startsWith(`${short} `) || l.startsWith(short.slice(0, 38)));
      expect(label, `chart marker for ${short} in ${JSON.stringify(chartLabels)}`).toBeDefined();
      expect({ phase: short, seconds: seconds(label!) }).toEqual({ phase: short, seconds: seconds(phase.after) });
    }
    // T0 in the key facts, the timeline and the phases table.
    const t0Fact = tableRows(html, '<section id="overview">').find((row) => row[0] === 'T0');
    const t0Row = timeline.find((row) => row.event.startsWith('T0: '))!;
    expect(t0Row.sinceT0).toMatch(/^\+0 s$/);
    expect(t0Fact?.[1]?.startsWith(`${t0Row.at} `), JSON.stringify(t0Fact)).toBe(true);
    expect(record.t0?.at).toBe(t0Row.at);
    // The measured RTO ends at "endpoint ready" for a failover: the chart's "recovered" marker agrees.
    const ready = phases.find((p) => p.name.startsWith('endpoint ready'))!;
    const recovered = chartLabels.find((l) => l.startsWith('recovered '));
    expect(seconds(recovered!)).toBe(seconds(ready.after));
    expect(record.measured.rto?.seconds).toBeCloseTo(seconds(ready.after), 2);
    expect(record.measured.rto?.recoveredAt).toBe(ready.at);
  });

  it('each undo has the same time in the teardown table (§7) and the timeline', () => {
    const undos = tableRows(html, '<section id="teardown">').map(([id, description, status, at]) => ({ id: id!, description: description!, status: status!, at: at! }));
    expect(undos.length).toBeGreaterThanOrEqual(3);
    const timeline = tableRows(html, '<section id="timeline">');
    for (const undo of undos) {
      const rows = timeline.filter((row) => row[3] === `undo ${undo.status}: ${undo.description}`);
      expect(rows, undo.description).toHaveLength(1);
      expect({ undo: undo.description, at: rows[0]![0] }).toEqual({ undo: undo.description, at: undo.at });
    }
  });

  it('the timeline table is in time order', () => {
    const times = tableRows(html, '<section id="timeline">').map((row) => row[0]!);
    expect(times).toEqual([...times].sort());
  });
});
