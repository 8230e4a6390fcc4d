/**
 * Acceptance (issue 6): whatever single thing is changed in signed evidence — one byte of any
 * file flipped, any file deleted, ledger lines reordered, edited or removed, sign-off records
 * removed, signatures swapped between two runs — verify detects it, and names what failed.
 * A clean copy verifies. fast-check draws the mutations; every case works on a fresh copy of
 * one evidence directory built through the real EvidenceBundle and sign-off code.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFilesRecursive } from '../../../reports/evidence-files.js';
import { formatProblem, verifyEvidence, type EvidenceVerification } from '../../../reports/evidence.js';
import { buildEvidence, newKey } from './evidence-fixture.js';

const LEDGER = 'ledger.jsonl';

type Mutation =
  | { kind: 'flip'; file: string; offset: number; mask: number }
  | { kind: 'delete'; file: string }
  | { kind: 'swap-lines'; file: string; a: number; b: number }
  | { kind: 'delete-line'; file: string; line: number }
  | { kind: 'edit-ledger'; line: number; field: string; value: string }
  | { kind: 'swap-signature'; runA: number; runB: number; file: 'manifest.sig' | 'SHA256SUMS.sig' };

let root: string;
let template: string;
let runs: string[];
let files: string[];
/** Files of several lines, where lines can be swapped or removed. */
let lineFiles: { file: string; lines: number }[];
let ledgerFields: string[];
let counter = 0;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'drillbook-integrity-'));
  template = path.join(root, 'template');
  runs = await buildEvidence(template, {
    runs: 3,
    signingKey: newKey(),
    reviewerKey: newKey(),
    signoffs: { 0: ['accepted'], 2: ['rejected', 'accepted'] },
  });
  files = await listFilesRecursive(template);
  lineFiles = files
    .filter((f) => f.endsWith('.jsonl') || f.endsWith('.csv') || f === LEDGER)
    .map((file) => ({ file, lines: readFileSync(path.join(template, file), 'utf8').split('\n').length - 1 }))
    .filter((f) => f.lines >= 1);
  ledgerFields = [...new Set(readText(LEDGER).split('\n').filter(Boolean).flatMap((l) => Object.keys(JSON.parse(l) as object)))];
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function readText(file: string, dir = template): string {
  return readFileSync(path.join(dir, file), 'utf8');
}

/** The files a mutation changes, to put back from the template after the case. */
function touched(m: Mutation): string[] {
  if (m.kind === 'edit-ledger') return [LEDGER];
  if (m.kind === 'swap-signature') return [`${runs[m.runA]}/${m.file}`, `${runs[m.runB]}/${m.file}`];
  return [m.file];
}

/** One working copy for all cases, restored file by file: a full copy per case costs more than the check. */
function restore(dir: string, m: Mutation): void {
  for (const file of touched(m)) copyFileSync(path.join(template, file), path.join(dir, file));
}

function freshCopy(): string {
  const dir = path.join(root, `case-${counter++}`);
  cpSync(template, dir, { recursive: true });
  return dir;
}

function apply(dir: string, m: Mutation): void {
  switch (m.kind) {
    case 'flip': {
      const file = path.join(dir, m.file);
      const bytes = readFileSync(file);
      const offset = m.offset % bytes.length;
      bytes[offset] = bytes[offset]! ^ m.mask;
      writeFileSync(file, bytes);
      return;
    }
    case 'delete':
      unlinkSync(path.join(dir, m.file));
      return;
    case 'swap-lines':
    case 'delete-line': {
      const lines = readText(m.file, dir).split('\n');
      lines.pop();
      if (m.kind === 'swap-lines') [lines[m.a], lines[m.b]] = [lines[m.b]!, lines[m.a]!];
      else lines.splice(m.line, 1);
      writeFileSync(path.join(dir, m.file), lines.map((l) => `${l}\n`).join(''));
      return;
    }
    case 'edit-ledger': {
      const lines = readText(LEDGER, dir).split('\n');
      const entry = JSON.parse(lines[m.line]!) as Record<string, unknown>;
      const before = JSON.stringify(entry[m.field]);
      entry[m.field] = typeof entry[m.field] === 'number' ? Number(entry[m.field]) + 1 : m.value;
      if (JSON.stringify(entry[m.field]) === before) entry[m.field] = `${m.value}x`;
      lines[m.line] = JSON.stringify(entry);
      writeFileSync(path.join(dir, LEDGER), lines.join('\n'));
      return;
    }
    case 'swap-signature': {
      const a = path.join(dir, runs[m.runA]!, m.file);
      const b = path.join(dir, runs[m.runB]!, m.file);
      const [bytesA, bytesB] = [readFileSync(a), readFileSync(b)];
      writeFileSync(a, bytesB);
      writeFileSync(b, bytesA);
      return;
    }
  }
}

/** 1-based line of a byte offset in a file (a newline belongs to the line it ends). */
function lineOfOffset(file: string, offset: number): number {
  const bytes = readFileSync(path.join(template, file));
  return bytes.subarray(0, offset % bytes.length).toString('latin1').split('\n').length;
}

const describeResult = (r: EvidenceVerification) => r.problems.map(formatProblem).join('\n') || '(no problems)';

/** The problems must name what was changed: the run and the file, or the ledger line. */
function expectNamed(result: EvidenceVerification, m: Mutation): void {
  const texts = result.problems.map(formatProblem);
  const names = (run: string, file: string) =>
    result.problems.some(
      (p) => (p.subject === run && p.message.includes(file)) || p.message.includes(`${run}/${file}`),
    );
  const ledgerLine = (...lines: number[]) => result.problems.some((p) => p.subject === LEDGER && p.line !== undefined && lines.includes(p.line));
  const context = `${JSON.stringify(m)}\n${texts.join('\n')}`;
  if (m.kind === 'swap-signature') {
    expect(names(runs[m.runA]!, m.file) && names(runs[m.runB]!, m.file), context).toBe(true);
    return;
  }
  if (m.kind === 'edit-ledger') {
    expect(ledgerLine(m.line + 1), context).toBe(true);
    return;
  }
  const file = m.file;
  if (file === LEDGER) {
    if (m.kind === 'delete') expect(texts.some((t) => t.includes(`${LEDGER} is missing`)), context).toBe(true);
    else if (m.kind === 'flip') expect(ledgerLine(lineOfOffset(file, m.offset)), context).toBe(true);
    else if (m.kind === 'swap-lines') expect(ledgerLine(m.a + 1, m.b + 1), context).toBe(true);
    else {
      // A removed line shows where the next one no longer links; the last one, as its run
      // (or sign-off) missing from the ledger.
      const removed = JSON.parse(readText(LEDGER).split('\n')[m.line]!) as { dir: string };
      expect(ledgerLine(m.line + 1) || result.problems.some((p) => p.subject === removed.dir), context).toBe(true);
    }
    return;
  }
  const [run, ...rest] = file.split('/');
  expect(names(run!, rest.join('/')), context).toBe(true);
}

const mutation = (): fc.Arbitrary<Mutation> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('flip' as const), file: fc.constantFrom(...files), offset: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), file: fc.constantFrom(...files) }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...lineFiles.filter((f) => f.lines >= 2))
        .chain(({ file, lines }) =>
          fc
            .uniqueArray(fc.integer({ min: 0, max: lines - 1 }), { minLength: 2, maxLength: 2 })
            .map(([a, b]) => ({ kind: 'swap-lines' as const, file, a: Math.min(a!, b!), b: Math.max(a!, b!) })),
        ),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...lineFiles)
        .chain(({ file, lines }) => fc.integer({ min: 0, max: lines - 1 }).map((line) => ({ kind: 'delete-line' as const, file, line }))),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('edit-ledger' as const),
        line: fc.integer({ min: 0, max: readText(LEDGER).split('\n').length - 2 }),
        field: fc.constantFrom(...ledgerFields),
        value: fc.string({ maxLength: 20 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .uniqueArray(fc.integer({ min: 0, max: runs.length - 1 }), { minLength: 2, maxLength: 2 })
        .chain(([runA, runB]) =>
          fc.constantFrom('manifest.sig' as const, 'SHA256SUMS.sig' as const).map((file) => ({ kind: 'swap-signature' as const, runA: runA!, runB: runB!, file })),
        ),
    },
  );

describe('verify detects every tampering of signed evidence', () => {
  it('a clean copy verifies: every run signed and intact, the chain whole', async () => {
    const dir = freshCopy();
    const result = await verifyEvidence(dir);
    expect(result.ok, describeResult(result)).toBe(true);
    expect(result.runs.map((r) => [r.status, r.signature.status])).toEqual(runs.map(() => ['intact', 'signed']));
    expect(result.runs.map((r) => r.signoffs)).toEqual([1, 0, 2]);
    expect(result.ledger?.runs).toHaveLength(3);
    expect(result.ledger?.signoffs).toHaveLength(3);
  });

  it('deleting any one file is detected and named (every file, exhaustively)', async () => {
    const dir = freshCopy();
    for (const file of files) {
      const m: Mutation = { kind: 'delete', file };
      apply(dir, m);
      const result = await verifyEvidence(dir);
      expect(result.ok, `${file} deleted, yet verified`).toBe(false);
      expectNamed(result, m);
      restore(dir, m);
    }
    expect((await verifyEvidence(dir)).ok).toBe(true);
  });

  it('random single mutations (≥ 300 cases): 100 % detected, each with a message naming it', async () => {
    let detected = 0;
    const dir = freshCopy();
    await fc.assert(
      fc.asyncProperty(mutation(), async (m) => {
        try {
          apply(dir, m);
          const result = await verifyEvidence(dir);
          expect(result.ok, `undetected: ${JSON.stringify(m)}`).toBe(false);
          expectNamed(result, m);
          detected++;
        } finally {
          restore(dir, m);
        }
      }),
      { numRuns: 300 },
    );
    expect(detected).toBe(300);
    // The restored copy is clean again: what was detected was the mutation, nothing left over.
    expect((await verifyEvidence(dir)).ok).toBe(true);
  });
});

describe('verify of unsigned evidence', () => {
  it('still detects any flipped byte or deleted file of a bundle by hash, and says the runs are unsigned', async () => {
    const unsigned = path.join(root, 'unsigned');
    const names = await buildEvidence(unsigned, { runs: 2 });
    const clean = await verifyEvidence(unsigned);
    expect(clean.ok, describeResult(clean)).toBe(true);
    expect(clean.runs.map((r) => r.signature.status)).toEqual(['unsigned', 'unsigned']);
    const bundleFiles = (await listFilesRecursive(unsigned)).filter((f) => f !== LEDGER);
    const dir = path.join(root, 'unsigned-copy');
    cpSync(unsigned, dir, { recursive: true });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...bundleFiles), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (file, offset, mask, remove) => {
        try {
          const target = path.join(dir, file);
          if (remove) unlinkSync(target);
          else {
            const bytes = readFileSync(target);
            bytes[offset % bytes.length] = bytes[offset % bytes.length]! ^ mask;
            writeFileSync(target, bytes);
          }
          const result = await verifyEvidence(dir);
          expect(result.ok).toBe(false);
          const [run, ...rest] = file.split('/');
          expect(names.includes(run!)).toBe(true);
          expect(
            result.problems.some((p) => (p.subject === run && p.message.includes(rest.join('/'))) || p.message.includes(file)),
            result.problems.map(formatProblem).join('\n'),
          ).toBe(true);
        } finally {
          copyFileSync(path.join(unsigned, file), path.join(dir, file));
        }
      }),
      { numRuns: 100 },
    );
  });
});
