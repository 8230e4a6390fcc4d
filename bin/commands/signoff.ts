/**
 * `drillbook signoff <run dir> --reviewer NAME --decision accepted|accepted-with-findings|rejected --note TEXT
 * [--sign-key file:PATH]`: append a signed review record without altering the bundle.
 * Exit 0 recorded, 1 the bundle does not verify (nothing recorded), 2 bad input.
 */
import { Command, Option } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';

export function registerSignoff(program: Command): void {
  program
    .command('signoff')
    .description('append a signed review decision to a finished run (signoffs.jsonl + a ledger line); the bundle is not changed')
    .argument('<run dir>')
    .requiredOption('--reviewer <name>', 'who reviewed the evidence')
    .addOption(new Option('--decision <decision>', 'the review outcome').choices(['accepted', 'accepted-with-findings', 'rejected']).makeOptionMandatory())
    .requiredOption('--note <text>', 'what was reviewed and why this decision')
    .option('--sign-key <reference>', "the reviewer's private key: file:PATH or env:VARIABLE (default: $DRILLBOOK_SIGNING_KEY)")
    .action(async (runDir: string, options: { reviewer: string; decision: 'accepted' | 'accepted-with-findings' | 'rejected'; note: string; signKey?: string }) => {
      const { EvidenceError } = await import('../../reports/evidence-files.js');
      const { resolveSigningKey, SIGNING_KEY_ENV } = await import('../../reports/signing.js');
      const { appendSignoff, BundleNotIntactError } = await import('../../reports/signoff.js');
      try {
        const signingKey = await resolveSigningKey(options.signKey);
        if (!signingKey) {
          err(`a sign-off must be signed: pass --sign-key file:PATH (your private key) or set ${SIGNING_KEY_ENV}; drillbook keys generate makes one`);
          throw new Exit(EXIT.invalid);
        }
        const { record, file, ledgerEntry } = await appendSignoff(runDir, {
          reviewer: options.reviewer,
          decision: options.decision,
          note: options.note,
          signingKey,
        });
        out(`${record.decision.toUpperCase()} by ${record.reviewer} at ${record.at}, signed with key ${record.keyId}`);
        out(`reviewed manifest sha256 ${record.manifestSha256}`);
        out(`recorded: ${file} line ${record.seq}, ledger.jsonl line ${ledgerEntry.seq}`);
        // The sealed report.html cannot change; the exported one (exports/) shows the review.
        const { rerender } = await import('../../reports/render.js');
        try {
          const written = await rerender(runDir, ['html', 'md']);
          out(`re-rendered with the review status: ${written.join(', ')}`);
        } catch (error) {
          err(`warning: the sign-off is recorded, but the exported report was not re-rendered (${(error as Error).message}); run drillbook report ${runDir}`);
        }
      } catch (error) {
        if (error instanceof BundleNotIntactError) {
          err(error.message);
          throw new Exit(EXIT.findings);
        }
        if (error instanceof EvidenceError) {
          err(error.message);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }
    });
}
