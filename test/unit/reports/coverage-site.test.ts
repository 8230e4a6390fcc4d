/**
 * The static site without a browser (the browser tests check it in Chromium): pages written,
 * reports copied byte for byte, everything from runs escaped, the filter script the only one
 * the CSP allows, remediation items listed, and the evidence directory left alone.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSite } from '../../../reports/site/build.js';
import { runCli } from '../../helpers/cli.js';
import { INDEX_SCRIPT } from '../../../reports/site/pages.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadPlan } from '../../../scenarios/load.js';
import { FIXTURE_RUNS, NOW, PLAN, fixtureRecord, writeFixtureEvidence } from '../../fixtures/coverage/evidence.js';

const HOSTILE = '<img src=x onerror=alert(1)>';
let work: string;
let evidence: string;
let dirs: string[];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-site-'));
  evidence = path.join(work, 'evidence');
  dirs = writeFixtureEvidence(evidence);
  // A report in every bundle but the last; a hostile scenario name in the first run.
  dirs.slice(0, -1).forEach((dir, i) => fs.writeFileSync(path.join(evidence, dir, 'report.html'), `<!DOCTYPE html><p>report ${i}</p>`));
  const first = JSON.parse(fs.readFileSync(path.join(evidence, dirs[0]!, 'run.json'), 'utf8'));
  first.scenario.name = HOSTILE;
  first.environment = '"><script>alert(2)</script>';
  fs.writeFileSync(path.join(evidence, dirs[0]!, 'run.json'), JSON.stringify(first));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('buildSite', () => {
  it('writes the pages, copies each report, escapes run text, and changes nothing in the evidence', async () => {
    const before = fs.readdirSync(evidence, { recursive: true }).sort();
    const plan = (await loadPlan(PLAN, new Diagnostics()))!.plan;
    const out = path.join(work, 'site');
    const result = await buildSite(evidence, out, { plan, now: new Date(NOW) });
    expect(result.runs).toBe(FIXTURE_RUNS.length);
    expect(result.reportsCopied).toBe(FIXTURE_RUNS.length - 1);
    expect(result.reportsMissing).toEqual([dirs.at(-1)]);
    expect(fs.readdirSync(out).sort()).toEqual(['coverage.html', 'index.html', 'remediation.html', 'runs', 'trends.html']);
    expect(fs.readFileSync(path.join(out, 'runs', dirs[1]!, 'report.html'), 'utf8')).toBe('<!DOCTYPE html><p>report 1</p>');
    expect(fs.readdirSync(evidence, { recursive: true }).sort()).toEqual(before);

    const index = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(index.match(/<tr data-system=/g)).toHaveLength(FIXTURE_RUNS.length);
    expect(index).not.toContain('<img');
    expect(index).not.toContain('<script>alert');
    expect(index).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    // The one script is allowed by its hash; nothing else may run.
    const hash = createHash('sha256').update(INDEX_SCRIPT).digest('base64');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(index)![1]!.replaceAll('&#x27;', "'").replaceAll('&#x3D;', '=');
    expect(csp).toBe(`default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'`);
    expect(index).toContain(`<script>${INDEX_SCRIPT}</script>`);
    expect(index.match(/<script/g)).toHaveLength(1);
    for (const page of ['index.html', 'coverage.html', 'trends.html', 'remediation.html']) {
      const html = fs.readFileSync(path.join(out, page), 'utf8');
      expect(html, page).not.toMatch(/(src|href)="(https?:)?\/\//);
      expect(html, page).toContain("default-src &#x27;none&#x27;");
    }
    const remediation = fs.readFileSync(path.join(out, 'remediation.html'), 'utf8');
    // Every fixture run carries the fixture's one open item, due 2027-01-25 (not overdue at NOW).
    expect(remediation.match(/<tr data-system=/g)).toHaveLength(FIXTURE_RUNS.length);
    expect(remediation).toContain(fixtureRecord(FIXTURE_RUNS[1]!, 1).remediation[0]!.title.replaceAll("=", "&#x3D;"));
  });

  it('refuses to write the site inside the evidence directory', async () => {
    await expect(buildSite(evidence, path.join(evidence, 'site'))).rejects.toThrow(/inside the evidence directory/);
    expect(fs.existsSync(path.join(evidence, 'site'))).toBe(false);
  });

  it('drillbook site: bad input exits 2 with a clear message and writes nothing', async () => {
    const inside = await runCli(['site', evidence, path.join(evidence, 'site')]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain('is inside the evidence directory');
    const out = path.join(work, 'never');
    const missing = await runCli(['site', path.join(work, 'nope'), out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such directory');
    const badPlan = await runCli(['site', evidence, out, '--plan', path.join(path.dirname(PLAN), 'plan-invalid.yaml')]);
    expect(badPlan.code).toBe(2);
    expect(badPlan.stderr).toMatch(/plan-invalid\.yaml:6:\d+: spec\.systems\[0\]\.tier: /);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(path.join(evidence, 'site'))).toBe(false);
  });
});
