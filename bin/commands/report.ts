/**
 * `drillbook report <run dir | s3://bucket/prefix/<run dir>> [--format html,md,json,junit,pdf] [--out DIR]`:
 * re-renders a run from its run.json into `<run dir>/exports/` (outside the manifest, so the
 * bundle stays verifiable) or `--out`. A run in S3 is read in place (reports/evidence/source.ts)
 * and rendered locally, to `--out` or `./exports/<run dir>`: the bundle in S3 is never
 * written. Everything is checked before anything is written: unknown formats, a missing or
 * invalid run.json, a PDF without Chromium all exit 2 untouched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { EvidenceSource } from '../../reports/evidence/source.js';
import type { RunRecord } from '../../reports/run-record.js';
import { EXIT, Exit, err, out } from '../cli-common.js';
import { withEvidenceSource } from './evidence-source.js';

const SUPPORTED = ['html', 'md', 'json', 'junit', 'pdf'] as const;
type Format = (typeof SUPPORTED)[number];

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('re-render a run from its run.json: html, md, json, junit, pdf (into <run dir>/exports unless --out)')
    .argument('<run dir>', 'a run directory, or s3://bucket/prefix/<run dir> (read in place; written to --out, default ./exports/<run dir>)')
    .option('--format <formats>', `comma-separated: ${SUPPORTED.join(',')}`, 'html,md')
    .option('--out <dir>', 'output directory')
    .action(async (runDir: string, options: { format: string; out?: string }) => {
      const formats = [...new Set(options.format.split(',').map((f) => f.trim()).filter(Boolean))];
      const unknown = formats.filter((f) => !(SUPPORTED as readonly string[]).includes(f));
      if (unknown.length > 0 || formats.length === 0) {
        err(`--format: ${unknown.length ? `${unknown.join(', ')} not supported` : 'no format given'} (supported: ${SUPPORTED.join(', ')})`);
        throw new Exit(EXIT.invalid);
      }
      const wanted = formats as Format[];
      const { readRunRecord, EXPORTS_DIR } = await import('../../reports/evidence-files.js');
      const { localEvidenceSource, readRunRecordFrom } = await import('../../reports/evidence/source.js');
      if (/^s3:\/\//i.test(runDir.trim())) {
        const trimmed = runDir.trim().replace(/\/+$/, '');
        const cut = trimmed.lastIndexOf('/');
        if (!trimmed.slice('s3://'.length).includes('/')) {
          err(`${runDir}: give the run's location, s3://bucket/prefix/<run dir>`);
          throw new Exit(EXIT.invalid);
        }
        const dir = trimmed.slice(cut + 1);
        await withEvidenceSource(trimmed.slice(0, cut), async (source) => {
          const record = await recordOrExit(runDir, () => readRunRecordFrom(source, dir));
          await renderRun(source, dir, record, wanted, options.out ?? path.join(EXPORTS_DIR, dir), runDir);
        });
        return;
      }
      const record = await recordOrExit(runDir, () => readRunRecord(runDir));
      const target = options.out ?? path.join(runDir, EXPORTS_DIR);
      if (path.resolve(target) === path.resolve(runDir)) {
        err(`--out ${options.out}: that is the run directory itself; re-rendering there would overwrite files the manifest covers (leave --out away to write into ${path.join(runDir, EXPORTS_DIR)})`);
        throw new Exit(EXIT.invalid);
      }
      const resolved = path.resolve(runDir);
      await renderRun(localEvidenceSource(path.dirname(resolved)), path.basename(resolved), record, wanted, target, runDir);
    });
}

async function recordOrExit(runDir: string, read: () => Promise<RunRecord>): Promise<RunRecord> {
  try {
    return await read();
  } catch (error) {
    err(`${runDir}: ${(error as Error).message}`);
    throw new Exit(EXIT.invalid);
  }
}

/** The formats of run `dir` of `source` into `target`; the files written go to stdout. */
async function renderRun(source: EvidenceSource, dir: string, record: RunRecord, wanted: Format[], target: string, shownAs: string): Promise<void> {
  const { EvidenceError, HTML_REPORT_FILE } = await import('../../reports/evidence-files.js');
  const exportsModule = await import('../../reports/exports.js');
  let printer;
  if (wanted.includes('pdf')) {
    try {
      printer = await exportsModule.pdfPrinter();
    } catch (error) {
      err(`--format pdf: ${(error as Error).message}`);
      throw new Exit(EXIT.invalid);
    }
  }
  const { rerenderFrom } = await import('../../reports/render.js');
  const written: string[] = [];
  try {
    const rendered = wanted.filter((f): f is 'html' | 'md' => f === 'html' || f === 'md');
    if (rendered.length > 0) written.push(...(await rerenderFrom(source, dir, rendered, target, record)));
    if (wanted.includes('json')) written.push(await exportsModule.copyRunJson(source, dir, target));
    if (wanted.includes('junit')) written.push(await exportsModule.writeJunit(record, target));
    if (printer) {
      const pdf = path.join(target, exportsModule.PDF_FILE);
      if (rendered.includes('html')) {
        written.push(await exportsModule.printPdf(path.join(target, HTML_REPORT_FILE), pdf, printer));
      } else {
        // The PDF is printed from a fresh rendering, not from the bundle's own report.html.
        const scratch = await mkdtemp(path.join(os.tmpdir(), 'drillbook-pdf-'));
        try {
          const [html] = await rerenderFrom(source, dir, ['html'], scratch, record);
          written.push(await exportsModule.printPdf(html!, pdf, printer));
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
      }
    }
  } catch (error) {
    if (error instanceof EvidenceError) {
      err(`${shownAs}: ${error.message}`);
      throw new Exit(EXIT.invalid);
    }
    throw error;
  }
  for (const file of written) out(file);
}
