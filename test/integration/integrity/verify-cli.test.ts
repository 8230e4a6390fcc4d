/**
 * The integrity commands as a user runs them (the built CLI in its own process): keys,
 * verify with and without pinned keys, on clean and tampered evidence, and signoff.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, loadSigningKey } from '../../../reports/signing.js';
import { runCli } from '../../helpers/cli.js';
import { buildEvidence } from './evidence-fixture.js';

let work: string;
let evidence: string;
let runs: string[];
let keyId: string;
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'drillbook-integrity-cli-'));
  const generated = await runCli(['keys', 'generate', '--out', path.join(work, 'keys'), '--name', 'ops']);
  expect(generated.code, generated.stderr).toBe(0);
  keyId = /key id: ([0-9a-f]{16})/.exec(generated.stdout)![1]!;
  const key = await loadSigningKey(`file:${path.join(work, 'keys', 'ops.key.pem')}`);
  expect(keyIdOf(key)).toBe(keyId);
  evidence = path.join(work, 'evidence');
  runs = await buildEvidence(evidence, { runs: 2, signingKey: key });
  await runCli(['keys', 'generate', '--out', path.join(work, 'keys'), '--name', 'stranger']);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function copyOf(change: (dir: string) => void): string {
  const dir = path.join(work, `copy-${Math.random().toString(16).slice(2)}`);
  cpSync(evidence, dir, { recursive: true });
  change(dir);
  return dir;
}

describe('drillbook keys', () => {
  it('generate prints the key id and paths, never the private key; export-public prints the same public key', async () => {
    const generated = await runCli(['keys', 'generate', '--out', path.join(work, 'k2')]);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/key id: [0-9a-f]{16}\npublic key: .*drillbook-signing\.pub\.pem/);
    const privatePem = readFileSync(path.join(work, 'k2', 'drillbook-signing.key.pem'), 'utf8');
    expect(generated.stdout + generated.stderr).not.toContain(privatePem.split('\n')[1]!);

    const exported = await runCli(['keys', 'export-public', '--key', `file:${path.join(work, 'keys', 'ops.key.pem')}`]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe(readFileSync(path.join(work, 'keys', 'ops.pub.pem'), 'utf8'));
    expect(exported.stderr).toContain(`key id: ${keyId}`);

    const inline = await runCli(['keys', 'export-public', '--key', privatePem]);
    expect(inline.code).toBe(2);
    expect(inline.stderr).toContain('inline keys are refused');
    expect(inline.stderr).not.toContain(privatePem.split('\n')[1]!);
    const again = await runCli(['keys', 'generate', '--out', path.join(work, 'k2')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('refusing to overwrite');
  });
});

describe('drillbook verify', () => {
  it('exit 0 on clean evidence: every run signed, the chain intact; pinned to the right key too', async () => {
    const result = await runCli(['verify', evidence]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${runs[0]}: intact, signed by key ${keyId}`);
    expect(result.stdout).toMatch(/chain intact \(2 runs\)/);
    expect(result.stdout).toContain(`signatures: 2 signed (key ${keyId}), 0 unsigned`);
    const pinned = await runCli(['verify', path.join(evidence, runs[1]!), '--trust', path.join(work, 'keys', 'ops.pub.pem')]);
    expect(pinned.code, pinned.stderr).toBe(0);
  });

  it('exit 1 naming an unknown key when another key is pinned', async () => {
    const result = await runCli(['verify', evidence, '--trust', path.join(work, 'keys', 'stranger.pub.pem')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`signed by an unknown key ${keyId}: it is not among the --trust keys`);
  });

  it('exit 1 naming a changed file, a swapped signature and reordered ledger lines', async () => {
    const changed = copyOf((dir) => {
      const file = path.join(dir, runs[1]!, 'report.md');
      writeFileSync(file, readFileSync(file, 'utf8').replace('RTO', 'RT0'));
    });
    let result = await runCli(['verify', changed]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${runs[1]}: NOT INTACT`);
    expect(result.stderr).toContain('changed: report.md');

    const swapped = copyOf((dir) => cpSync(path.join(dir, runs[0]!, 'manifest.sig'), path.join(dir, runs[1]!, 'manifest.sig')));
    result = await runCli(['verify', swapped]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`signature invalid: manifest.sig does not verify manifest.json with key ${keyId}`);

    const reordered = copyOf((dir) => {
      const ledger = path.join(dir, 'ledger.jsonl');
      const [a, b] = readFileSync(ledger, 'utf8').trim().split('\n');
      writeFileSync(ledger, `${b}\n${a}\n`);
    });
    result = await runCli(['verify', reordered]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ledger.jsonl: CHAIN BROKEN');
    expect(result.stderr).toMatch(/line 1: seq is 2, expected 1/);
    noStackTrace(result.stderr);
  });

  it('exit 2 for bad usage, with one clear line', async () => {
    const missing = await runCli(['verify', path.join(work, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such directory');
    const badTrust = await runCli(['verify', evidence, '--trust', path.join(work, 'none.pem')]);
    expect(badTrust.code).toBe(2);
    expect(badTrust.stderr).toContain('--trust');
    const privateTrust = await runCli(['verify', evidence, '--trust', path.join(work, 'keys', 'ops.key.pem')]);
    expect(privateTrust.code).toBe(2);
    expect(privateTrust.stderr).toContain('this is a private key');
    const notDir = await runCli(['verify', path.join(evidence, 'ledger.jsonl')]);
    expect(notDir.code).toBe(2);
    noStackTrace(missing.stderr + badTrust.stderr + notDir.stderr);
  });
});

describe('drillbook signoff', () => {
  it('records a signed decision that verify then checks; refuses unsigned, tampered and bad input', async () => {
    const dir = copyOf(() => undefined);
    const runDir = path.join(dir, runs[0]!);
    const base = ['signoff', runDir, '--reviewer', 'Dana Lee', '--decision', 'accepted', '--note', 'RTO and RPO within targets'];

    const unsigned = await runCli(base, { env: { DRILLBOOK_SIGNING_KEY: '' } });
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain('a sign-off must be signed');

    const badDecision = await runCli([...base.slice(0, 5), '--decision', 'maybe', '--note', 'x', '--sign-key', `file:${path.join(work, 'keys', 'ops.key.pem')}`]);
    expect(badDecision.code).toBe(2);

    const signed = await runCli(base, { env: { DRILLBOOK_SIGNING_KEY: `file:${path.join(work, 'keys', 'stranger.key.pem')}` } });
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toMatch(/ACCEPTED by Dana Lee at \d{4}-\d{2}-\d{2}T.*Z, signed with key [0-9a-f]{16}/);
    const verified = await runCli(['verify', dir]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('1 sign-off');
    expect(verified.stdout).toMatch(/chain intact \(2 runs, 1 sign-off\)/);

    writeFileSync(path.join(runDir, 'run.json'), readFileSync(path.join(runDir, 'run.json'), 'utf8').replace('"passed"', '"failed"'));
    const tampered = await runCli([...base, '--sign-key', `file:${path.join(work, 'keys', 'ops.key.pem')}`]);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('does not verify, so it cannot be signed off: changed: run.json');
  });
});
