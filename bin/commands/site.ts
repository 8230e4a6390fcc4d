/**
 * `drillbook site <evidence dir | s3://bucket/prefix> <out dir> [--plan FILE] [--from D --to D] [--now ISO]`:
 * writes the static evidence site (index of runs, each report, coverage, trends, open
 * remediation items). Exit 0 when written, 2 on bad input.
 */
import { Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';
import { evidenceDirOrExit, planOrExit, windowOrExit } from './coverage.js';
import { withEvidenceSource } from './evidence-source.js';

export function registerSite(program: Command): void {
  program
    .command('site')
    .description('write a static, self-contained site of the evidence: runs, reports, coverage, trends, remediation (0 / 2)')
    .argument('<evidence dir>', 'an evidence directory, or s3://bucket/prefix (read in place)')
    .argument('<out dir>')
    .option('--plan <file>', 'add the coverage page for this ContinuityPlan')
    .option('--from <date>', 'coverage window start, YYYY-MM-DD')
    .option('--to <date>', 'coverage window end, YYYY-MM-DD')
    .option('--now <iso>', 'compute ages as of this instant (reproducible sites, tests)')
    .action(async (evidenceDir: string, outDir: string, options: { plan?: string; from?: string; to?: string; now?: string }) => {
      const { window, now } = windowOrExit(options);
      const plan = options.plan ? await planOrExit(options.plan) : undefined;
      const { isS3Location } = await import('../../reports/evidence/source.js');
      if (!isS3Location(evidenceDir)) await evidenceDirOrExit(evidenceDir, 'evidence directory');
      const { buildSite } = await import('../../reports/site/build.js');
      const { EvidenceError } = await import('../../reports/evidence-files.js');
      const result = await withEvidenceSource(
        evidenceDir,
        async (source) => {
          try {
            return await buildSite(source, outDir, { plan, window, now });
          } catch (error) {
            if (error instanceof EvidenceError) {
              err(error.message);
              throw new Exit(EXIT.invalid);
            }
            throw error;
          }
        },
        'evidence directory',
      );
      for (const warning of result.warnings) err(`warning: ${warning}`);
      out(`site: ${result.pages.find((p) => p.endsWith('index.html'))}`);
      out(`  ${result.runs} runs, ${result.reportsCopied} reports copied${result.reportsMissing.length ? `, ${result.reportsMissing.length} without report.html` : ''}`);
      if (result.coverage) {
        const c = result.coverage.counts;
        out(`  coverage: ${c.covered} covered, ${c['due-soon']} due soon, ${c.overdue} overdue, ${c['never-tested']} never tested`);
      }
      out(`  remediation from ${result.remediationSource}`);
    });
}
