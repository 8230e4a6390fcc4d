/**
 * `drillbook report <run dir> [--format html,md,json,junit,pdf] [--out DIR]`: re-renders a
 * run from its run.json into `<run dir>/exports/` (outside the manifest, so the bundle stays
 * verifiable) or `--out`. Everything is checked before anything is written: unknown
 * formats, a missing or invalid run.json, a PDF without Chromium all exit 2 untouched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';

const SUPPORTED = ['html', 'md', 'json', 'junit', 'pdf'] as const;
type Format = (typeof SUPPORTED)[number];

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('re-render a run from its run.json: html, md, json, junit, pdf (into <run dir>/exports unless --out)')
    .argument('<run dir>')
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
      const { readRunRecord, EvidenceError, EXPORTS_DIR, HTML_REPORT_FILE } = await import('../../reports/evidence-files.js');
      const exportsModule = await import('../../reports/exports.js');
      let record;
      try {
        record = await readRunRecord(runDir);
      } catch (error) {
        err(`${runDir}: ${(error as Error).message}`);
        throw new Exit(EXIT.invalid);
      }
      let printer;
      if (wanted.includes('pdf')) {
        try {
          printer = await exportsModule.pdfPrinter();
        } catch (error) {
          err(`--format pdf: ${(error as Error).message}`);
          throw new Exit(EXIT.invalid);
        }
      }
      const target = options.out ?? path.join(runDir, EXPORTS_DIR);
      if (path.resolve(target) === path.resolve(runDir)) {
        err(`--out ${options.out}: that is the run directory itself; re-rendering there would overwrite files the manifest covers (leave --out away to write into ${path.join(runDir, EXPORTS_DIR)})`);
        throw new Exit(EXIT.invalid);
      }
      const { rerender } = await import('../../reports/render.js');
      const written: string[] = [];
      try {
        const rendered = wanted.filter((f): f is 'html' | 'md' => f === 'html' || f === 'md');
        if (rendered.length > 0) written.push(...(await rerender(runDir, rendered, target)));
        if (wanted.includes('json')) written.push(await exportsModule.copyRunJson(runDir, target));
        if (wanted.includes('junit')) written.push(await exportsModule.writeJunit(record, target));
        if (printer) {
          const pdf = path.join(target, exportsModule.PDF_FILE);
          if (rendered.includes('html')) {
            written.push(await exportsModule.printPdf(path.join(target, HTML_REPORT_FILE), pdf, printer));
          } else {
            // The PDF is printed from a fresh rendering, not from the bundle's own report.html.
            const scratch = await mkdtemp(path.join(os.tmpdir(), 'drillbook-pdf-'));
            try {
              const [html] = await rerender(runDir, ['html'], scratch);
              written.push(await exportsModule.printPdf(html!, pdf, printer));
            } finally {
              await rm(scratch, { recursive: true, force: true });
            }
          }
        }
      } catch (error) {
        if (error instanceof EvidenceError) {
          err(`${runDir}: ${error.message}`);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }
      for (const file of written) out(file);
    });
}
