/**
 * The by-hand check of the README ("Checking evidence by hand"), run verbatim: the shell blocks are read out of
 * the document (one source of truth) and executed with bash against a fresh evidence
 * directory, where they must pass, and tampered copies, where they must fail.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../../reports/signing.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { buildEvidence, newKey } from './evidence-fixture.js';

const DOC = path.join(REPO_ROOT, 'README.md');

/** The ```sh block right after `<!-- verification-test: NAME -->`. */
function docBlock(name: string): string {
  const text = readFileSync(DOC, 'utf8');
  const match = new RegExp(`<!-- verification-test: ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(text);
  if (!match) throw new Error(`README.md has no block marked verification-test: ${name}`);
  return match[1]!;
}

function runBlock(name: string, cwd: string) {
  const result = spawnSync('bash', ['-c', docBlock(name)], { cwd, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

const missingTools = ['openssl', 'sha256sum', 'bash'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missingTools.length > 0) {
  console.warn(`\n*** SKIPPING the by-hand verification test: ${missingTools.join(', ')} not installed ***\n`);
}

let root: string;
let evidence: string;
let runs: string[];
const key = newKey();

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'drillbook-manual-verify-'));
  evidence = path.join(root, 'evidence');
  runs = await buildEvidence(evidence, { runs: 2, signingKey: key });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tamperedCopy(change: (dir: string) => void): string {
  const dir = path.join(root, `tampered-${Math.random().toString(16).slice(2)}`);
  cpSync(evidence, dir, { recursive: true });
  change(dir);
  return dir;
}

function flipByte(file: string, offset: number): void {
  const bytes = readFileSync(file);
  bytes[offset] = bytes[offset]! ^ 0x01;
  writeFileSync(file, bytes);
}

describe.skipIf(missingTools.length > 0)('the by-hand verification in the README', () => {
  it('passes on a fresh signed bundle and prints the signer key id', () => {
    const runDir = path.join(evidence, runs[0]!);
    const keyId = runBlock('key-id', runDir);
    expect(keyId.code).toBe(0);
    expect(keyId.output.trim()).toBe(keyIdOf(key));
    const bundle = runBlock('run-dir', runDir);
    expect(bundle.code, bundle.output).toBe(0);
    expect(bundle.output.match(/Signature Verified Successfully/g)).toHaveLength(2);
    expect(bundle.output).toContain('run.json: OK');
    expect(bundle.output).toContain('manifest.json: OK');
    expect(bundle.output).toContain('BUNDLE INTACT');
    const ledger = runBlock('ledger', evidence);
    expect(ledger.code, ledger.output).toBe(0);
    expect(ledger.output).toContain('LEDGER INTACT: 2 lines chained');
  });

  it('fails on a flipped byte in a data file', () => {
    const dir = tamperedCopy((d) => flipByte(path.join(d, runs[0]!, 'report.md'), 40));
    const result = runBlock('run-dir', path.join(dir, runs[0]!));
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/report\.md: FAILED/);
    expect(result.output).not.toContain('BUNDLE INTACT');
  });

  it('fails when the manifest and SHA256SUMS were rewritten to match a changed file (the signatures catch it)', () => {
    const dir = tamperedCopy((d) => {
      const runDir = path.join(d, runs[0]!);
      const runJson = path.join(runDir, 'run.json');
      writeFileSync(runJson, readFileSync(runJson, 'utf8').replace('"outcome": "passed"', '"outcome": "failed"'));
      const sha = spawnSync('sha256sum', ['run.json'], { cwd: runDir, encoding: 'utf8' }).stdout.slice(0, 64);
      const sums = readFileSync(path.join(runDir, 'SHA256SUMS'), 'utf8').replace(/^[0-9a-f]{64}(?=  run\.json$)/m, sha);
      writeFileSync(path.join(runDir, 'SHA256SUMS'), sums);
    });
    const result = runBlock('run-dir', path.join(dir, runs[0]!));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('Signature Verification Failure');
  });

  it('fails when a signature is swapped in from another run', () => {
    const dir = tamperedCopy((d) => cpSync(path.join(d, runs[1]!, 'manifest.sig'), path.join(d, runs[0]!, 'manifest.sig')));
    const result = runBlock('run-dir', path.join(dir, runs[0]!));
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('Signature Verification Failure');
  });

  it('the ledger block fails on an edited line and on a manifest that is not the chained one', () => {
    const edited = tamperedCopy((d) => {
      const ledger = path.join(d, 'ledger.jsonl');
      writeFileSync(ledger, readFileSync(ledger, 'utf8').replace('"seq":1,', '"seq":1 ,'));
    });
    const chain = runBlock('ledger', edited);
    expect(chain.code).not.toBe(0);
    expect(chain.output).toContain('ledger.jsonl line 2: broken link');

    const resealed = tamperedCopy((d) => writeFileSync(path.join(d, runs[1]!, 'manifest.json'), '{}\n'));
    const manifest = runBlock('ledger', resealed);
    expect(manifest.code).not.toBe(0);
    expect(manifest.output).toContain(`${runs[1]}: its manifest.json is not the one in the ledger`);
  });
});
