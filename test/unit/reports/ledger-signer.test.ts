/**
 * The ledger's signer rule (issue 13): every line names its signer, the run lines keep one
 * signer, and only a key-rotation line signed by the old key hands over. The chain here is
 * built with appendLedger / appendKeyRotation and checked with verifyLedger on the chain
 * alone (no run directories), so only the signer rule and the line signatures are at stake.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendKeyRotation, appendLedger, appendLedgerLineLocked, currentRunSigner, verifyLedger, withLedgerLock } from '../../../reports/evidence.js';
import { keyIdOf, publicKeyPem } from '../../../reports/signing.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const newKey = (): KeyObject => generateKeyPairSync('ed25519').privateKey;

let evidenceDir: string;
let n = 0;
beforeEach(async () => {
  evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-ledger-signer-'));
});
afterEach(async () => {
  await rm(evidenceDir, { recursive: true, force: true });
});

const run = (signingKey?: KeyObject) => {
  n++;
  return appendLedger(evidenceDir, { runId: `run-${n}`, dir: `run-${n}`, manifestSha256: sha256(String(n)) }, signingKey ? { signingKey } : {});
};
const chainProblems = async () => (await verifyLedger(evidenceDir, { checkManifests: false })).problems;
const lines = async () => (await readFile(path.join(evidenceDir, 'ledger.jsonl'), 'utf8')).trim().split('\n');

/** Append a hand-made rotation line, signed by `signer`. */
async function appendForgedRotation(fields: { fromKeyId: string; toKeyId: string; publicKey: string; keyId: string }, signer: KeyObject | null): Promise<void> {
  const all = await lines();
  const text = JSON.stringify({ seq: all.length + 1, kind: 'key-rotation', ...fields, at: '2026-12-01T00:00:00.000Z', prev: sha256(all[all.length - 1]!) });
  const line = signer === null ? text : `${text.slice(0, -1)},"sig":"${sign(null, Buffer.from(text), signer).toString('base64')}"}`;
  await appendFile(path.join(evidenceDir, 'ledger.jsonl'), `${line}\n`);
}

describe('the ledger signer rule', () => {
  it('sign-off lines signed by a reviewer\'s own key are not a key change', async () => {
    const owner = newKey();
    const reviewer = newKey();
    await run(owner);
    await withLedgerLock(evidenceDir, {}, () =>
      appendLedgerLineLocked(evidenceDir, { kind: 'signoff', runId: 'run-1', dir: 'run-1', manifestSha256: sha256('1'), signoffSha256: sha256('x') }, { signingKey: reviewer }),
    );
    await run(owner);
    expect(await chainProblems()).toEqual([]);
    expect(currentRunSigner((await lines()).join('\n'))).toBe(keyIdOf(owner));
  });

  it('an unsigned ledger may start signing; a signed one switching back is named at that line', async () => {
    const owner = newKey();
    await run();
    await run(owner);
    expect(await chainProblems()).toEqual([]);
    await run();
    expect(await chainProblems()).toEqual([
      { line: 3, message: expect.stringContaining(`line 3 is unsigned, but the runs before it are signed by key ${keyIdOf(owner)} (since line 2)`) },
    ]);
  });

  it('one problem per switch, not one per later line', async () => {
    const [a, b] = [newKey(), newKey()];
    await run(a);
    await run(b);
    await run(b);
    await run(b);
    expect((await chainProblems()).map((p) => p.line)).toEqual([2]);
  });

  it('rotations chain: A → B → C, each signed by the key it hands over from; the old key after a rotation is a change', async () => {
    const [a, b, c] = [newKey(), newKey(), newKey()];
    await run(a);
    const first = await appendKeyRotation(evidenceDir, a, b);
    expect(first).toMatchObject({ seq: 2, kind: 'key-rotation', fromKeyId: keyIdOf(a), toKeyId: keyIdOf(b), keyId: keyIdOf(a), publicKey: publicKeyPem(a), toPublicKey: publicKeyPem(b) });
    await run(b);
    await appendKeyRotation(evidenceDir, b, c);
    await run(c);
    const result = await verifyLedger(evidenceDir, { checkManifests: false });
    expect(result.problems).toEqual([]);
    expect(result.rotations.map((r) => [r.line, r.fromKeyId, r.toKeyId])).toEqual([
      [2, keyIdOf(a), keyIdOf(b)],
      [4, keyIdOf(b), keyIdOf(c)],
    ]);
    await run(a);
    expect((await chainProblems()).map((p) => p.line)).toEqual([6]);
  });

  it('appendKeyRotation refuses what is not a hand-over, and writes nothing', async () => {
    const [a, b] = [newKey(), newKey()];
    await expect(appendKeyRotation(evidenceDir, a, b)).rejects.toThrow(/ledger\.jsonl is missing/);
    await run();
    await expect(appendKeyRotation(evidenceDir, a, b)).rejects.toThrow(/its runs are unsigned now/);
    await run(a);
    await expect(appendKeyRotation(evidenceDir, b, a)).rejects.toThrow(`key ${keyIdOf(b)} does not sign this ledger's runs (key ${keyIdOf(a)} does)`);
    await expect(appendKeyRotation(evidenceDir, a, a)).rejects.toThrow(`key ${keyIdOf(a)} already signs this ledger's runs`);
    expect(await lines()).toHaveLength(2);
    expect(await chainProblems()).toEqual([]);
  });

  it('a hand-made rotation that is unsigned, or hands over from a key that does not sign the runs, fails', async () => {
    const [a, b] = [newKey(), newKey()];
    await run(a);
    await appendForgedRotation({ fromKeyId: keyIdOf(a), toKeyId: keyIdOf(b), publicKey: publicKeyPem(a), keyId: keyIdOf(a) }, null);
    await run(b);
    expect((await chainProblems()).map((p) => p.message)).toEqual([
      expect.stringContaining('line 2 was changed: its signature or key id is missing or malformed'),
    ]);

    await rm(path.join(evidenceDir, 'ledger.jsonl'));
    await run(a);
    // Properly signed, by b, claiming to hand over from b: b never signed the runs.
    await appendForgedRotation({ fromKeyId: keyIdOf(b), toKeyId: keyIdOf(b), publicKey: publicKeyPem(b), keyId: keyIdOf(b) }, b);
    await run(b);
    expect((await chainProblems()).map((p) => p.message)).toEqual([
      `line 2 rotates from key ${keyIdOf(b)}, but the runs before it are signed by key ${keyIdOf(a)} (since line 1)`,
    ]);
  });
});
