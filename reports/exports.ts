/**
 * Exports of one run beyond the A1.3 report itself: JUnit XML for CI dashboards, run.json
 * as it is, and a PDF printed from the HTML report by headless Chromium.
 *
 * JUnit: one <testsuite> per run, one <testcase> per target (RTO, RPO) and per check. A
 * missed target or failed check is a <failure> with the figures in its message; a target
 * the run could not measure because it was aborted is an <error>; one that the test type
 * does not measure (a tabletop) is <skipped>.
 */
import { access, mkdir } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { escapeXml, formatSeconds } from './charts.js';
import { EvidenceError, RUN_FILE, writeFileAtomic } from './evidence-files.js';
import type { RunRecord } from './run-record.js';
import type { EvidenceSource } from './evidence/source-type.js';

export const JUNIT_FILE = 'junit.xml';
export const PDF_FILE = 'report.pdf';
/** Debian's package; `DRILLBOOK_CHROMIUM` names another binary. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking'];

// Characters XML 1.0 does not allow at all (not even escaped): C0 controls other than tab,
// LF, CR; U+FFFE/U+FFFF; lone surrogates. They become U+FFFD so the file stays well-formed.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text safe for XML content and attribute values. */
export function xmlText(value: unknown): string {
  return escapeXml(String(value ?? '').replace(XML_INVALID, '\uFFFD'));
}

interface Case {
  name: string;
  classname: string;
  time: number;
  failure?: { type: string; message: string; body: string };
  error?: { type: string; message: string; body: string };
  skipped?: string;
}

function targetCase(record: RunRecord, metric: 'rto' | 'rpo', classname: string): Case {
  const label = metric.toUpperCase();
  const target = metric === 'rto' ? record.targets.rtoSeconds : record.targets.rpoSeconds;
  const measured = record.measured[metric];
  const verdict = record.verdict[metric];
  const margin = metric === 'rto' ? record.verdict.rtoMarginSeconds : record.verdict.rpoMarginSeconds;
  const name = `${label} within target${target === null ? '' : ` (≤ ${formatSeconds(target)})`}`;
  const figure = measured ? `${formatSeconds(measured.seconds)} ± ${formatSeconds(measured.errorSeconds)}` : 'not measured';
  const c: Case = { name, classname, time: metric === 'rto' && measured ? measured.seconds : 0 };
  const lost = metric === 'rpo' && record.measured.rpo ? `; ${record.measured.rpo.lostWrites} acknowledged writes lost` : '';
  if (verdict === 'missed') {
    c.failure = {
      type: 'missed-target',
      message: `${label} missed: measured ${figure} vs target ${target === null ? '—' : formatSeconds(target)}${margin === null ? '' : ` (margin ${formatSeconds(margin)})`}${lost}`,
      body: measured && 'method' in measured ? String(measured.method) : '',
    };
  } else if (verdict === 'inconclusive') {
    // No pass without an outage (SPEC v1.1): a drill whose fault had no effect fails the suite.
    c.failure = { type: 'inconclusive', message: `${label} inconclusive: the fault had no observable effect`, body: record.disruption?.evidence ?? '' };
  } else if (verdict === 'not-measured') {
    if (record.outcome === 'aborted' || record.outcome === 'rollback-incomplete') {
      c.error = { type: record.outcome, message: `${label} not measured: the run ended ${record.outcome}${record.abort ? ` (${record.abort.reason})` : ''}`, body: record.error ?? '' };
    } else {
      c.skipped = `${label} is not measured by a ${record.type} test`;
    }
  }
  return c;
}

/** The run as a JUnit XML document (one test suite). */
export function junitXml(record: RunRecord): string {
  const classname = `drillbook.${record.system.name}.${record.scenario.name}`;
  const cases: Case[] = [targetCase(record, 'rto', classname), targetCase(record, 'rpo', classname)];
  for (const check of record.checks) {
    const c: Case = { name: `check: ${check.name}`, classname, time: 0 };
    if (!check.passed) {
      c.failure = { type: `failed-check:${check.type}`, message: `${check.name} failed: expected ${check.expected}, got ${check.actual}`, body: check.detail ?? '' };
    }
    cases.push(c);
  }
  const failures = cases.filter((c) => c.failure).length;
  const errors = cases.filter((c) => c.error).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const seconds = (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000;
  const time = Number.isFinite(seconds) && seconds >= 0 ? seconds.toFixed(3) : '0';
  const suiteName = `${record.scenario.name} (${record.type} of ${record.system.name}, environment ${record.environment})`;
  const properties: [string, string][] = [
    ['runId', record.runId],
    ['outcome', record.outcome],
    ['environment', record.environment],
    ['type', record.type],
    ['system', record.system.name],
    ['tier', String(record.system.tier)],
    ['plan', `${record.plan.name} ${record.plan.version}`],
    ['operator', record.operator],
    ['tool', `${record.tool.name} ${record.tool.version}`],
  ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="drillbook" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time}">`,
    `  <testsuite name="${xmlText(suiteName)}" id="${xmlText(record.runId)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time}" timestamp="${xmlText(record.startedAt.replace(/Z$/, ''))}" hostname="${xmlText(record.host)}">`,
    '    <properties>',
    ...properties.map(([name, value]) => `      <property name="${xmlText(name)}" value="${xmlText(value)}"/>`),
    '    </properties>',
  ];
  for (const c of cases) {
    const open = `    <testcase name="${xmlText(c.name)}" classname="${xmlText(c.classname)}" time="${c.time.toFixed(3)}"`;
    if (c.failure) {
      lines.push(`${open}>`, `      <failure type="${xmlText(c.failure.type)}" message="${xmlText(c.failure.message)}">${xmlText(c.failure.body)}</failure>`, '    </testcase>');
    } else if (c.error) {
      lines.push(`${open}>`, `      <error type="${xmlText(c.error.type)}" message="${xmlText(c.error.message)}">${xmlText(c.error.body)}</error>`, '    </testcase>');
    } else if (c.skipped !== undefined) {
      lines.push(`${open}>`, `      <skipped message="${xmlText(c.skipped)}"/>`, '    </testcase>');
    } else {
      lines.push(`${open}/>`);
    }
  }
  if (record.error) lines.push(`    <system-err>${xmlText(record.error)}</system-err>`);
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Write `<outDir>/junit.xml`. */
export async function writeJunit(record: RunRecord, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, JUNIT_FILE);
  await writeFileAtomic(file, junitXml(record));
  return file;
}

/** Copy run.json of run `dir` of a source byte for byte (its sha256 stays the one in the manifest). */
export async function copyRunJson(source: EvidenceSource, dir: string, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, RUN_FILE);
  if (path.resolve(file) === path.resolve(source.locate(`${dir}/${RUN_FILE}`))) return file;
  const bytes = await source.read(`${dir}/${RUN_FILE}`);
  if (bytes === undefined) throw new EvidenceError(`${source.locate(`${dir}/${RUN_FILE}`)} not found`);
  await writeFileAtomic(file, bytes);
  return file;
}

// ---------------------------------------------------------------------------------------
// PDF

/** Chromium or playwright-core is not available; the message says how to install them. */
export class PdfUnavailableError extends EvidenceError {}

export function chromiumPath(): string {
  return process.env.DRILLBOOK_CHROMIUM || DEFAULT_CHROMIUM;
}

const INSTALL_HINT =
  'install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; or set DRILLBOOK_CHROMIUM to a Chromium binary) and playwright-core (`npm install playwright-core`)';

type ChromiumLauncher = {
  launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<{
    newPage(): Promise<{
      goto(url: string, options: { waitUntil: 'load' }): Promise<unknown>;
      pdf(options: { path: string; format: string; printBackground: boolean; margin: Record<string, string> }): Promise<unknown>;
    }>;
    close(): Promise<void>;
  }>;
};

/**
 * Check that a PDF can be printed here, before anything is written: the Chromium binary
 * exists and playwright-core loads. Returns the launcher.
 */
export async function pdfPrinter(): Promise<ChromiumLauncher> {
  const executable = chromiumPath();
  try {
    await access(executable, fsConstants.X_OK);
  } catch {
    throw new PdfUnavailableError(`PDF export needs headless Chromium, and ${executable} is not there: ${INSTALL_HINT}`);
  }
  try {
    // A devDependency of drillbook, optional for users: loaded only for --format pdf.
    const name = 'playwright-core';
    const module = (await import(name)) as { chromium: ChromiumLauncher };
    return module.chromium;
  } catch {
    throw new PdfUnavailableError(`PDF export needs the playwright-core package, which is not installed: ${INSTALL_HINT}`);
  }
}

/** Print an HTML file (self-contained) to PDF with headless Chromium. */
export async function printPdf(htmlFile: string, pdfFile: string, launcher?: ChromiumLauncher): Promise<string> {
  const chromium = launcher ?? (await pdfPrinter());
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(path.resolve(htmlFile)).href, { waitUntil: 'load' });
    await page.pdf({ path: pdfFile, format: 'A4', printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } });
  } finally {
    await browser.close();
  }
  return pdfFile;
}
