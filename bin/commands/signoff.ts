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
    .option('--upload <s3://bucket/prefix>', 'also append the sign-off to the S3 evidence store the run was uploaded to, and record it in its shared ledger chain')
    .action(async (runDir: string, options: { reviewer: string; decision: 'accepted' | 'accepted-with-findings' | 'rejected'; note: string; signKey?: string; upload?: string }) => {
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
        if (options.upload !== undefined) await uploadSignoffs(runDir, options.upload, signingKey);
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

/** `--upload`: the run's sign-offs S3 does not hold yet, into the store's signoffs.jsonl and its chain. */
async function uploadSignoffs(runDir: string, location: string, signingKey: import('node:crypto').KeyObject): Promise<void> {
  const { parseEvidenceTarget } = await import('../../reports/upload-s3.js');
  const { uploadS3Signoffs } = await import('../../reports/evidence/s3-append.js');
  const { defaultS3Client } = await import('../../reports/evidence/s3-client.js');
  const { EvidenceError } = await import('../../reports/evidence-files.js');
  const target = parseEvidenceTarget(location);
  if (target.kind !== 's3') throw new EvidenceError(`--upload ${location}: give s3://bucket/prefix`);
  const client = defaultS3Client();
  try {
    const lines = await uploadS3Signoffs(client, target, runDir, { signingKey });
    out(`uploaded to s3://${target.bucket}/${target.prefix}: ${lines.map((line) => line.key).join(', ') || 'nothing new'}`);
  } catch (error) {
    err(`SIGN-OFF NOT UPLOADED (it is recorded locally): ${(error as Error).message}`);
    throw new Exit(EXIT.incomplete);
  } finally {
    client.destroy();
  }
}
