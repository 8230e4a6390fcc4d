/**
 * `drillbook verify <evidence dir | run dir> [--trust PUBKEY.pem ...]`: every file hash,
 * SHA256SUMS, every signature (bundles, ledger lines, sign-offs), the whole ledger chain and
 * its signer continuity, and the remediation register's chain, naming exactly what fails. Exit 0 intact, 1 not intact, 2 bad usage.
 */
import type { Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** The ledger lines of each `--anchor` file (one or more lines); a file that holds none is bad usage. */
async function readAnchors(files: string[]): Promise<{ source: string; line: string }[]> {
  const { readFile } = await import('node:fs/promises');
  const { EvidenceError } = await import('../../reports/evidence-files.js');
  const anchors: { source: string; line: string }[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new EvidenceError(`--anchor ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
    }
    const lines = text.split('\n').filter((line) => line !== '');
    lines.forEach((line, index) => {
      let seq: unknown;
      try {
        seq = (JSON.parse(line) as { seq?: unknown } | null)?.seq;
      } catch {
        seq = undefined;
      }
      if (typeof seq !== 'number') throw new EvidenceError(`--anchor ${file}:${index + 1}: not a ledger line (a JSON object with a seq)`);
      anchors.push({ source: lines.length === 1 ? file : `${file}:${index + 1}`, line });
    });
    if (lines.length === 0) throw new EvidenceError(`--anchor ${file}: the file is empty; it should hold a copy of a ledger line`);
  }
  return anchors;
}

/** The --tsa-ca file: PEM certificate text, or bad usage. */
async function readTsaCa(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { EvidenceError } = await import('../../reports/evidence-files.js');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new EvidenceError(`--tsa-ca ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new EvidenceError(`--tsa-ca ${file}: not a PEM certificate (no BEGIN CERTIFICATE block)`);
  return text;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every file hash, every signature, the whole ledger chain and its signer, and the remediation register\'s chain, of a run or an evidence directory (0 intact, 1 not, 2 bad usage)')
    .argument('<dir>', 'an evidence directory, one run directory, or s3://bucket/prefix (read in place)')
    .option('--trust <pubkey.pem>', 'pin a public key (repeatable): every run, ledger line and sign-off must then be signed by a pinned key', collect, [])
    .option('--anchor <file>', 'a copy of ledger lines kept elsewhere (repeatable; e.g. `tail -1 ledger.jsonl` saved after each run, or the S3 upload\'s ledger/ objects): each must still be in the ledger at its seq, which detects removed newest runs', collect, [])
    .option('--tsa-ca <ca.pem>', "the CA certificate(s) of the TSA (PEM): each manifest.tsr's RFC 3161 signature must chain to it")
    .action(async (dir: string, options: { trust: string[]; anchor: string[]; tsaCa?: string }) => {
      const { readTrustedKeys } = await import('../../reports/signing.js');
      const { EvidenceError, formatProblem, verifyEvidence } = await import('../../reports/evidence.js');
      let result;
      let trust;
      try {
        trust = await readTrustedKeys(options.trust);
        const anchors = await readAnchors(options.anchor);
        const tsaCaPem = options.tsaCa === undefined ? undefined : await readTsaCa(options.tsaCa);
        const verifyOptions = { trust, ...(anchors.length > 0 ? { anchors } : {}) };
        if (/^s3:\/\//i.test(dir)) {
          // S3-native: the shared chain and each run's objects, read in place (verify-s3.ts).
          const { parseEvidenceTarget } = await import('../../reports/upload-s3.js');
          const { verifyS3Evidence } = await import('../../reports/evidence/verify-s3.js');
          const { defaultS3Client } = await import('../../reports/evidence/s3-client.js');
          const target = parseEvidenceTarget(dir);
          if (target.kind !== 's3') throw new EvidenceError(`${dir}: not an s3:// location`);
          const client = defaultS3Client();
          try {
            result = await verifyS3Evidence(client, target, verifyOptions);
          } finally {
            client.destroy();
          }
        } else result = await verifyEvidence(dir, { ...verifyOptions, ...(tsaCaPem ? { tsaCaPem } : {}) });
      } catch (error) {
        if (error instanceof EvidenceError) {
          err(error.message);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }

      for (const run of result.runs) {
        const own = result.problems.filter((p) => p.subject === run.name);
        if (run.status === 'intact') {
          const signature = run.signature.status === 'signed' ? `signed by key ${run.signature.keyId}` : 'unsigned (hashes and chain checked; no signature)';
          const signoffs = run.signoffs > 0 ? `, ${run.signoffs} sign-off${run.signoffs === 1 ? '' : 's'}` : '';
          out(`${run.runDir}: intact, ${signature}${signoffs} (manifest sha256 ${run.manifestSha256})`);
          const ts = run.timestamp;
          if (ts?.status === 'verified' || ts?.status === 'stamped') {
            out(`  timestamp: manifest.json stamped by ${ts.tsa} at ${ts.genTime} (RFC 3161; ${ts.status === 'verified' ? 'signature verified against --tsa-ca' : 'digest checked; give --tsa-ca to check the TSA signature'})`);
          } else if (ts?.status === 'not-obtained') out(`  timestamp: none: the TSA ${ts.tsa} failed at seal (${ts.error})`);
        } else {
          err(`${run.runDir}: ${run.status === 'unfinished' ? 'UNFINISHED' : 'NOT INTACT'}`);
          for (const problem of own) err(`  - ${problem.message}`);
        }
      }
      const ledgerProblems = result.problems.filter((p) => p.subject === 'ledger.jsonl');
      if (result.ledger) {
        if (ledgerProblems.length === 0) {
          const signoffs = result.ledger.signoffs.length;
          const rotations = result.ledger.rotations.map((r) => `key ${r.fromKeyId} → ${r.toKeyId} at line ${r.line}`);
          out(
            `${result.ledger.ledgerFile}: chain intact (${result.ledger.runs.length} runs${signoffs > 0 ? `, ${signoffs} sign-off${signoffs === 1 ? '' : 's'}` : ''}` +
              `${rotations.length > 0 ? `; rotated ${rotations.join(', ')}` : ''})`,
          );
        } else {
          err(`${result.ledger.ledgerFile}: CHAIN BROKEN`);
          for (const problem of ledgerProblems) {
            const located = problem.line === undefined || problem.message.startsWith(`line ${problem.line} `);
            err(`  - ${located ? '' : `line ${problem.line}: `}${problem.message}`);
          }
        }
      } else for (const problem of ledgerProblems) err(formatProblem(problem));
      const registerProblems = result.problems.filter((p) => p.subject === 'remediation.jsonl');
      if (result.register) {
        if (registerProblems.length === 0) out(`${result.register.file}: chain intact (${result.register.events} events)`);
        else {
          err(`${result.register.file}: CHAIN BROKEN`);
          for (const problem of registerProblems) err(`  - ${problem.message}`);
        }
      }
      for (const note of result.notes) out(`note: ${note}`);

      const finished = result.runs.filter((r) => r.status !== 'unfinished');
      const signed = finished.filter((r) => r.signature.status === 'signed');
      const unsigned = finished.filter((r) => r.signature.status === 'unsigned');
      const failed = finished.length - signed.length - unsigned.length;
      const keys = [...new Set(signed.map((r) => r.signature.keyId))];
      out(
        `signatures: ${signed.length} signed${keys.length > 0 ? ` (key${keys.length === 1 ? '' : 's'} ${keys.join(', ')})` : ''}, ${unsigned.length} unsigned` +
          (failed > 0 ? `, ${failed} invalid or untrusted` : '') +
          (trust.length > 0 ? `; pinned: ${trust.map((k) => `${k.keyId} (${k.source})`).join(', ')}` : ''),
      );
      if (!result.ok) {
        err(`verify: NOT INTACT: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
        throw new Exit(EXIT.findings);
      }
      out('verify: intact');
    });
}
