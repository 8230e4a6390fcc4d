/**
 * The static site and a report in real headless Chromium (Debian's, through playwright-core):
 * key figures visible, charts rendered with a size, filters narrowing the run index, and a
 * scenario name carrying `<img src=x onerror=…>` executing nothing. Writes the screenshots
 * the README points to (docs/screenshots/).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle, runDirName } from '../../reports/evidence.js';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { makeRunRecord } from '../helpers/run-record-fixture.js';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium, warnSkipped } from './chromium.js';

const skipReason = ensureChromium();
if (skipReason) warnSkipped(skipReason);
const browserIt = skipReason ? it.skip : it;

const NOW = '2026-11-26T18:00:00.000Z';
const HOSTILE_SCENARIO = '<img src=x onerror=alert(document.domain)>';
const HOSTILE_ENV = '"><img src=x onerror="window.__pwned=1">';
const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');

let work: string;
let evidence: string;
let site: string;
let browser: Browser | undefined;
const runs: RunRecord[] = [];

function record(i: number, overrides: Parameters<typeof makeRunRecord>[0]): RunRecord {
  const r = makeRunRecord(overrides);
  return { ...r, runId: `${String(i).padStart(8, '0')}-4b6e-4d1a-9c2f-0e8d5b6a1c34` };
}

async function writeBundle(r: RunRecord): Promise<void> {
  const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(r.startedAt), r.scenario.name, r.runId), { now: () => new Date(r.endedAt) });
  await bundle.finalize(r);
  runs.push(r);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-browser-'));
  evidence = path.join(work, 'evidence');
  site = path.join(work, 'site');
  // Three systems, passed and failed runs over two months, one run with hostile text.
  await writeBundle(record(1, { startedAt: '2026-09-20T10:00:00.000Z', endedAt: '2026-09-20T10:01:00.000Z', measured: { rto: { seconds: 20.5 } } }));
  await writeBundle(
    record(2, {
      startedAt: '2026-10-15T10:00:00.000Z',
      endedAt: '2026-10-15T10:01:00.000Z',
      outcome: 'failed',
      targets: { rtoSeconds: 30 },
      measured: { rto: { seconds: 41.7 } },
      verdict: { rto: 'missed', rtoMarginSeconds: -11.7 },
    }),
  );
  await writeBundle(record(3, { startedAt: '2026-11-20T10:00:00.000Z', endedAt: '2026-11-20T10:01:00.000Z' }));
  await writeBundle(
    record(4, {
      startedAt: '2026-11-21T10:00:00.000Z',
      endedAt: '2026-11-21T10:01:00.000Z',
      type: 'parallel-restore',
      scenario: { name: HOSTILE_SCENARIO, description: HOSTILE_SCENARIO },
      environment: HOSTILE_ENV,
      environmentClass: 'production',
      system: { name: 'payments-db', tier: 1, owner: 'team-payments' },
      measured: { rto: { seconds: 64.2 }, rpo: { seconds: 2.5 } },
    }),
  );
  await writeBundle(record(5, { startedAt: '2026-11-22T10:00:00.000Z', endedAt: '2026-11-22T10:01:00.000Z', system: { name: 'reporting-db', tier: 3, owner: 'data-team' }, type: 'tabletop' }));
  const plan = path.join(work, 'plan.yaml');
  fs.writeFileSync(
    plan,
    [
      'apiVersion: drillbook.dev/v1',
      'kind: ContinuityPlan',
      'metadata: { name: acme-continuity, version: "2026.3" }',
      'spec:',
      '  systems:',
      '    - { name: orders-db, tier: 1, rto: 15m, rpo: 1m, owner: team-payments }',
      '    - { name: payments-db, tier: 1, rto: 15m, rpo: 1m, owner: team-payments }',
      '    - { name: reporting-db, tier: 3, rto: 24h, rpo: 24h, owner: data-team }',
      '  testPolicy:',
      '    "1": { tabletop: 365d, parallel-restore: 90d, failover: 180d }',
      '    "3": { tabletop: 365d }',
      // Only runs of the live system are coverage: the staging runs count because the plan says staging is production-equivalent.
      '  environments:',
      '    staging: { class: non-production, productionEquivalent: true }',
      '    production: { class: production }',
      '',
    ].join('\n'),
  );
  // Relative paths and a fixed --now: the pages (and so the screenshots) do not change from run to run.
  const built = await runCli(['site', 'evidence', 'site', '--plan', 'plan.yaml', '--now', NOW], { cwd: work });
  expect(built.code, built.stderr).toBe(0);
  if (!skipReason) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A page that records anything an injection could cause: dialogs, page errors, console errors. */
async function openPage(file: string): Promise<{ page: Page; incidents: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const incidents: string[] = [];
  page.on('dialog', (dialog) => {
    incidents.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => incidents.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') incidents.push(`console error: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (!request.url().startsWith('file:') && !request.url().startsWith('data:')) incidents.push(`network request: ${request.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, incidents };
}

async function assertNothingInjected(page: Page, incidents: string[]): Promise<void> {
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
  await page.waitForTimeout(200); // an onerror fires asynchronously after the failed load
  expect(incidents).toEqual([]);
}

async function visibleRows(page: Page): Promise<string[]> {
  return page.locator('#runs tbody tr:visible').evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { system: string } }).dataset.system));
}

describe('static site in Chromium', () => {
  browserIt('index: key figures visible, filters narrow the rows, screenshot', async () => {
    const { page, incidents } = await openPage(path.join(site, 'index.html'));
    await expect(page.locator('#total-runs').textContent()).resolves.toBe('5');
    await expect(page.locator('#shown').textContent()).resolves.toBe('5');
    expect(await page.locator('#runs tbody tr').count()).toBe(5);
    const firstFailover = page.locator('#runs tbody tr', { hasText: '2026-10-15' });
    await expect(firstFailover.textContent()).resolves.toMatch(/41\.7s \/ 30s/);
    expect(await firstFailover.locator('.missed').count()).toBe(1);
    expect(await page.locator('#runs tbody tr', { hasText: '2026-11-20' }).textContent()).toMatch(/12\.34s \/ 15m/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'site-index.png'), fullPage: true });

    await page.selectOption('select[name="system"]', 'payments-db');
    expect(await visibleRows(page)).toEqual(['payments-db']);
    await expect(page.locator('#shown').textContent()).resolves.toBe('1');

    await page.selectOption('select[name="system"]', '');
    await page.selectOption('select[name="outcome"]', 'failed');
    expect(await visibleRows(page)).toEqual(['orders-db']);

    await page.selectOption('select[name="outcome"]', '');
    await page.fill('input[name="from"]', '2026-11-01');
    await page.fill('input[name="to"]', '2026-11-21');
    expect((await visibleRows(page)).sort()).toEqual(['orders-db', 'payments-db']);
    await page.selectOption('select[name="type"]', 'failover');
    expect(await visibleRows(page)).toEqual(['orders-db']);

    await page.click('button[type="reset"]');
    await expect.poll(async () => (await visibleRows(page)).length).toBe(5);
    await assertNothingInjected(page, incidents);
    await page.close();
  });

  browserIt('a run report opened from the index shows its figures and charts', async () => {
    const { page, incidents } = await openPage(path.join(site, 'index.html'));
    await page.locator('#runs tbody tr', { hasText: '2026-11-20' }).getByRole('link', { name: 'report' }).click();
    await page.waitForLoadState('load');
    expect(page.url()).toMatch(/\/runs\/.+\/report\.html$/);
    const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('12.34 s');
    expect(text).toMatch(/Environment: staging/i);
    const charts = page.locator('svg');
    expect(await charts.count()).toBeGreaterThan(0);
    for (const box of await Promise.all((await charts.all()).map((c) => c.boundingBox()))) {
      expect(box!.width).toBeGreaterThan(100);
      expect(box!.height).toBeGreaterThan(20);
    }
    // The probe timeline's marker labels (T0, phases, recovered) do not overlap, as laid out by the browser.
    const labels = await page.locator('svg.probe-timeline g.concat_0_group text').evaluateAll((nodes) =>
      nodes.map((n) => {
        const r = (n as unknown as { getBoundingClientRect(): { left: number; right: number; top: number; bottom: number } }).getBoundingClientRect();
        return { text: (n as unknown as { textContent: string }).textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      }),
    );
    expect(labels.length).toBeGreaterThanOrEqual(2);
    for (const a of labels) {
      for (const b of labels) {
        if (a === b) continue;
        const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        expect(overlap, `${a.text} overlaps ${b.text}`).toBe(false);
      }
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'report.png'), fullPage: true });
    await page.locator('svg.probe-timeline').screenshot({ path: path.join(SCREENSHOTS, 'report-probe-timeline.png') });
    await assertNothingInjected(page, incidents);
    await page.close();
  });

  browserIt('trends: one chart per system and metric, with a size, one point per run and failure markers', async () => {
    const { page, incidents } = await openPage(path.join(site, 'trends.html'));
    const charts = page.locator('svg.trend');
    expect(await charts.count()).toBe(6); // orders-db, payments-db, reporting-db × RTO, RPO
    for (const box of await Promise.all((await charts.all()).map((c) => c.boundingBox()))) {
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.height).toBeGreaterThan(100);
    }
    // Vega-Lite marks: passed runs in g.point_marks, failures in g.failure_marks.
    const orders = page.locator('section[data-system="orders-db"] svg.trend').first();
    expect(await orders.locator('g.point_marks > path').count()).toBe(2);
    expect(await orders.locator('g.failure_marks > path').count()).toBe(1);
    const point = await orders.locator('g.point_marks > path').first().boundingBox();
    expect(point!.width).toBeGreaterThan(0);
    // The time axis states its zone; the reporting-db tabletop is not drawn as a 0 s point.
    expect(await orders.locator('text', { hasText: 'run start (UTC)' }).count()).toBe(1);
    const reporting = page.locator('section[data-system="reporting-db"] svg.trend').first();
    expect(await reporting.locator('g.point_marks > path, g.failure_marks > path').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'trends.png'), fullPage: true });
    await assertNothingInjected(page, incidents);
    await page.close();
  });

  browserIt('coverage page: statuses per system and type, screenshot', async () => {
    const { page, incidents } = await openPage(path.join(site, 'coverage.html'));
    const status = (system: string, type: string) => page.locator(`#coverage tr[data-system="${system}"][data-type="${type}"]`).getAttribute('data-status');
    await expect(status('orders-db', 'failover')).resolves.toBe('covered');
    await expect(status('payments-db', 'parallel-restore')).resolves.toBe('covered');
    await expect(status('orders-db', 'tabletop')).resolves.toBe('never-tested');
    await expect(status('reporting-db', 'tabletop')).resolves.toBe('covered');
    await expect(page.locator('[data-count="never-tested"]').textContent()).resolves.toBe('4');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'coverage.png'), fullPage: true });
    await assertNothingInjected(page, incidents);
    await page.close();
  });

  browserIt('the hostile scenario name executes nothing, on its report and on every site page', async () => {
    const hostileDir = fs.readdirSync(path.join(site, 'runs')).find((d) => d.includes('img-src'))!;
    expect(hostileDir).toBeDefined();
    for (const file of ['index.html', 'trends.html', 'coverage.html', 'remediation.html', path.join('runs', hostileDir, 'report.html')]) {
      const { page, incidents } = await openPage(path.join(site, file));
      await assertNothingInjected(page, incidents);
      if (file === 'index.html' || file.endsWith('report.html')) {
        // The text is shown as text.
        expect(await page.locator('body').innerText()).toContain(HOSTILE_SCENARIO);
      }
      await page.close();
    }
  });

  browserIt('the injection detector itself sees a real injection (control)', async () => {
    const control = path.join(work, 'control.html');
    fs.writeFileSync(control, `<!DOCTYPE html><html><body><p>${HOSTILE_SCENARIO}</p></body></html>`);
    const { page, incidents } = await openPage(control);
    await expect.poll(() => incidents.some((i) => i.startsWith('dialog: '))).toBe(true);
    expect(await page.locator('img[src="x"]').count()).toBe(1);
    await page.close();
  });

  browserIt('report --format pdf prints the report with Chromium', async () => {
    const runDir = path.join(evidence, fs.readdirSync(evidence).find((d) => d.startsWith('2026-11-20'))!);
    const out = path.join(work, 'pdf');
    const result = await runCli(['report', runDir, '--format', 'pdf', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const pdf = fs.readFileSync(path.join(out, 'report.pdf'));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
  });
});
