import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, EvidenceError, verifyBundle, verifyLedger, type LedgerEntry, type Manifest } from '../../../reports/evidence.js';
import { sha256Hex } from '../../../reports/evidence-files.js';
import {
  SIGNING_KEY_ENV,
  SigningError,
  generateKeyPairFiles,
  keyIdOf,
  loadSigningKey,
  parseKeyReference,
  readTrustedKeys,
  resolveSigningKey,
  signBytes,
  signJsonLine,
  signatureInfo,
  splitSignedJsonLine,
  verifyBytes,
  verifyJsonLine,
} from '../../../reports/signing.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'drillbook-signing-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const ed25519 = () => generateKeyPairSync('ed25519');
const pem = (key: ReturnType<typeof ed25519>['privateKey']) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

async function finalizedBundle(evidenceDir: string, name: string, signingKey?: ReturnType<typeof ed25519>['privateKey']) {
  const record = makeRunRecord({ runId: `${name}-0000-0000` });
  const bundle = await EvidenceBundle.create(evidenceDir, name, signingKey ? { signingKey } : {});
  for (const event of record.timeline.slice(0, 3)) await bundle.appendTimeline(event);
  for (const probe of makeProbes().slice(0, 5)) await bundle.appendProbe(probe);
  return { bundle, result: await bundle.finalize(record) };
}

describe('key references', () => {
  it('accepts file: and env:, refuses inline keys and anything else with a clear message', () => {
    expect(parseKeyReference('file:./keys/a.pem')).toEqual({ kind: 'file', path: './keys/a.pem' });
    expect(parseKeyReference('env:DRILL_KEY')).toEqual({ kind: 'env', variable: 'DRILL_KEY' });
    expect(() => parseKeyReference(pem(ed25519().privateKey))).toThrow(/inline keys are refused/);
    expect(() => parseKeyReference('./keys/a.pem')).toThrow(/use file:PATH .* or env:VARIABLE/);
    expect(() => parseKeyReference('env:not a name')).toThrow(SigningError);
  });

  it('loads an Ed25519 private key from a file or an environment variable', async () => {
    const { privateKey } = ed25519();
    await writeFile(path.join(work, 'k.pem'), pem(privateKey), { mode: 0o600 });
    expect(keyIdOf(await loadSigningKey('file:k.pem', { cwd: work }))).toBe(keyIdOf(privateKey));
    expect(keyIdOf(await loadSigningKey('env:MY_KEY', { env: { MY_KEY: pem(privateKey) } }))).toBe(keyIdOf(privateKey));
  });

  it('names the reference, never the key material, when a key is unusable', async () => {
    const { privateKey, publicKey } = ed25519();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    await writeFile(path.join(work, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(path.join(work, 'rsa.pem'), rsa.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(path.join(work, 'junk.pem'), 'not a key at all');
    const cases: [string, RegExp][] = [
      ['file:missing.pem', /file:missing.pem: no such file/],
      ['file:pub.pem', /this is a public key/],
      ['file:rsa.pem', /an rsa key; drillbook signs with Ed25519/],
      ['file:junk.pem', /not a PEM private key/],
      ['env:UNSET_DRILLBOOK_KEY', /is not set or empty/],
    ];
    for (const [reference, message] of cases) {
      const error = await loadSigningKey(reference, { cwd: work, env: {} }).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(SigningError);
      expect((error as Error).message).toMatch(message);
      // No key material: nothing like a run of base64 from a PEM body.
      expect((error as Error).message).not.toMatch(/[A-Za-z0-9+/]{32,}/);
    }
    const secret = pem(privateKey).replace('BEGIN PRIVATE KEY', 'BEGIN ENCRYPTED PRIVATE KEY');
    await expect(loadSigningKey('env:K', { env: { K: secret } })).rejects.toThrow(/encrypted private keys are not supported/);
  });

  it('takes the flag first, then DRILLBOOK_SIGNING_KEY, else no key', async () => {
    const a = ed25519().privateKey;
    const b = ed25519().privateKey;
    await writeFile(path.join(work, 'a.pem'), pem(a));
    const env = { [SIGNING_KEY_ENV]: 'env:B_KEY', B_KEY: pem(b) };
    expect(keyIdOf((await resolveSigningKey('file:a.pem', { env, cwd: work }))!)).toBe(keyIdOf(a));
    expect(keyIdOf((await resolveSigningKey(undefined, { env, cwd: work }))!)).toBe(keyIdOf(b));
    expect(await resolveSigningKey(undefined, { env: {}, cwd: work })).toBeUndefined();
    await expect(resolveSigningKey(undefined, { env: { [SIGNING_KEY_ENV]: 'file:nope.pem' }, cwd: work })).rejects.toThrow(
      new RegExp(`^${SIGNING_KEY_ENV}: file:nope.pem: no such file`),
    );
  });
});

describe('keys generate', () => {
  it('writes a 0600 private key and a public key whose id is the sha256 of its DER, and never overwrites', async () => {
    const pair = await generateKeyPairFiles(path.join(work, 'keys'), 'ops');
    expect((await stat(pair.privateKeyFile)).mode & 0o777).toBe(0o600);
    const loaded = await loadSigningKey(`file:${pair.privateKeyFile}`);
    const [trusted] = await readTrustedKeys([pair.publicKeyFile]);
    expect(trusted!.keyId).toBe(pair.keyId);
    expect(keyIdOf(loaded)).toBe(pair.keyId);
    const der = loaded.export({ format: 'der', type: 'pkcs8' });
    expect(der.length).toBeGreaterThan(0);
    expect(pair.keyId).toMatch(/^[0-9a-f]{16}$/);
    await expect(generateKeyPairFiles(path.join(work, 'keys'), 'ops')).rejects.toThrow(/already exists; refusing to overwrite/);
    await expect(generateKeyPairFiles(work, '../x')).rejects.toThrow(SigningError);
    expect((await readdir(path.join(work, 'keys'))).sort()).toEqual(['ops.key.pem', 'ops.pub.pem']);
  });

  it('--trust refuses private keys and files that are not Ed25519 public keys', async () => {
    const pair = await generateKeyPairFiles(work, 'k');
    await expect(readTrustedKeys([pair.privateKeyFile])).rejects.toThrow(/this is a private key; pin the public key/);
    await writeFile(path.join(work, 'x.pem'), 'nope');
    await expect(readTrustedKeys([path.join(work, 'x.pem')])).rejects.toThrow(/not a PEM Ed25519 public key/);
    await expect(readTrustedKeys([path.join(work, 'none.pem')])).rejects.toThrow(/no such file/);
  });
});

describe('signatures', () => {
  it('verifies raw signatures and rejects any single flipped bit of the data or the signature', () => {
    const { privateKey, publicKey } = ed25519();
    const data = Buffer.from('{"files":[]}\n');
    const signature = signBytes(data, privateKey);
    expect(verifyBytes(data, signature, publicKey)).toBe(true);
    for (let bit = 0; bit < signature.length * 8; bit += 7) {
      const flipped = Buffer.from(signature);
      flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
      expect(verifyBytes(data, flipped, publicKey)).toBe(false);
    }
    const changed = Buffer.from(data);
    changed[3] = changed[3]! ^ 1;
    expect(verifyBytes(changed, signature, publicKey)).toBe(false);
    expect(verifyBytes(data, signature.subarray(1), publicKey)).toBe(false);
    expect(verifyBytes(data, signature, ed25519().publicKey)).toBe(false);
  });

  it('signs JSON lines over their exact bytes, and refuses non-canonical base64', () => {
    const { privateKey, publicKey } = ed25519();
    const line = signJsonLine('{"seq":1,"dir":"a"}', privateKey);
    expect(JSON.parse(line)).toMatchObject({ seq: 1, dir: 'a', sig: expect.any(String) });
    expect(verifyJsonLine(line, publicKey)).toBe(true);
    // Same JSON value, different bytes: still a different line.
    expect(verifyJsonLine(line.replace('{"seq":1,', '{"seq":1.0,'), publicKey)).toBe(false);
    const split = splitSignedJsonLine(line)!;
    const encoded = split.signature.toString('base64');
    // The last base64 digit before "==" carries 4 unused bits: a flip there decodes to the
    // same signature, and must still be refused.
    const last = encoded[encoded.length - 3]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    const malleable = line.replace(encoded, `${encoded.slice(0, -3)}${sibling}==`);
    expect(Buffer.from(`${encoded.slice(0, -3)}${sibling}==`, 'base64').equals(split.signature)).toBe(true);
    expect(verifyJsonLine(malleable, publicKey)).toBe(false);
  });
});

describe('signed bundles', () => {
  it('finalize writes signer.pub.pem, SHA256SUMS and both signatures, and signs the ledger line', async () => {
    const { privateKey, publicKey } = ed25519();
    const { bundle, result } = await finalizedBundle(work, 'run-a', privateKey);
    const dir = bundle.dir;
    expect(result.keyId).toBe(keyIdOf(privateKey));
    const manifestBytes = await readFile(path.join(dir, 'manifest.json'));
    const manifest = JSON.parse(manifestBytes.toString()) as Manifest;
    expect(manifest.signature).toEqual({
      algorithm: 'Ed25519',
      keyId: keyIdOf(privateKey),
      publicKey: 'signer.pub.pem',
      signatures: ['manifest.sig', 'SHA256SUMS.sig'],
    });
    expect(manifest.files.map((f) => f.path)).toContain('signer.pub.pem');
    expect(manifest.files.map((f) => f.path)).not.toContain('SHA256SUMS');
    expect(verifyBytes(manifestBytes, await readFile(path.join(dir, 'manifest.sig')), publicKey)).toBe(true);
    const sums = await readFile(path.join(dir, 'SHA256SUMS'));
    expect(verifyBytes(sums, await readFile(path.join(dir, 'SHA256SUMS.sig')), publicKey)).toBe(true);
    const expectedSums = [...manifest.files.map((f) => [f.sha256, f.path]), [sha256Hex(manifestBytes), 'manifest.json']]
      .sort((a, b) => (a[1]! < b[1]! ? -1 : 1))
      .map(([h, p]) => `${h}  ${p}\n`)
      .join('');
    expect(sums.toString()).toBe(expectedSums);

    const line = (await readFile(path.join(work, 'ledger.jsonl'), 'utf8')).trim();
    expect(JSON.parse(line) as LedgerEntry).toMatchObject({ keyId: keyIdOf(privateKey), manifestSha256: sha256Hex(manifestBytes) });
    expect(verifyJsonLine(line, publicKey)).toBe(true);
    expect(await verifyBundle(dir)).toMatchObject({ ok: true, signature: { status: 'signed', keyId: keyIdOf(privateKey) } });
    expect((await verifyLedger(work)).ok).toBe(true);
    expect(await signatureInfo(dir)).toMatchObject({ status: 'signed', keyId: keyIdOf(privateKey), algorithm: 'Ed25519', problem: null });
  });

  it('an unsigned bundle still verifies by hash and says unsigned', async () => {
    const { bundle, result } = await finalizedBundle(work, 'run-u');
    expect(result.keyId).toBeNull();
    expect(await verifyBundle(bundle.dir)).toMatchObject({ ok: true, signature: { status: 'unsigned', keyId: null } });
    expect(await signatureInfo(bundle.dir)).toMatchObject({ status: 'unsigned', keyId: null });
  });

  it('with pinned keys, another signer or an unsigned run fails', async () => {
    const signer = ed25519().privateKey;
    const other = await generateKeyPairFiles(path.join(work, 'k'), 'other');
    const mine = path.join(work, 'k', 'mine.pub.pem');
    await writeFile(mine, createPublicKey(signer).export({ type: 'spki', format: 'pem' }));
    const evidence = path.join(work, 'e');
    const signed = await finalizedBundle(evidence, 'run-s', signer);
    const unsigned = await finalizedBundle(evidence, 'run-u');
    const trustMine = await readTrustedKeys([mine]);
    const trustOther = await readTrustedKeys([other.publicKeyFile]);
    expect((await verifyBundle(signed.bundle.dir, { trust: trustMine })).ok).toBe(true);
    const wrong = await verifyBundle(signed.bundle.dir, { trust: trustOther });
    expect(wrong).toMatchObject({ ok: false, signature: { status: 'untrusted' } });
    expect(wrong.problems.join()).toContain(`signed by an unknown key ${keyIdOf(signer)}`);
    const bare = await verifyBundle(unsigned.bundle.dir, { trust: trustMine });
    expect(bare.ok).toBe(false);
    expect(bare.problems.join()).toMatch(/^unsigned:/);
  });

  it('a bad key reference fails before anything is created, and at finalize leaves the bundle open', async () => {
    await expect(EvidenceBundle.create(work, 'run-x', { signingKey: 'file:nope.pem' })).rejects.toThrow(/file:nope.pem: no such file/);
    expect(await readdir(work)).toEqual([]);
    const bundle = await EvidenceBundle.create(work, 'run-y');
    await expect(bundle.finalize(makeRunRecord(), { signingKey: 'env:DRILLBOOK_TEST_NO_SUCH_VAR' })).rejects.toBeInstanceOf(EvidenceError);
    const done = await bundle.finalize(makeRunRecord(), { signingKey: ed25519().privateKey });
    expect((await verifyBundle(done.dir)).signature.status).toBe('signed');
  });

  it('a refinalized bundle (recover) drops signature files of an interrupted attempt', async () => {
    const bundle = await EvidenceBundle.create(work, 'run-r');
    await writeFile(path.join(bundle.dir, 'manifest.sig'), 'stale');
    await writeFile(path.join(bundle.dir, 'signer.pub.pem'), 'stale');
    await bundle.finalize(makeRunRecord());
    const files = await readdir(bundle.dir);
    expect(files).not.toContain('manifest.sig');
    expect(files).not.toContain('signer.pub.pem');
    expect((await verifyBundle(bundle.dir)).ok).toBe(true);
  });

  it('signatureInfo reports an invalid signature', async () => {
    const { bundle } = await finalizedBundle(work, 'run-i', ed25519().privateKey);
    await writeFile(path.join(bundle.dir, 'manifest.sig'), Buffer.alloc(64));
    expect(await signatureInfo(bundle.dir)).toMatchObject({ status: 'invalid', problem: 'manifest.sig does not verify manifest.json' });
  });
});

describe('crash safety of finalize', () => {
  it('no crash point leaves a bundle that verifies; a sealed run missing from the ledger can be added back', async () => {
    const key = ed25519().privateKey;
    const evidence = path.join(work, 'e');
    const { bundle } = await finalizedBundle(evidence, 'run-c', key);
    const ledgerFile = path.join(evidence, 'ledger.jsonl');
    const ledgerLine = await readFile(ledgerFile, 'utf8');
    const { verifyEvidence, appendMissingLedgerLine } = await import('../../../reports/evidence.js');

    // Died before the ledger line: sealed, but not chained.
    await writeFile(ledgerFile, '');
    let result = await verifyEvidence(evidence);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.message)).toContain('not in the ledger: no line of ledger.jsonl records this run');
    const appended = await appendMissingLedgerLine(bundle.dir, { signingKey: key });
    expect(appended).toMatchObject({ seq: 1, dir: 'run-c', keyId: keyIdOf(key) });
    expect(await appendMissingLedgerLine(bundle.dir, { signingKey: key })).toBeNull();
    expect((await verifyEvidence(evidence)).ok).toBe(true);

    // Died between a temp file's write and its rename: the temp file is not evidence.
    const temp = path.join(bundle.dir, '.run.json.tmp-0a1b2c');
    await writeFile(temp, '{"half":');
    expect(await verifyBundle(bundle.dir)).toMatchObject({ ok: false, unlisted: ['.run.json.tmp-0a1b2c'] });
    await rm(temp);

    // Died before manifest.json was renamed into place: unfinished, never intact.
    await writeFile(ledgerFile, ledgerLine);
    await rm(path.join(bundle.dir, 'manifest.json'));
    result = await verifyEvidence(evidence);
    expect(result.ok).toBe(false);
    expect(result.runs[0]!.status).toBe('unfinished');
  });
});
