import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EvidenceBundle, formatProblem, verifyBundle, verifyEvidence, type LedgerEntry } from '../../../reports/evidence.js';
import { sha256Hex } from '../../../reports/evidence-files.js';
import { keyIdOf } from '../../../reports/signing.js';
import { BundleNotIntactError, appendSignoff, readSignoffs, type SignoffRecord } from '../../../reports/signoff.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';

let evidence: string;
let runDir: string;
const runner = generateKeyPairSync('ed25519').privateKey;
const reviewer = generateKeyPairSync('ed25519').privateKey;

beforeEach(async () => {
  evidence = await mkdtemp(path.join(os.tmpdir(), 'drillbook-signoff-'));
  const bundle = await EvidenceBundle.create(evidence, 'run-a', { signingKey: runner });
  runDir = (await bundle.finalize(makeRunRecord())).dir;
});
afterEach(async () => {
  await rm(evidence, { recursive: true, force: true });
});

const at = (iso: string) => () => new Date(iso);
const snapshot = async () => ({
  manifest: await readFile(path.join(runDir, 'manifest.json')),
  ledger: await readFile(path.join(evidence, 'ledger.jsonl'), 'utf8'),
});

describe('signoff', () => {
  it('appends a signed, chained record and a ledger line, and leaves the bundle untouched', async () => {
    const manifestBefore = await readFile(path.join(runDir, 'manifest.json'));
    const first = await appendSignoff(runDir, {
      reviewer: 'Dana Lee',
      decision: 'accepted',
      note: 'RTO within target; restore verified.',
      signingKey: reviewer,
      now: at('2026-11-27T09:00:00.000Z'),
    });
    const second = await appendSignoff(runDir, { reviewer: 'Sam Ortiz', decision: 'rejected', note: 'Missing participant list.', signingKey: reviewer });
    expect(first.record).toMatchObject({
      schema: 'drillbook.dev/signoff/v1',
      seq: 1,
      reviewer: 'Dana Lee',
      decision: 'accepted',
      at: '2026-11-27T09:00:00.000Z',
      manifestSha256: sha256Hex(manifestBefore),
      keyId: keyIdOf(reviewer),
    });
    const lines = (await readFile(path.join(runDir, 'signoffs.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect((JSON.parse(lines[1]!) as SignoffRecord).prev).toBe(sha256Hex(lines[0]!));
    expect(second.ledgerEntry).toMatchObject({ seq: 3, kind: 'signoff', dir: 'run-a', signoffSha256: sha256Hex(lines[1]!), keyId: keyIdOf(reviewer) });

    expect(await readFile(path.join(runDir, 'manifest.json'))).toEqual(manifestBefore);
    expect((await verifyBundle(runDir)).ok).toBe(true);
    const verified = await verifyEvidence(evidence);
    expect(verified.ok, verified.problems.map(formatProblem).join('\n')).toBe(true);
    expect(verified.runs[0]!.signoffs).toBe(2);

    expect(await readSignoffs(runDir)).toEqual([
      expect.objectContaining({ seq: 1, reviewer: 'Dana Lee', decision: 'accepted', signatureValid: true, reviewsCurrentManifest: true }),
      expect.objectContaining({ seq: 2, reviewer: 'Sam Ortiz', decision: 'rejected', signatureValid: true, reviewsCurrentManifest: true }),
    ]);
  });

  it('refuses a bundle that does not verify, and writes nothing', async () => {
    const before = await snapshot();
    await writeFile(path.join(runDir, 'report.md'), 'rewritten');
    await expect(appendSignoff(runDir, { reviewer: 'Dana', decision: 'accepted', note: 'ok', signingKey: reviewer })).rejects.toBeInstanceOf(BundleNotIntactError);
    expect(existsSync(path.join(runDir, 'signoffs.jsonl'))).toBe(false);
    expect((await snapshot()).ledger).toBe(before.ledger);
  });

  it('refuses a run that is not in its evidence directory\'s ledger', async () => {
    const elsewhere = path.join(evidence, 'elsewhere');
    cpSync(runDir, path.join(elsewhere, 'run-a'), { recursive: true });
    await expect(appendSignoff(path.join(elsewhere, 'run-a'), { reviewer: 'Dana', decision: 'accepted', note: 'ok', signingKey: reviewer })).rejects.toThrow(
      /is not recorded in .*ledger.jsonl/,
    );
    expect(existsSync(path.join(elsewhere, 'ledger.jsonl'))).toBe(false);
  });

  it('rejects bad input with every problem named, and writes nothing', async () => {
    const before = await snapshot();
    const error = (await appendSignoff(runDir, { reviewer: '  ', decision: 'maybe' as 'accepted', note: '', signingKey: reviewer }).then(
      () => new Error('accepted bad input'),
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toContain('--reviewer');
    expect(error.message).toContain('--decision: "maybe" is not one of accepted, accepted-with-findings, rejected');
    expect(error.message).toContain('--note');
    await expect(appendSignoff(runDir, { reviewer: 'a\nb', decision: 'accepted', note: 'x', signingKey: reviewer })).rejects.toThrow(/control characters/);
    await expect(appendSignoff(runDir, { reviewer: 'Dana', decision: 'accepted', note: 'x', signingKey: 'file:/nonexistent/key.pem' })).rejects.toThrow(/no such file/);
    expect(existsSync(path.join(runDir, 'signoffs.jsonl'))).toBe(false);
    expect((await snapshot()).ledger).toBe(before.ledger);
  });

  it('verify names an edited record, a removed one, and a bundle changed after the sign-off', async () => {
    await appendSignoff(runDir, { reviewer: 'Dana', decision: 'rejected', note: 'Not enough data checks.', signingKey: reviewer });
    await appendSignoff(runDir, { reviewer: 'Dana', decision: 'accepted', note: 'Checks added.', signingKey: reviewer });
    const file = path.join(runDir, 'signoffs.jsonl');
    const original = await readFile(file, 'utf8');

    await writeFile(file, original.replace('"decision":"rejected"', '"decision":"accepted"'));
    let result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^run-a: signoffs.jsonl line 1: signature invalid: the record was changed after Dana signed it/)]),
    );
    expect(result.problems.map(formatProblem)).toEqual(expect.arrayContaining([expect.stringMatching(/^ledger.jsonl line 2: the sign-off it records is missing/)]));

    await writeFile(file, `${original.split('\n')[0]}\n`);
    result = await verifyEvidence(evidence);
    expect(result.ok).toBe(false);
    expect(result.problems.map(formatProblem)).toEqual(expect.arrayContaining([expect.stringMatching(/^ledger.jsonl line 3: the sign-off it records is missing from run-a\/signoffs.jsonl/)]));

    await writeFile(file, original);
    expect((await verifyEvidence(evidence)).ok).toBe(true);
    // The manifest changes after the sign-off: the record names the manifest it reviewed.
    const ledger = (await readFile(path.join(evidence, 'ledger.jsonl'), 'utf8')).split('\n');
    const entry = JSON.parse(ledger[0]!) as LedgerEntry;
    expect(entry.manifestSha256).toBe((await readSignoffs(runDir))[0]!.manifestSha256);
    await writeFile(path.join(runDir, 'manifest.json'), (await readFile(path.join(runDir, 'manifest.json'), 'utf8')).replace('"createdAt": "', '"createdAt": "1'));
    result = await verifyEvidence(evidence);
    expect(result.problems.map(formatProblem)).toEqual(expect.arrayContaining([expect.stringMatching(/signoffs.jsonl line 1: reviewed manifest sha256 .* the bundle changed after the sign-off/)]));
    expect((await readSignoffs(runDir))[0]!.reviewsCurrentManifest).toBe(false);
  });
});
