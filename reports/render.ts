/**
 * Renders a RunRecord into the A1.3 evidence report (HTML and Markdown) through Handlebars
 * templates in reports/templates, from the one view model of report-view.ts: at finalize
 * ({@link renderBundleReports}, whose files the bundle then seals) and on re-render.
 *
 * Escaping: the HTML template uses `{{ }}` only, which HTML-escapes every value; the one
 * exception is the SVG charts, built in charts.ts from numbers and escaped labels, and passed
 * as SafeString. The Markdown template is compiled without HTML escaping and passes every
 * value through `{{cell …}}` (Markdown escapes, report-text.ts markdownInline) or `{{code …}}`.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { escapeXml } from './charts.js';
import type { ReportFile } from './evidence/bundle.js';
import { runJsonText } from './evidence/bundle.js';
import {
  EXPORTS_DIR,
  EvidenceError,
  HTML_REPORT_FILE,
  MANIFEST_FILE,
  MARKDOWN_REPORT_FILE,
  PROBES_FILE,
  RUN_FILE,
  TIMELINE_FILE,
  parseProbesCsv,
  pathExists,
  readProbes,
  readRunRecord,
  sha256File,
  sha256Hex,
  writeFileAtomic,
} from './evidence-files.js';
import { templatesDir } from './paths.js';
import { markdownCode, markdownInline } from './report-text.js';
import { buildView, type RenderOptions } from './report-view.js';
import type { RunRecord } from './run-record.js';
import { keyIdOf, publicKeyPem, signatureInfoOf } from './signing.js';
import { localEvidenceSource, readRunRecordFrom, type EvidenceSource } from './evidence/source.js';

export type { IntegrityHashes, RenderOptions } from './report-view.js';
export { environmentClass } from './report-text.js';

/** A private Handlebars environment with the report templates compiled. */
export class ReportRenderer {
  private readonly htmlTemplate: Handlebars.TemplateDelegate;
  private readonly markdownTemplate: Handlebars.TemplateDelegate;
  private readonly handlebars: typeof Handlebars;

  constructor(templateDirectory: string = templatesDir()) {
    this.handlebars = Handlebars.create();
    this.handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    // Markdown only (the template is compiled without HTML escaping): every value goes through
    // `cell` (Markdown escapes: no link, HTML or formatting from data; one line) or `code`.
    this.handlebars.registerHelper('cell', (value: unknown) => markdownInline(value));
    this.handlebars.registerHelper('code', (value: unknown) => markdownCode(value));
    const read = (name: string) => readFileSync(path.join(templateDirectory, name), 'utf8');
    const compileOptions = { strict: false, preventIndent: true };
    this.htmlTemplate = this.handlebars.compile(read('report.html.hbs'), compileOptions);
    // Markdown is not HTML: entities such as `&#x27;` would show as noise in the .md file. The
    // template passes every value through `cell` or `code` instead (tested in render tests).
    this.markdownTemplate = this.handlebars.compile(read('report.md.hbs'), { ...compileOptions, noEscape: true });
  }

  html(record: RunRecord, options: RenderOptions): string {
    return this.htmlTemplate(buildView(record, options, (svg) => new this.handlebars.SafeString(svg)));
  }

  markdown(record: RunRecord, options: RenderOptions): string {
    return this.markdownTemplate(buildView(record, options, () => null));
  }
}

export function renderHtml(record: RunRecord, options: RenderOptions): string {
  return new ReportRenderer().html(record, options);
}

export function renderMarkdown(record: RunRecord, options: RenderOptions): string {
  return new ReportRenderer().markdown(record, options);
}

export interface RenderError {
  file: string;
  message: string;
}

/**
 * The reports of a run being finalized: report.html and report.md, rendered from the record
 * and the bundle's own timeline and probes (appenders closed), for the bundle to seal. A
 * renderer that fails gives a report that says so instead, and a RenderError: the run record
 * is never lost to a template.
 */
export async function renderBundleReports(
  runDir: string,
  record: RunRecord,
  signingKey?: KeyObject,
): Promise<{ reports: ReportFile[]; renderErrors: RenderError[] }> {
  const probesText = await readFile(path.join(runDir, PROBES_FILE), 'utf8');
  const options: RenderOptions = {
    probes: parseProbesCsv(probesText),
    integrity: {
      runJsonSha256: sha256Hex(runJsonText(record)),
      timelineSha256: (await sha256File(path.join(runDir, TIMELINE_FILE))).sha256,
      probesSha256: sha256Hex(probesText),
    },
  };
  if (signingKey) options.signer = { keyId: keyIdOf(signingKey), publicKeyPem: publicKeyPem(signingKey), status: 'signed' };
  const renderer = new ReportRenderer();
  const renderErrors: RenderError[] = [];
  const renders: [string, () => string][] = [
    [HTML_REPORT_FILE, () => renderer.html(record, options)],
    [MARKDOWN_REPORT_FILE, () => renderer.markdown(record, options)],
  ];
  const reports = renders.map(([file, render]): ReportFile => {
    try {
      return { file, content: render() };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      renderErrors.push({ file, message });
      return { file, content: `Rendering ${file} failed: ${message}\nThe run record is in ${RUN_FILE}; run \`drillbook report\` to retry.\n` };
    }
  });
  return { reports, renderErrors };
}

export type RerenderFormat = 'html' | 'md' | 'json';

/**
 * Re-render a finished (or recovered) run from its run.json and probes.csv into `outDir`,
 * by default `<runDir>/exports/`, which the manifest does not cover: re-rendering must
 * never change a verified bundle. Returns the files written.
 */
export async function rerender(runDir: string, formats: RerenderFormat[], outDir?: string): Promise<string[]> {
  if (!(await pathExists(runDir))) throw new EvidenceError(`run directory ${runDir} does not exist`);
  const resolved = path.resolve(runDir);
  const record = await readRunRecord(runDir);
  return rerenderFrom(localEvidenceSource(path.dirname(resolved)), path.basename(resolved), formats, outDir ?? path.join(runDir, EXPORTS_DIR), record);
}

/**
 * {@link rerender} of run directory `dir` of any evidence source (a directory, or S3 read in
 * place): its files are read from the source, the reports written to `outDir`.
 */
export async function rerenderFrom(source: EvidenceSource, dir: string, formats: RerenderFormat[], outDir: string, known?: RunRecord): Promise<string[]> {
  const read = (file: string) => source.read(`${dir}/${file}`);
  const record = known ?? (await readRunRecordFrom(source, dir));
  await refreshRemediation(record, source);
  const [runJson, timeline, probesCsv, manifest] = await Promise.all([RUN_FILE, TIMELINE_FILE, PROBES_FILE, MANIFEST_FILE].map((f) => read(f).catch(() => undefined)));
  const options: RenderOptions = { probes: probesCsv === undefined ? [] : parseProbesCsv(probesCsv.toString('utf8'), source.locate(`${dir}/${PROBES_FILE}`)) };
  if (runJson && timeline && probesCsv) {
    options.integrity = { runJsonSha256: sha256Hex(runJson), timelineSha256: sha256Hex(timeline), probesSha256: sha256Hex(probesCsv) };
  }
  if (manifest) options.manifest = { sha256: sha256Hex(manifest) };
  const { readSignoffsFrom } = await import('./signoff.js');
  const signature = await signatureInfoOf((file) => read(file).catch(() => undefined)).catch(() => null);
  if (signature && signature.status !== 'unsigned' && signature.keyId && signature.publicKeyPem) {
    options.signer = { keyId: signature.keyId, publicKeyPem: signature.publicKeyPem, status: signature.status, problem: signature.problem };
  }
  options.signoffs = await readSignoffsFrom(source, dir).catch(() => []);

  const target = outDir;
  await mkdir(target, { recursive: true });
  const renderer = formats.some((f) => f !== 'json') ? new ReportRenderer() : undefined;
  const written: string[] = [];
  for (const format of [...new Set(formats)]) {
    let file: string;
    let content: string;
    if (format === 'html') {
      file = HTML_REPORT_FILE;
      content = renderer!.html(record, options);
    } else if (format === 'md') {
      file = MARKDOWN_REPORT_FILE;
      content = renderer!.markdown(record, options);
    } else if (format === 'json') {
      file = RUN_FILE;
      content = runJsonText(record);
    } else {
      throw new EvidenceError(`unknown report format "${String(format)}": use html, md or json`);
    }
    const destination = path.join(target, file);
    await writeFileAtomic(destination, content);
    written.push(destination);
  }
  return written;
}

async function refreshRemediation(record: RunRecord, source: EvidenceSource): Promise<void> {
  const { REMEDIATION_FILE, closedAsText, earlierItemsIn, readRegisterFrom } = await import('./remediation.js');
  if ((await source.read(REMEDIATION_FILE)) === undefined) return;
  const now = new Date();
  const { items } = await readRegisterFrom(source, { now });
  record.earlierItems = earlierItemsIn(items, record);
  record.remediation = record.remediation.map((item) => {
    const current = items.find((i) => i.runId === record.runId && (i.id === item.id || i.id.startsWith(`${item.id}@`)));
    if (!current) return item;
    const refreshed = { ...item, status: current.status, owner: current.owner, due: current.due, severity: current.severity, correctiveAction: current.correctiveAction };
    return current.status === 'closed' ? { ...refreshed, closedAs: closedAsText(current) } : refreshed;
  });
  record.earlierItemsAsOf = now.toISOString();
}

export { escapeXml };
