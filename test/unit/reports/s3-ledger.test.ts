import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../reports/evidence-files.js';
import { LEDGER_GENESIS, parseLedgerLine } from '../../../reports/evidence/ledger.js';
import { appendS3Ledger, ledgerLineKey, type S3Location } from '../../../reports/evidence/s3-ledger.js';
import { verifyS3Ledger } from '../../../reports/evidence/verify-s3.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const childScript = path.join(root, 'dist/test/helpers/s3-appender-child.js');
const Bucket = 'acme-drill-evidence';
let location: S3Location;
let prefixCounter = 0;

const s3 = useFakeS3([Bucket]);
beforeEach(() => {
  location = { bucket: Bucket, prefix: `team/drills-${++prefixCounter}` };
});

/** The ledger objects as the fake stores them, in sequence order: the ground truth. */
function storedLines(): { key: string; text: string }[] {
  const base = `${location.prefix}/ledger/`;
  return [...s3.fake.buckets.get(Bucket)!.entries()]
    .filter(([key]) => key.startsWith(base))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, object]) => ({ key, text: object.body.toString('utf8') }));
}

function runAppender(name: string, count: number): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [childScript, s3.fake.endpoint, Bucket, location.prefix, name, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

const fields = (runId: string) => ({ runId, dir: `2026-12-01T000000Z-${runId}`, manifestSha256: 'a'.repeat(64) });

describe('one S3 ledger chain shared by every runner', () => {
  it('8 concurrent appender processes writing 200 runs end with one intact chain, no gap, no duplicate', async () => {
    const appenders = Array.from({ length: 8 }, (_, i) => runAppender(`runner${i}`, 25));
    const results = await Promise.all(appenders.map((appender) => appender.done));
    for (const result of results) expect(result.code, result.stderr).toBe(0);

    // Ground truth from the store itself, not from drillbook's verifier.
    const stored = storedLines();
    expect(stored.map((object) => object.key)).toEqual(Array.from({ length: 200 }, (_, i) => ledgerLineKey(location, i + 1)));
    let prev = LEDGER_GENESIS;
    const runIds = new Set<string>();
    stored.forEach(({ text }, index) => {
      expect(text.endsWith('\n') && text.indexOf('\n') === text.length - 1).toBe(true);
      const line = text.slice(0, -1);
      const entry = parseLedgerLine(line)!;
      expect(entry.seq).toBe(index + 1);
      expect(entry.prev).toBe(prev);
      expect(entry.keyId).toBe('unsigned');
      runIds.add(entry.runId);
      prev = sha256Hex(line);
    });
    const expected = Array.from({ length: 8 }, (_, r) => Array.from({ length: 25 }, (_, i) => `runner${r}-${i}`)).flat();
    expect([...runIds].sort()).toEqual(expected.sort());
    // What each process said it wrote is what is stored at that seq.
    const claimed = results.flatMap((result) => result.stdout.trim().split('\n')).map((row) => row.split(' '));
    expect(claimed).toHaveLength(200);
    for (const [seq, runId] of claimed) expect(parseLedgerLine(stored[Number(seq) - 1]!.text.slice(0, -1))!.runId).toBe(runId);
    // They did race: some appends lost at least once and retried with the next number.
    expect(claimed.some(([, , attempts]) => Number(attempts) > 1)).toBe(true);

    const verification = await verifyS3Ledger(s3.client, location, { checkManifests: false });
    expect(verification.problems).toEqual([]);
    expect(verification.ok).toBe(true);
    expect(verification.runs).toHaveLength(200);
  }, 120_000);

  it('an appender killed while appending leaves no broken line, and the others continue the chain', async () => {
    const victim = runAppender('victim', 1000);
    const others = [runAppender('a', 20), runAppender('b', 20)];
    // Kill it in the middle of its appends.
    while (storedLines().filter(({ text }) => text.includes('"victim-')).length < 5) await new Promise((r) => setTimeout(r, 10));
    victim.kill();
    const killed = await victim.done;
    expect(killed.code).toBeNull();
    for (const other of others) expect((await other.done).code).toBe(0);
    const stored = storedLines();
    const verification = await verifyS3Ledger(s3.client, location, { checkManifests: false });
    expect(verification.problems).toEqual([]);
    expect(verification.entries).toBe(stored.length);
    expect(stored.filter(({ text }) => text.includes('"a-'))).toHaveLength(20);
    for (const { text } of stored) expect(parseLedgerLine(text.slice(0, -1))).toBeDefined();
  }, 120_000);

  it('verify names a removed middle object, and an edited one', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    for (let i = 0; i < 6; i++) await appendS3Ledger(s3.client, location, fields(`r${i}`), { signingKey: privateKey });
    expect((await verifyS3Ledger(s3.client, location, { checkManifests: false })).ok).toBe(true);
    const objects = s3.fake.buckets.get(Bucket)!;

    const removedKey = ledgerLineKey(location, 3);
    const removed = objects.get(removedKey)!;
    objects.delete(removedKey);
    const afterRemove = await verifyS3Ledger(s3.client, location, { checkManifests: false });
    expect(afterRemove.ok).toBe(false);
    expect(afterRemove.problems.map((p) => p.line)).toEqual([3]);
    expect(afterRemove.problems[0]!.message).toMatch(/line 3 is missing.*ledger\/000000000003\.json/);
    objects.set(removedKey, removed);

    const editedKey = ledgerLineKey(location, 4);
    const original = objects.get(editedKey)!;
    // Rewritten as a new object (with its own, matching checksum), as anyone with PutObject could.
    const editedBody = Buffer.from(original.body.toString('utf8').replace('"runId":"r3"', '"runId":"rX"'));
    objects.set(editedKey, { ...original, body: editedBody, checksumSha256: createHash('sha256').update(editedBody).digest('base64') });
    const afterEdit = await verifyS3Ledger(s3.client, location, { checkManifests: false });
    expect(afterEdit.ok).toBe(false);
    expect(afterEdit.problems.some((p) => p.line === 4 && /signature .* does not verify|was changed/.test(p.message))).toBe(true);
    objects.set(editedKey, original);
    expect((await verifyS3Ledger(s3.client, location, { checkManifests: false })).ok).toBe(true);
  });

  it('a lost race chains to the winner: two appenders at the same head never share a seq', async () => {
    const [a, b] = await Promise.all([appendS3Ledger(s3.client, location, fields('x')), appendS3Ledger(s3.client, location, fields('y'))]);
    expect([a.entry.seq, b.entry.seq].sort()).toEqual([1, 2]);
    const second = a.entry.seq === 2 ? a : b;
    expect(second.entry.prev).toBe(sha256Hex(storedLines()[0]!.text.slice(0, -1)));
  });
});
