/**
 * Issue 13, finding 8: signed evidence could be downgraded without any key. The attacker
 * strips the newest run's signatures, recomputes its manifest and SHA256SUMS, and rewrites
 * the newest ledger line unsigned (or re-signs all of it with a key of their own); before
 * the fix `verify` without --trust said intact ("3 signed, 1 unsigned"). Now the ledger's
 * run lines keep one signer unless a key-rotation line signed by the old key hands over.
 *
 * The tampering is done here by hand, byte by byte, the way an attacker with write access
 * and no key would do it; nothing of drillbook's sealing code is reused for it.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendKeyRotation, EvidenceBundle, formatProblem, runDirName, verifyEvidence } from '../../../reports/evidence.js';
import { keyIdOf, loadSigningKey } from '../../../reports/signing.js';
import { runCli } from '../../helpers/cli.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';
import { buildEvidence, newKey } from './evidence-fixture.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const pemOf = (key: KeyObject) => createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();

let work: string;
let evidence: string;
let runs: string[];
let ownerKey: KeyObject;
let ownerKeyId: string;
const keysDir = () => path.join(work, 'keys');

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'drillbook-downgrade-'));
  const generated = await runCli(['keys', 'generate', '--out', keysDir(), '--name', 'owner']);
  expect(generated.code, generated.stderr).toBe(0);
  for (const name of ['attacker', 'successor']) expect((await runCli(['keys', 'generate', '--out', keysDir(), '--name', name])).code).toBe(0);
  ownerKey = await loadSigningKey(`file:${path.join(keysDir(), 'owner.key.pem')}`);
  ownerKeyId = keyIdOf(ownerKey);
  evidence = path.join(work, 'evidence');
  runs = await buildEvidence(evidence, { runs: 4, signingKey: ownerKey });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function copyOfEvidence(): string {
  const dir = path.join(work, `copy-${Math.random().toString(16).slice(2)}`);
  cpSync(evidence, dir, { recursive: true });
  return dir;
}

/** Re-seal a run directory by hand: without a key (signatures stripped) or with another key. */
function resealRun(runDir: string, key: KeyObject | null): string {
  for (const file of ['manifest.sig', 'SHA256SUMS.sig']) rmSync(path.join(runDir, file), { force: true });
  const manifest = JSON.parse(readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as {
    signature?: { keyId: string };
    files: { path: string; sha256: string; bytes: number }[];
  };
  if (key === null) {
    unlinkSync(path.join(runDir, 'signer.pub.pem'));
    delete manifest.signature;
    manifest.files = manifest.files.filter((f) => f.path !== 'signer.pub.pem');
  } else {
    const pem = pemOf(key);
    writeFileSync(path.join(runDir, 'signer.pub.pem'), pem);
    manifest.signature!.keyId = keyIdOf(key);
    manifest.files = manifest.files.map((f) => (f.path === 'signer.pub.pem' ? { path: f.path, sha256: sha256(pem), bytes: Buffer.byteLength(pem) } : f));
  }
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  const sums = [...manifest.files.map((f) => ({ path: f.path, sha256: f.sha256 })), { path: 'manifest.json', sha256: sha256(manifestText) }]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
  writeFileSync(path.join(runDir, 'SHA256SUMS'), sums);
  writeFileSync(path.join(runDir, 'manifest.json'), manifestText);
  if (key !== null) {
    writeFileSync(path.join(runDir, 'manifest.sig'), sign(null, Buffer.from(manifestText), key));
    writeFileSync(path.join(runDir, 'SHA256SUMS.sig'), sign(null, Buffer.from(sums), key));
  }
  return sha256(manifestText);
}

/** Rewrite the newest ledger line for the re-sealed manifest: unsigned (new or legacy form) or signed by `key`. */
function rewriteNewestLedgerLine(evidenceDir: string, manifestSha256: string, as: KeyObject | 'unsigned' | 'legacy'): void {
  const file = path.join(evidenceDir, 'ledger.jsonl');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const { seq, runId, dir, at, prev } = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  const body: Record<string, unknown> = { seq, runId, dir, manifestSha256, at, prev };
  let line: string;
  if (as === 'legacy') line = JSON.stringify(body);
  else if (as === 'unsigned') line = JSON.stringify({ ...body, keyId: 'unsigned' });
  else {
    const unsignedText = JSON.stringify({ ...body, keyId: keyIdOf(as) });
    line = `${unsignedText.slice(0, -1)},"sig":"${sign(null, Buffer.from(unsignedText), as).toString('base64')}"}`;
  }
  lines[lines.length - 1] = line;
  writeFileSync(file, `${lines.join('\n')}\n`);
}

async function addRun(evidenceDir: string, index: number, signingKey: KeyObject | undefined): Promise<string> {
  const runId = `${(0x5e000000 + index).toString(16)}-4b6e-4d1a-9c1e-${String(index).padStart(12, '0')}`;
  const startedAt = new Date(Date.parse('2026-11-30T09:00:00.000Z') + index * 60_000);
  const record = makeRunRecord({ runId, startedAt: startedAt.toISOString() });
  const bundle = await EvidenceBundle.create(evidenceDir, runDirName(startedAt, record.scenario.name, runId), signingKey ? { signingKey } : {});
  for (const event of record.timeline.slice(0, 4)) await bundle.appendTimeline(event);
  await bundle.finalize(record);
  return bundle.dir;
}

describe('every ledger line names its signer', () => {
  it('signed lines carry the key id, unsigned lines "unsigned"; old lines without keyId read as legacy unsigned', async () => {
    for (const line of readFileSync(path.join(evidence, 'ledger.jsonl'), 'utf8').trim().split('\n')) {
      expect(JSON.parse(line)).toMatchObject({ keyId: ownerKeyId });
    }
    const plain = path.join(work, 'plain');
    await buildEvidence(plain, { runs: 2 });
    const lines = readFileSync(path.join(plain, 'ledger.jsonl'), 'utf8').trim().split('\n');
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(entry.keyId).toBe('unsigned');
      expect(entry).not.toHaveProperty('sig');
    }
    // A ledger written before lines named their signer: no keyId on unsigned lines.
    const legacy: string[] = [];
    for (const line of lines) {
      const { keyId: _dropped, ...rest } = JSON.parse(line) as Record<string, unknown>;
      if (legacy.length > 0) rest.prev = sha256(legacy[legacy.length - 1]!);
      legacy.push(JSON.stringify(rest));
    }
    // Manifest hashes still match: only the ledger's form is old.
    writeFileSync(path.join(plain, 'ledger.jsonl'), `${legacy.join('\n')}\n`);
    const result = await verifyEvidence(plain);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.ledger?.runs.map((r) => r.keyId)).toEqual([null, null]);
    // The next run appends in the new form after the legacy lines, and a signed run may follow unsigned ones.
    await addRun(plain, 1, newKey());
    const after = await verifyEvidence(plain);
    expect(after.problems.map(formatProblem)).toEqual([]);
  });
});

describe('finding 8: a signed ledger cannot be downgraded or re-signed without the old key', () => {
  it('clean evidence verifies', async () => {
    const result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual([]);
  });

  it('strip the newest run\'s signatures, recompute its manifest, rewrite its ledger line unsigned: verify fails at that line', async () => {
    for (const form of ['legacy', 'unsigned'] as const) {
      const dir = copyOfEvidence();
      const manifestSha256 = resealRun(path.join(dir, runs[3]!), null);
      rewriteNewestLedgerLine(dir, manifestSha256, form);
      const result = await verifyEvidence(dir);
      // The bundle on its own is a consistent unsigned bundle; only the ledger can tell.
      expect(result.runs.find((r) => r.name === runs[3])).toMatchObject({ status: 'intact', signature: { status: 'unsigned' } });
      expect(result.ok).toBe(false);
      expect(result.problems.map(formatProblem)).toEqual([
        `ledger.jsonl line 4: line 4 is unsigned, but the runs before it are signed by key ${ownerKeyId} (since line 1): signing stopped without a key-rotation line signed by ${ownerKeyId} (signatures stripped?)`,
      ]);

      const cli = await runCli(['verify', dir]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain('ledger.jsonl: CHAIN BROKEN');
      expect(cli.stderr).toContain(`line 4 is unsigned, but the runs before it are signed by key ${ownerKeyId}`);
    }
  });

  it('re-sign the newest run (bundle and ledger line) with another key: verify fails at that line', async () => {
    const dir = copyOfEvidence();
    const attacker = await loadSigningKey(`file:${path.join(keysDir(), 'attacker.key.pem')}`);
    const manifestSha256 = resealRun(path.join(dir, runs[3]!), attacker);
    rewriteNewestLedgerLine(dir, manifestSha256, attacker);
    const result = await verifyEvidence(dir);
    expect(result.runs.find((r) => r.name === runs[3])).toMatchObject({ status: 'intact', signature: { status: 'signed', keyId: keyIdOf(attacker) } });
    expect(result.problems.map(formatProblem)).toEqual([
      `ledger.jsonl line 4: line 4 is signed by key ${keyIdOf(attacker)}, but the runs before it are signed by key ${ownerKeyId} (since line 1): the key changed without a key-rotation line signed by ${ownerKeyId} (re-signed by another key?)`,
    ]);
    const cli = await runCli(['verify', dir]);
    expect(cli.code).toBe(1);
  });

  it('the attacker cannot forge the rotation: one signed by their own key, or claiming the owner\'s key id, fails', async () => {
    const attacker = await loadSigningKey(`file:${path.join(keysDir(), 'attacker.key.pem')}`);
    // appendKeyRotation itself refuses a key that does not sign the ledger.
    const refused = copyOfEvidence();
    await expect(appendKeyRotation(refused, attacker, attacker)).rejects.toThrow(`key ${keyIdOf(attacker)} does not sign this ledger's runs (key ${ownerKeyId} does)`);

    // By hand: a rotation line naming the owner's key as the old one, signed by the attacker.
    const dir = copyOfEvidence();
    const ledgerFile = path.join(dir, 'ledger.jsonl');
    const lines = readFileSync(ledgerFile, 'utf8').trim().split('\n');
    const body = {
      seq: 5,
      kind: 'key-rotation',
      fromKeyId: ownerKeyId,
      toKeyId: keyIdOf(attacker),
      publicKey: pemOf(ownerKey),
      toPublicKey: pemOf(attacker),
      at: '2026-11-30T08:00:00.000Z',
      prev: sha256(lines[3]!),
      keyId: ownerKeyId,
    };
    const text = JSON.stringify(body);
    writeFileSync(ledgerFile, `${lines.join('\n')}\n${text.slice(0, -1)},"sig":"${sign(null, Buffer.from(text), attacker).toString('base64')}"}\n`);
    await addRun(dir, 1, attacker);
    const result = await verifyEvidence(dir);
    expect(result.ok).toBe(false);
    expect(result.problems.map(formatProblem)).toContain(`ledger.jsonl line 5: line 5 was changed: its signature (key ${ownerKeyId}) does not verify`);
  });

  it('a proper rotation signed by the old key (keys rotate) lets the next runs be signed by the new key, or go unsigned', async () => {
    const dir = copyOfEvidence();
    const rotate = await runCli([
      'keys', 'rotate',
      '--from', `file:${path.join(keysDir(), 'owner.key.pem')}`,
      '--to', `file:${path.join(keysDir(), 'successor.pub.pem')}`,
      '--evidence', dir,
    ]);
    expect(rotate.code, rotate.stderr).toBe(0);
    const successor = await loadSigningKey(`file:${path.join(keysDir(), 'successor.key.pem')}`);
    expect(rotate.stdout).toContain(`ledger line 5: key rotation from ${ownerKeyId} to ${keyIdOf(successor)}`);
    await addRun(dir, 1, successor);
    let result = await verifyEvidence(dir);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.ledger?.rotations).toEqual([{ line: 5, fromKeyId: ownerKeyId, toKeyId: keyIdOf(successor) }]);
    let cli = await runCli(['verify', dir]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`rotated key ${ownerKeyId} → ${keyIdOf(successor)} at line 5`);
    // Both keys pinned: every line is signed by one of them.
    cli = await runCli(['verify', dir, '--trust', path.join(keysDir(), 'owner.pub.pem'), '--trust', path.join(keysDir(), 'successor.pub.pem')]);
    expect(cli.code, cli.stderr).toBe(0);

    // The old key after the rotation is a key change too.
    await addRun(dir, 2, ownerKey);
    result = await verifyEvidence(dir);
    expect(result.problems.map(formatProblem)).toEqual([
      `ledger.jsonl line 7: line 7 is signed by key ${ownerKeyId}, but the runs before it are signed by key ${keyIdOf(successor)} (since line 5): the key changed without a key-rotation line signed by ${keyIdOf(successor)} (re-signed by another key?)`,
    ]);

    // Rotating to unsigned, with the old key, allows unsigned runs.
    const plain = copyOfEvidence();
    const toUnsigned = await runCli(['keys', 'rotate', '--from', `file:${path.join(keysDir(), 'owner.key.pem')}`, '--to', 'unsigned', '--evidence', plain]);
    expect(toUnsigned.code, toUnsigned.stderr).toBe(0);
    await addRun(plain, 3, undefined);
    result = await verifyEvidence(plain);
    expect(result.problems.map(formatProblem)).toEqual([]);
  });

  it('keys rotate refuses, with exit 2 and nothing written, a --from key that does not sign the ledger, and bad references', async () => {
    const dir = copyOfEvidence();
    const before = readFileSync(path.join(dir, 'ledger.jsonl'));
    const wrong = await runCli(['keys', 'rotate', '--from', `file:${path.join(keysDir(), 'attacker.key.pem')}`, '--to', 'unsigned', '--evidence', dir]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`--from: key ${keyIdOf(await loadSigningKey(`file:${path.join(keysDir(), 'attacker.key.pem')}`))} does not sign this ledger's runs (key ${ownerKeyId} does)`);
    const publicFrom = await runCli(['keys', 'rotate', '--from', `file:${path.join(keysDir(), 'owner.pub.pem')}`, '--to', 'unsigned', '--evidence', dir]);
    expect(publicFrom.code).toBe(2);
    expect(publicFrom.stderr).toContain('--from: file:');
    const missingTo = await runCli(['keys', 'rotate', '--from', `file:${path.join(keysDir(), 'owner.key.pem')}`, '--to', `file:${path.join(work, 'none.pem')}`, '--evidence', dir]);
    expect(missingTo.code).toBe(2);
    expect(missingTo.stderr).toContain('--to: file:');
    const noEvidence = await runCli(['keys', 'rotate', '--from', `file:${path.join(keysDir(), 'owner.key.pem')}`, '--to', 'unsigned', '--evidence', path.join(work, 'nowhere')]);
    expect(noEvidence.code).toBe(2);
    expect(noEvidence.stderr).toContain('no such directory');
    expect(readFileSync(path.join(dir, 'ledger.jsonl'))).toEqual(before);
  });

  it('with --trust, a stripped first and only run fails too (continuity alone cannot judge a first line)', async () => {
    const single = path.join(work, 'single');
    const [name] = await buildEvidence(single, { runs: 1, signingKey: ownerKey });
    const manifestSha256 = resealRun(path.join(single, name!), null);
    rewriteNewestLedgerLine(single, manifestSha256, 'unsigned');
    expect((await verifyEvidence(single)).ok).toBe(true);
    const pinned = await runCli(['verify', single, '--trust', path.join(keysDir(), 'owner.pub.pem')]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toContain('line 1 is unsigned, and --trust requires signed evidence');
  });

  it('removing the newest run (its directory and its ledger line) passes verify, even with --trust; an external copy of the newest line (--anchor) catches it', async () => {
    const dir = copyOfEvidence();
    const ledgerFile = path.join(dir, 'ledger.jsonl');
    const lines = readFileSync(ledgerFile, 'utf8').trim().split('\n');
    // What an auditor (or the S3 upload) kept after the last run: a copy of the newest line.
    const copy = path.join(work, 'newest-line.jsonl');
    writeFileSync(copy, `${lines[3]}\n`);
    expect((await runCli(['verify', dir, '--anchor', copy])).code).toBe(0);

    rmSync(path.join(dir, runs[3]!), { recursive: true });
    writeFileSync(ledgerFile, `${lines.slice(0, 3).join('\n')}\n`);
    expect((await runCli(['verify', dir])).code).toBe(0);
    expect((await runCli(['verify', dir, '--trust', path.join(keysDir(), 'owner.pub.pem')])).code).toBe(0);
    const anchored = await runCli(['verify', dir, '--anchor', copy]);
    expect(anchored.code).toBe(1);
    expect(anchored.stderr).toContain(`line 3: the ledger ends at line 3, but ${copy} holds a copy of its line 4: lines were removed from its end (the newest runs or sign-offs)`);

    // A ledger whose copied line was changed differs from the copy.
    const edited = copyOfEvidence();
    const editedLines = readFileSync(path.join(edited, 'ledger.jsonl'), 'utf8').trim().split('\n');
    editedLines[3] = editedLines[3]!.replace('"at":"', '"at":"1');
    writeFileSync(path.join(edited, 'ledger.jsonl'), `${editedLines.join('\n')}\n`);
    const differs = await runCli(['verify', edited, '--anchor', copy]);
    expect(differs.code).toBe(1);
    expect(differs.stderr).toContain(`line 4 is not the line copied in ${copy}`);

    const bad = path.join(work, 'not-a-line.txt');
    writeFileSync(bad, 'hello\n');
    const usage = await runCli(['verify', dir, '--anchor', bad]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain(`--anchor ${bad}:1: not a ledger line`);
  });
});
