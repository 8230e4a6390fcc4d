/**
 * `drillbook keys generate --out DIR [--name NAME]` and
 * `drillbook keys export-public --key file:PATH [--out FILE]`: Ed25519 signing keys for
 * evidence. The private key never appears in output; it is used by reference only
 * (`--sign-key file:PATH` or DRILLBOOK_SIGNING_KEY).
 */
import { Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('Ed25519 keys that sign evidence bundles, the ledger and sign-offs');

  keys
    .command('generate')
    .description('write a new key pair: <name>.key.pem (private, mode 0600) and <name>.pub.pem; prints the key id')
    .requiredOption('--out <dir>', 'directory for the two files (created if needed)')
    .option('--name <name>', 'file name stem', 'drillbook-signing')
    .action(async (options: { out: string; name: string }) => {
      const { EvidenceError } = await import('../../reports/evidence-files.js');
      const { generateKeyPairFiles, SIGNING_KEY_ENV } = await import('../../reports/signing.js');
      try {
        const pair = await generateKeyPairFiles(options.out, options.name);
        out(`key id: ${pair.keyId}`);
        out(`public key: ${pair.publicKeyFile}`);
        out(`private key: ${pair.privateKeyFile} (mode 0600: keep it secret, never commit it)`);
        out(`sign with: --sign-key file:${pair.privateKeyFile}  or  ${SIGNING_KEY_ENV}=file:${pair.privateKeyFile}`);
        out(`give auditors the public key; they pin it with: drillbook verify <dir> --trust ${pair.publicKeyFile}`);
      } catch (error) {
        if (error instanceof EvidenceError) {
          err(error.message);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }
    });

  keys
    .command('export-public')
    .description('print (or write) the public key of a private key given by reference; the key id goes to stderr')
    .requiredOption('--key <reference>', 'the private key: file:PATH or env:VARIABLE')
    .option('--out <file>', 'write the PEM to this file instead of stdout (never overwrites)')
    .action(async (options: { key: string; out?: string }) => {
      const { EvidenceError, pathExists, writeFileAtomic } = await import('../../reports/evidence-files.js');
      const { keyIdOf, loadSigningKey, publicKeyPem } = await import('../../reports/signing.js');
      try {
        const key = await loadSigningKey(options.key);
        const pem = publicKeyPem(key);
        if (options.out) {
          if (await pathExists(options.out)) throw new EvidenceError(`${options.out} already exists; refusing to overwrite it`);
          await writeFileAtomic(options.out, pem);
          out(`public key: ${options.out}`);
        } else process.stdout.write(pem);
        err(`key id: ${keyIdOf(key)}`);
      } catch (error) {
        if (error instanceof EvidenceError) {
          err(`--key: ${error.message}`);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }
    });
}
