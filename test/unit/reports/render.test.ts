import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { escapeXml, probeTimelineSvg, targetBarsSvg } from '../../../reports/charts.js';
import { controlMapping } from '../../../reports/controls.js';
import { EvidenceBundle, EvidenceError, verifyBundle, verifyLedger } from '../../../reports/evidence.js';
import { packageRoot } from '../../../reports/paths.js';
import { environmentClass, renderHtml, renderMarkdown, rerender } from '../../../reports/render.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const SCRIPT = '<script>alert(1)</script>';
const IMG = '<img src=x onerror=alert(1)>';

function html(record: RunRecord = makeRunRecord(), probes = makeProbes()): string {
  return renderHtml(record, { probes, integrity: { runJsonSha256: 'a'.repeat(64), timelineSha256: 'b'.repeat(64), probesSha256: 'c'.repeat(64) } });
}

/** The text of the document with tags removed and entities decoded, whitespace collapsed. */
function text(markup: string): string {
  return markup
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

function tabletopRecord(): RunRecord {
  return makeRunRecord({
    type: 'tabletop',
    environment: 'sandbox',
    measured: { rto: null, rpo: null },
    verdict: { rto: 'not-measured', rpo: 'not-measured', rtoMarginSeconds: null, rpoMarginSeconds: null },
    targets: { rtoSeconds: null, rpoSeconds: null, source: 'plan' },
    t0: null,
    faults: [],
    checks: [],
    dataIntegrity: { restorePoint: null, backup: null, notes: [] },
    restoredCopy: null,
    findings: [],
    remediation: [],
    teardown: { complete: true, undos: [], deletions: [], recoveredBy: null },
    probeSummary: { attempts: 0, failures: 0, file: 'probes.csv' },
  });
}

describe('renderHtml', () => {
  it('titles the report and shows the environment in a coloured banner', () => {
    const staging = html();
    expect(staging).toContain('<title>Recovery drill evidence — orders-db-failover</title>');
    expect(staging).toMatch(/class="env-banner env-staging">Environment: staging — non-production \(not the live system\)</);
    expect(html(makeRunRecord({ environment: 'production' }))).toMatch(/env-banner env-production">Environment: production — production \(the live system\)/);
    expect(html(makeRunRecord({ environment: 'sandbox' }))).toMatch(/env-banner env-other">Environment: sandbox — sandbox \(a rehearsal on a stand-in, not the live system\)/);
    // The class the run recorded wins over the name: a plan may declare `live-eu` as production.
    expect(html(makeRunRecord({ environment: 'live-eu', environmentClass: 'production' }))).toMatch(/env-banner env-production">Environment: live-eu — production/);
    expect(staging).toContain('7f3c2a91-4b6e-4d1a-9c2f-0e8d5b6a1c34');
    expect(staging).toMatch(/class="badge passed">Passed</);
  });

  it('classifies environments for the banner', () => {
    expect(['production', 'Production', 'prod', 'prod-eu'].map(environmentClass)).toEqual(Array(4).fill('production'));
    expect(['staging', 'stage', 'staging-2'].map(environmentClass)).toEqual(Array(3).fill('staging'));
    expect(['sandbox', 'product-demo', 'dev'].map(environmentClass)).toEqual(Array(3).fill('other'));
  });

  it('shows targets vs measured with error bounds, verdicts and margins', () => {
    const page = text(html());
    expect(page).toContain('RTO 900 s 12.34 s ± 0.26 s met 887.66 s under target');
    expect(page).toContain('RPO 60 s 0.4 s ± 0.1 s met 59.6 s under target');
    expect(page).toContain('3 acknowledged writes lost (missing seq 46–48)');
    expect(page).toContain('first of 3 consecutive successful writes through the recovery endpoint');
    expect(page).toMatch(/action issued 2026-11-26T17:00:06.223Z \+1.1 s/);

    const missed = text(
      html(makeRunRecord({ outcome: 'failed', targets: { rtoSeconds: 10 }, verdict: { rto: 'missed', rtoMarginSeconds: -2.34 } })),
    );
    expect(missed).toContain('RTO 10 s 12.34 s ± 0.26 s missed 2.34 s over target');
  });

  it('has every section, in order, with the run data in it', () => {
    const page = text(html());
    const headings = [
      '1. Overview',
      '2. Participants',
      '3. Targets vs measured',
      '4. Timeline',
      '5. Data-integrity checks',
      '6. Production data copy handling',
      '7. Teardown',
      '8. After-action report and improvement plan (AAR/IP)',
      '9. Findings',
      '10. Control mapping',
      '11. Sign-off',
      '12. Integrity',
    ];
    const positions = headings.map((heading) => page.indexOf(heading));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);

    // Overview
    expect(page).toContain('a3f1c9e2b7d4058e6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70');
    expect(page).toContain('acme-continuity version 2026.3');
    expect(page).toContain('orders-db — tier 1, owner team-payments');
    expect(page).toContain('Time source system clock (chrony');
    expect(page).toContain('Operator ana.sre@example.com');
    expect(page).toContain('drillbook 0.1.0');
    // Participants with attendance
    expect(page).toContain('Chloé Martin continuity manager absent');
    expect(page).toContain('Ana Silva drill lead (SRE) present');
    // Timeline: UTC, seconds since T0, phase, event
    expect(page).toContain('2026-11-26T17:00:06.223Z +1.1 s recover promote standby issued');
    expect(page).toContain('2026-11-26T17:00:00.123Z −5 s prepare run started');
    // Checks
    expect(page).toContain('orders row count row-count >= 10000 10412 pass');
    expect(page).toContain('Backup used base backup 2026-11-26T03:00:00Z');
    // Data copy and teardown
    expect(page).toContain('Masking applied none (staging data contains no personal data)');
    expect(page).toContain('data directory no longer exists: passed; port 54331 refuses connections: passed');
    expect(page).toContain('restart the stopped primary as a standby done');
    expect(page).toContain('drillbook recover was not needed');
    // Observations, findings, remediation
    expect(page).toContain('Standby promotion was issued 1.1 s after T0 by automation.');
    expect(page).toContain('R-2026-001 Evaluate synchronous_commit=remote_apply for orders Re-run the drill after the fix team-payments 2026-11-26 2027-01-25 P3 open');
    expect(page).toContain('The remediation register was not consulted for this run.');
    // AAR/IP: a measured drill's objectives are rated from its verdicts.
    expect(page).toMatch(/Recover within the RTO \(900 s\) P performed without challenges derived from the measured RTO/);
    // Sign-off and integrity
    expect(page).toMatch(/Review status when this report was sealed: pending ?\. A review comes after sealing and never changes this bundle: it is recorded in signoffs\.jsonl beside this report/);
    expect(page).toContain('drillbook report <run dir> shows the current status');
    expect(page).toContain('a'.repeat(64));
    expect(page).toContain('manifest.json in this run directory holds the sha256 of every file');
  });

  it('maps the run to every control, the data-copy controls only when production data was copied', () => {
    const page = text(html());
    for (const control of ['A1.2', 'A1.3', 'CC7.5', 'CC9.1', '8.5', 'A.5.30', 'A.8.13', 'A.8.10', 'A.8.11', 'A.8.33', '§3.5']) {
      expect(page).toContain(control);
    }
    const withCopy = controlMapping(makeRunRecord()).map((c) => c.control);
    expect(withCopy).toEqual(['A1.2', 'A1.3', 'CC7.5', 'CC9.1', '8.5', 'A.5.30', 'A.8.13', 'A.8.10', 'A.8.11', 'A.8.33', '§3.5']);
    const withoutCopy = controlMapping(makeRunRecord({ restoredCopy: null })).map((c) => c.control);
    expect(withoutCopy).toEqual(['A1.2', 'A1.3', 'CC7.5', 'CC9.1', '8.5', 'A.5.30', 'A.8.13', '§3.5']);
    const a13 = controlMapping(makeRunRecord()).find((c) => c.control === 'A1.3')!;
    expect(a13.evidence).toContain('measured RTO 12.34 s ± 0.26 s against a 900 s target (met)');
  });

  it('states "not applicable" or "no copy" instead of leaving sections out', () => {
    const page = text(html(tabletopRecord(), []));
    expect(page).toContain('No copy of data was made.');
    expect(page).toContain('No checks: not applicable to this test type.');
    expect(page).toContain('No recovery phases: not applicable to this test type.');
    expect(page).toContain('no probe timeline: not applicable to this test type');
    expect(page).toContain('No findings.');
    expect(page).not.toContain('A.8.10');
    expect(page).toContain('10. Control mapping');
  });

  it('escapes hostile text from the run everywhere, charts included', () => {
    const hostile = makeRunRecord({
      scenario: { name: `${SCRIPT}${IMG}` },
      environment: `production ${IMG}`,
      operator: IMG,
      participants: [{ name: SCRIPT, role: IMG, present: true }],
      checks: [{ name: `${SCRIPT} rows`, type: 'row-count', passed: false, expected: IMG, actual: '"><svg onload=alert(1)>' }],
      findings: [{ id: 'F-1', title: SCRIPT, kind: 'failed-check', severity: 'P1', detail: IMG }],
      observations: { strengths: [SCRIPT], improvements: [IMG] },
      measured: { rto: { phases: [{ name: SCRIPT, at: '2026-11-26T17:00:06.000Z', secondsAfterT0: 1 }] } },
      timeline: [{ at: '2026-11-26T17:00:06.000Z', mono: 6_000, event: IMG, detail: { output: SCRIPT } }],
    });
    const probes = makeProbes().map((p) => ({ ...p, probe: `${IMG}${p.probe}`, error: SCRIPT }));
    const page = html(hostile, probes);
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page).not.toMatch(/<svg onload/i);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    // Labels inside the SVG charts are escaped (Vega writes them as text and aria-labels).
    expect(page).toContain('aria-label="&lt;img src=x on…covery-write: ok at');

    const markdown = renderMarkdown(hostile, { probes });
    // Markdown escapes: the text is kept, but no `<` opens a tag.
    expect(markdown).not.toMatch(/(?<!\\)<script/i);
    expect(markdown).not.toMatch(/(?<!\\)<img/i);
    expect(markdown).toContain('\\<script\\>alert(1)\\</script\\>');
  });

  it('is self-contained: no external assets, no scripts', () => {
    const page = html();
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/\b(src|href|xlink:href)\s*=/i);
    expect(page).not.toMatch(/@import|url\(/i);
    expect(page).not.toMatch(/<script|<link|<iframe|<object/i);
    expect(page.match(/<svg /g)).toHaveLength(2);
  });
});

describe('renderMarkdown', () => {
  it('carries the same content as tables that survive hostile cell text', () => {
    const markdown = renderMarkdown(makeRunRecord({ participants: [{ name: 'A | B', role: 'line\nbreak', present: true }] }), { probes: makeProbes() });
    expect(markdown).toMatch(/^# Recovery drill evidence — orders-db-failover/);
    expect(markdown).toContain('**Environment: staging**');
    expect(markdown).toContain('| RTO | 900 s | 12.34 s | ± 0.26 s | **met** | 887.66 s under target |');
    expect(markdown).toContain('| A \\| B | line break | present |');
    expect(markdown).toContain('| orders row count | row-count | \\>= 10000 | 10412 | **pass** |');
    for (const heading of ['## 1. Overview', '## 6. Production data copy handling', '## 10. Control mapping', '## 11. Sign-off', '## 12. Integrity']) {
      expect(markdown).toContain(heading);
    }
    expect(markdown).toContain('The remediation register was not consulted for this run.');
    expect(markdown).toContain('## 8. After-action report and improvement plan (AAR/IP)');
    expect(renderMarkdown(tabletopRecord(), { probes: [] })).toContain('No copy of data was made.');
  });
});

describe('charts', () => {
  it('escapeXml escapes every character that could open markup or an attribute', () => {
    expect(escapeXml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('draws one tick per probe attempt, coloured by outcome, and the RTO target', () => {
    const probes = makeProbes();
    const svg = probeTimelineSvg({ probes, t0Mono: 5_000, markers: [{ label: 'T0', seconds: 0, kind: 't0' }], targetRtoSeconds: 20 });
    const attempts = /<g class="mark-rect role-mark attempt_marks"[^>]*>(.*?)<\/g>/.exec(svg)![1]!;
    expect(attempts.match(/<path [^>]*fill="#2e7d32"/g)).toHaveLength(probes.filter((p) => p.ok).length);
    expect(attempts.match(/<path [^>]*fill="#c62828"/g)).toHaveLength(probes.filter((p) => !p.ok).length);
    expect(svg).toContain('stroke-dasharray="6,4"');
    expect(svg).toContain('target RTO 20 s');
    // A target far beyond the drill is pointed at rather than squashing the chart.
    expect(probeTimelineSvg({ probes, t0Mono: 5_000, markers: [], targetRtoSeconds: 900 })).toContain('target RTO 900 s →');
  });

  it('never emits NaN from bad numbers', () => {
    const svg = targetBarsSvg([{ label: 'RTO', measuredSeconds: Number.NaN, errorSeconds: Number.NaN, targetSeconds: 900, verdict: 'missed' }]);
    expect(svg).not.toContain('NaN');
    expect(svg).toContain('not measured');
  });
});

describe('rerender', () => {
  let evidenceDir: string;
  beforeEach(async () => {
    evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-render-'));
  });
  afterEach(async () => {
    await rm(evidenceDir, { recursive: true, force: true });
  });

  it('writes to exports/ and leaves the bundle verifiable', async () => {
    const bundle = await EvidenceBundle.create(evidenceDir, 'run-a');
    for (const probe of makeProbes()) await bundle.appendProbe(probe);
    const { manifestSha256 } = await bundle.finalize(makeRunRecord());

    const written = await rerender(bundle.dir, ['html', 'md', 'json']);
    expect(written.map((f) => path.relative(bundle.dir, f)).sort()).toEqual(['exports/report.html', 'exports/report.md', 'exports/run.json']);
    const exported = await readFile(path.join(bundle.dir, 'exports', 'report.html'), 'utf8');
    expect(exported).toContain(manifestSha256);
    expect(exported).toContain('12.34 s');
    expect(await verifyBundle(bundle.dir)).toMatchObject({ ok: true, manifestSha256 });
    expect((await verifyLedger(evidenceDir)).ok).toBe(true);

    const elsewhere = path.join(evidenceDir, 'out');
    await rerender(bundle.dir, ['md'], elsewhere);
    expect(await readdir(elsewhere)).toEqual(['report.md']);
  });

  it('throws EvidenceError for a missing directory, a missing run.json and an invalid one', async () => {
    await expect(rerender(path.join(evidenceDir, 'nope'), ['html'])).rejects.toThrow(EvidenceError);
    await expect(rerender(evidenceDir, ['html'])).rejects.toThrow(/run.json not found/);
    await writeFile(path.join(evidenceDir, 'run.json'), '{ not json');
    await expect(rerender(evidenceDir, ['html'])).rejects.toThrow(/not valid JSON/);
    await writeFile(path.join(evidenceDir, 'run.json'), JSON.stringify({ schema: 'something/else' }));
    await expect(rerender(evidenceDir, ['html'])).rejects.toThrow(/not a valid RunRecord: schema/);
  });
});

describe('packageRoot', () => {
  it('finds the drillbook package so templates load from source and from dist', () => {
    const root = packageRoot();
    expect(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).name).toBe('drillbook');
    expect(existsSync(path.join(root, 'reports', 'templates', 'report.html.hbs'))).toBe(true);
    expect(packageRoot(new URL(`file://${path.join(root, 'dist', 'reports', 'paths.js')}`).href)).toBe(root);
  });
});

describe('timeline: one time per moment', () => {
  /** The timeline table's rows: [UTC, since T0, phase, event]. */
  function timelineRows(page: string): string[][] {
    const section = page.slice(page.indexOf('<section id="timeline">'), page.indexOf('</section>', page.indexOf('<section id="timeline">')));
    return [...section.matchAll(/<tr>(<td[\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!.replace(/<div[\s\S]*$/, '')));
  }

  it('shows events in time order, even when one was stamped with an earlier measured instant', () => {
    const base = makeRunRecord();
    const t0 = base.t0!;
    const at = (mono: number) => new Date(Date.parse(t0.at) - t0.mono + mono).toISOString();
    // "endpoint ready" is stamped with its probe's end, but recorded after a later event.
    const timeline = [
      ...base.timeline.filter((e) => e.mono <= t0.mono),
      { at: at(t0.mono + 2_000), mono: t0.mono + 2_000, event: 'recovery action completed', phase: 'recover' as const },
      { at: at(t0.mono + 1_290), mono: t0.mono + 1_290, event: 'endpoint ready', phase: 'recover' as const },
      { at: at(40_000), mono: -1, event: 'evidence sealed by drillbook recover', phase: 'teardown' as const },
    ];
    const rows = timelineRows(html({ ...base, timeline }));
    expect(rows.map((r) => r[0])).toEqual([...rows.map((r) => r[0])].sort());
    const ready = rows.find((r) => r[3] === 'endpoint ready')!;
    expect(ready[0]).toBe(at(t0.mono + 1_290));
    expect(ready[1]).toBe('+1.29 s');
    // An event without a monotonic time is placed by its UTC stamp, not at "−5 s".
    expect(rows.find((r) => r[3] === 'evidence sealed by drillbook recover')![1]).toBe(`+${(40_000 - t0.mono) / 1000} s`);
  });
});
