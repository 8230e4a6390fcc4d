import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EvidenceBundle,
  EvidenceError,
  openExisting,
  runDirName,
  verifyBundle,
  verifyLedger,
  type Manifest,
} from '../../../reports/evidence.js';
import { parseCsv, parseProbesCsv, PROBES_CSV_HEADER } from '../../../reports/evidence-files.js';
import type { ProbeAttempt } from '../../../reports/run-record.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let evidenceDir: string;

beforeEach(async () => {
  evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-evidence-'));
});

afterEach(async () => {
  await rm(evidenceDir, { recursive: true, force: true });
});

async function writeCompleteBundle(dirName = 'run-a', record = makeRunRecord()) {
  const bundle = await EvidenceBundle.create(evidenceDir, dirName);
  for (const event of record.timeline) await bundle.appendTimeline(event);
  for (const probe of makeProbes()) await bundle.appendProbe(probe);
  await bundle.writeAttachment('pg_ctl-promote.log', 'server promoting\n');
  return { bundle, result: await bundle.finalize(record), record };
}

describe('runDirName', () => {
  it('is UTC start, scenario and the first 8 characters of the run id', () => {
    expect(runDirName(new Date('2026-11-26T17:00:00.123Z'), 'orders-db-failover', '7f3c2a91-4b6e-4d1a')).toBe(
      '2026-11-26T170000Z-orders-db-failover-7f3c2a91',
    );
  });

  it('cannot be steered out of the evidence directory by a bad scenario name', () => {
    const name = runDirName(new Date(0), '../../etc', 'a/b');
    expect(name).toBe('1970-01-01T000000Z-------etc-ab');
    expect(path.basename(name)).toBe(name);
  });
});

describe('EvidenceBundle', () => {
  it('refuses to reuse an existing run directory', async () => {
    await EvidenceBundle.create(evidenceDir, 'run-a');
    await expect(EvidenceBundle.create(evidenceDir, 'run-a')).rejects.toBeInstanceOf(EvidenceError);
  });

  it('creates the evidence directory when it does not exist yet', async () => {
    const nested = path.join(evidenceDir, 'a', 'b');
    const bundle = await EvidenceBundle.create(nested, 'run-a');
    expect(await readdir(bundle.dir)).toEqual(expect.arrayContaining(['timeline.jsonl', 'probes.csv']));
  });

  it('puts each append on disk before the promise resolves (nothing waits for a batch)', async () => {
    const bundle = await EvidenceBundle.create(evidenceDir, 'run-a');
    const record = makeRunRecord();
    await bundle.appendTimeline(record.timeline[0]!);
    await bundle.appendProbe(makeProbes()[0]!);
    expect(await readFile(path.join(bundle.dir, 'timeline.jsonl'), 'utf8')).toBe(`${JSON.stringify(record.timeline[0])}\n`);
    const probeLines = (await readFile(path.join(bundle.dir, 'probes.csv'), 'utf8')).trim().split('\n');
    expect(probeLines[0]).toBe(PROBES_CSV_HEADER);
    expect(probeLines).toHaveLength(2);
  });

  it('keeps concurrent appends whole and in call order', async () => {
    const bundle = await EvidenceBundle.create(evidenceDir, 'run-a');
    const events = Array.from({ length: 200 }, (_, i) => ({ at: new Date(i).toISOString(), mono: i, event: `event ${i} ${'x'.repeat(i)}` }));
    await Promise.all(events.map((event) => bundle.appendTimeline(event)));
    await bundle.flush();
    const lines = (await readFile(path.join(bundle.dir, 'timeline.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(events);
  });

  it('CSV-escapes probe fields and reads them back unchanged', async () => {
    const bundle = await EvidenceBundle.create(evidenceDir, 'run-a');
    const tricky: ProbeAttempt = {
      probe: 'write, "quoted"',
      startedAt: '2026-11-26T17:00:00.000Z',
      startMono: 1,
      endMono: 2,
      ok: false,
      latencyMs: 1,
      error: 'line one\nline two, with "quotes"',
    };
    await bundle.appendProbe(tricky);
    await bundle.flush();
    const text = await readFile(path.join(bundle.dir, 'probes.csv'), 'utf8');
    expect(parseCsv(text)[1]).toHaveLength(7);
    expect(parseProbesCsv(text)).toEqual([tricky]);
  });

  it('finalize writes run.json, both reports and a manifest covering every file with its sha256', async () => {
    const { bundle, result, record } = await writeCompleteBundle();
    expect(result.dir).toBe(bundle.dir);
    expect(result.renderErrors).toEqual([]);

    const files = (await readdir(bundle.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const relative = files.map((e) => path.relative(bundle.dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
    expect(relative).toEqual(
      ['SHA256SUMS', 'attachments/pg_ctl-promote.log', 'manifest.json', 'probes.csv', 'report.html', 'report.md', 'run.json', 'timeline.jsonl'].sort(),
    );

    const manifestText = await readFile(path.join(bundle.dir, 'manifest.json'), 'utf8');
    expect(sha256(manifestText)).toBe(result.manifestSha256);
    const manifest = JSON.parse(manifestText) as Manifest;
    expect(manifest.schema).toBe('drillbook.dev/manifest/v1');
    expect(manifest.runId).toBe(record.runId);
    expect(manifest.files.map((f) => f.path)).toEqual(relative.filter((p) => p !== 'manifest.json' && p !== 'SHA256SUMS'));
    for (const entry of manifest.files) {
      const content = await readFile(path.join(bundle.dir, entry.path));
      expect(entry.sha256).toBe(sha256(content));
      expect(entry.bytes).toBe(content.byteLength);
    }

    expect(JSON.parse(await readFile(path.join(bundle.dir, 'run.json'), 'utf8'))).toEqual(record);
    expect(parseProbesCsv(await readFile(path.join(bundle.dir, 'probes.csv'), 'utf8'))).toEqual(makeProbes());
    // The report names the hash of run.json so a printed report ties back to the data.
    const html = await readFile(path.join(bundle.dir, 'report.html'), 'utf8');
    expect(html).toContain(sha256(await readFile(path.join(bundle.dir, 'run.json'))));

    const ledger = (await readFile(path.join(evidenceDir, 'ledger.jsonl'), 'utf8')).trim().split('\n');
    expect(ledger).toHaveLength(1);
    expect(JSON.parse(ledger[0]!)).toMatchObject({ seq: 1, runId: record.runId, dir: 'run-a', manifestSha256: result.manifestSha256, prev: '0'.repeat(64) });
    expect((await verifyBundle(bundle.dir)).ok).toBe(true);
    await expect(bundle.finalize(record)).rejects.toBeInstanceOf(EvidenceError);
  });

  it('stores attachments atomically without overwriting an earlier one of the same name', async () => {
    const bundle = await EvidenceBundle.create(evidenceDir, 'run-a');
    expect(await bundle.writeAttachment('promote.log', 'first')).toBe('attachments/promote.log');
    expect(await bundle.writeAttachment('promote.log', 'second')).toBe('attachments/promote-2.log');
    expect(await readFile(path.join(bundle.dir, 'attachments/promote.log'), 'utf8')).toBe('first');
    expect(await readdir(path.join(bundle.dir, 'attachments'))).toEqual(['promote-2.log', 'promote.log']);
    await expect(bundle.writeAttachment('../escape.log', 'x')).rejects.toBeInstanceOf(EvidenceError);
    await expect(bundle.writeAttachment('.hidden', 'x')).rejects.toBeInstanceOf(EvidenceError);
  });
});

describe('openExisting (finishing a killed run)', () => {
  it('reads what was measured, drops a torn last line, and finalizes into a valid bundle', async () => {
    const record = makeRunRecord();
    const killed = await EvidenceBundle.create(evidenceDir, 'run-killed');
    for (const event of record.timeline.slice(0, 3)) await killed.appendTimeline(event);
    for (const probe of makeProbes().slice(0, 10)) await killed.appendProbe(probe);
    // A write in flight when SIGKILL arrived: half a line, no newline.
    await appendFile(path.join(killed.dir, 'timeline.jsonl'), '{"at":"2026-11-26T17:00:0');
    await writeFile(path.join(killed.dir, '.run.json.tmp-abc123'), 'partial');

    const existing = await openExisting(killed.dir);
    expect(existing.timeline).toEqual(record.timeline.slice(0, 3));
    expect(existing.probes).toEqual(makeProbes().slice(0, 10));
    expect(existing.discardedFragments).toEqual([{ file: 'timeline.jsonl', text: '{"at":"2026-11-26T17:00:0' }]);

    await existing.bundle.appendTimeline({ at: '2026-11-26T18:00:00.000Z', mono: 0, event: 'teardown finished by drillbook recover', phase: 'teardown' });
    const recovered = makeRunRecord({ teardown: { ...record.teardown, recoveredBy: 'ops@example.com' } });
    const { manifestSha256 } = await existing.bundle.finalize(recovered);

    const verification = await verifyBundle(killed.dir);
    expect(verification).toMatchObject({ ok: true, manifestSha256 });
    const lines = (await readFile(path.join(killed.dir, 'timeline.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.every((line) => JSON.parse(line) !== undefined)).toBe(true);
    expect((await verifyLedger(evidenceDir)).ok).toBe(true);
  });

  it('refuses a finalized bundle and a directory that is not a run', async () => {
    const { bundle } = await writeCompleteBundle();
    await expect(openExisting(bundle.dir)).rejects.toThrow(/already finalized/);
    await expect(openExisting(path.join(evidenceDir, 'nope'))).rejects.toBeInstanceOf(EvidenceError);
  });
});

describe('verifyBundle', () => {
  it('detects a flipped byte', async () => {
    const { bundle } = await writeCompleteBundle();
    const file = path.join(bundle.dir, 'run.json');
    const content = await readFile(file);
    content[10] = content[10]! ^ 0x01;
    await writeFile(file, content);
    expect(await verifyBundle(bundle.dir)).toMatchObject({ ok: false, changed: ['run.json'], missing: [], unlisted: [] });
  });

  it('detects a deleted file and an added one', async () => {
    const { bundle } = await writeCompleteBundle();
    await unlink(path.join(bundle.dir, 'probes.csv'));
    await writeFile(path.join(bundle.dir, 'extra.txt'), 'slipped in later');
    expect(await verifyBundle(bundle.dir)).toMatchObject({ ok: false, changed: [], missing: ['probes.csv'], unlisted: ['extra.txt'] });
  });

  it('reports a missing manifest and refuses paths that escape the run directory', async () => {
    const { bundle } = await writeCompleteBundle();
    const manifestFile = path.join(bundle.dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
    manifest.files.push({ path: '../ledger.jsonl', sha256: 'x', bytes: 1 });
    await writeFile(manifestFile, JSON.stringify(manifest));
    const tampered = await verifyBundle(bundle.dir);
    expect(tampered.ok).toBe(false);
    expect(tampered.problems.join()).toMatch(/unsafe path/);
    await unlink(manifestFile);
    expect((await verifyBundle(bundle.dir)).problems).toEqual(['manifest.json is missing']);
  });

  it('ignores exports/, which re-rendering writes into', async () => {
    const { bundle } = await writeCompleteBundle();
    await mkdir(path.join(bundle.dir, 'exports'));
    await writeFile(path.join(bundle.dir, 'exports', 'report.html'), 'anything');
    expect((await verifyBundle(bundle.dir)).ok).toBe(true);
  });
});
