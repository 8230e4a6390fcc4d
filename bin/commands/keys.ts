/**
 * `drillbook keys generate --out DIR [--name NAME]` and
 * `drillbook keys export-public --key file:PATH [--out FILE]`: Ed25519 signing keys for
 * evidence; `drillbook keys rotate --from REF --to REF|unsigned --evidence DIR` hands the
 * ledger over to a new key. The private key never appears in output; it is used by reference only
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

  keys
    .command('rotate')
    .description('append a key-rotation line to the ledger, signed by the old key, naming the new key: later runs signed by the new key (or unsigned) then verify')
    .requiredOption('--from <reference>', 'the key that signs the ledger\'s runs now: file:PATH or env:VARIABLE (private key)')
    .requiredOption('--to <reference>', 'the new key: a public key file (file:PATH.pub.pem), a private key reference, or "unsigned" to stop signing')
    .requiredOption('--evidence <dir>', 'the evidence directory whose ledger.jsonl to rotate')
    .action(async (options: { from: string; to: string; evidence: string }) => {
      const { EvidenceError, pathExists } = await import('../../reports/evidence-files.js');
      const { appendKeyRotation, UNSIGNED_KEY_ID } = await import('../../reports/evidence.js');
      const { loadSigningKey, parsePublicKeyPem } = await import('../../reports/signing.js');
      const { readFile } = await import('node:fs/promises');
      let flag = '--from';
      try {
        if (!(await pathExists(options.evidence))) throw new EvidenceError(`--evidence ${options.evidence}: no such directory`);
        const from = await loadSigningKey(options.from);
        flag = '--to';
        let to: Parameters<typeof appendKeyRotation>[2];
        if (options.to.trim() === UNSIGNED_KEY_ID) to = UNSIGNED_KEY_ID;
        else {
          const file = options.to.startsWith('file:') ? options.to.slice('file:'.length) : undefined;
          const text = file === undefined ? undefined : await readFile(file, 'utf8').catch(() => undefined);
          // A public key file is enough (and is what a new signer hands over); a private key reference works too.
          if (text !== undefined && !text.includes('PRIVATE KEY')) {
            const key = parsePublicKeyPem(text);
            if (!key) throw new EvidenceError(`${options.to}: not a PEM Ed25519 public key (drillbook keys generate writes one)`);
            to = key;
          } else to = await loadSigningKey(options.to);
        }
        flag = '--evidence';
        const entry = await appendKeyRotation(options.evidence, from, to);
        out(`ledger line ${entry.seq}: key rotation from ${entry.fromKeyId} to ${entry.toKeyId}, signed by ${entry.fromKeyId}`);
        out(entry.toKeyId === UNSIGNED_KEY_ID ? 'runs after it may be unsigned' : `sign later runs with the new key; auditors pin it with: drillbook verify ${options.evidence} --trust <new public key>`);
      } catch (error) {
        if (error instanceof EvidenceError) {
          err(error.message.startsWith('--') ? error.message : `${flag}: ${error.message}`);
          throw new Exit(EXIT.invalid);
        }
        throw error;
      }
    });
}
