/**
 * The reading commands on `s3://bucket/prefix` (read in place, reports/evidence/source.ts)
 * against the same evidence in a local directory: the same output and exit codes. Ground
 * truth: the local directory the test writes, copied object for object into the fake S3.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../../reports/evidence.js';
import { listFilesRecursive } from '../../../reports/evidence-files.js';
import { recordRunItems } from '../../../reports/remediation.js';
import { appendSignoff } from '../../../reports/signoff.js';
import { runCli } from '../../helpers/cli.js';
import { fakeObject, startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import { FIRST_FAILING_RUN, makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';
import { NOW, PLAN, fixtureRecord, FIXTURE_RUNS, writeFixtureEvidence } from '../../fixtures/coverage/evidence.js';

const Bucket = 'acme-drill-evidence';
const Prefix = 'prod/eu';
const S3 = `s3://${Bucket}/${Prefix}`;
let fake: FakeS3;
let work: string;
let evidence: string;
let bundleDir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket, 'empty-bucket'] });
  work = await mkdtemp(path.join(os.tmpdir(), 'drillbook-s3-read-'));
  evidence = path.join(work, 'evidence');
  // Runs of several systems for coverage, their items in the register, and one real signed
  // bundle (report.html, manifest, probes) with a sign-off for site and report.
  writeFixtureEvidence(evidence);
  for (const [index, run] of FIXTURE_RUNS.entries()) {
    if (run.outcome === 'failed') await recordRunItems(evidence, { ...fixtureRecord(run, index), remediation: makeRunRecord(FIRST_FAILING_RUN).remediation }, { now: new Date(NOW) });
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const record = makeRunRecord(FIRST_FAILING_RUN);
  await recordRunItems(evidence, record, { now: new Date(NOW) });
  const bundle = await EvidenceBundle.create(evidence, 'orders-db-failover', { signingKey: privateKey });
  for (const event of record.timeline) await bundle.appendTimeline(event);
  for (const probe of makeProbes()) await bundle.appendProbe(probe);
  bundleDir = (await bundle.finalize(record)).dir;
  await appendSignoff(bundleDir, { reviewer: 'auditor', decision: 'accepted-with-findings', note: 'RTO missed, item opened', signingKey: generateKeyPairSync('ed25519').privateKey });
  // The same bytes under the prefix, as the upload lays them out (the checksum S3 keeps too).
  const objects = fake.buckets.get(Bucket)!;
  for (const file of await listFilesRecursive(evidence)) {
    const body = await readFile(path.join(evidence, file));
    objects.set(`${Prefix}/${file}`, fakeObject(body));
  }
  // What the store holds beside the runs: the shared chain and a lock (never taken for runs).
  objects.set(`${Prefix}/ledger/000000000001.json`, { ...objects.get(`${Prefix}/ledger.jsonl`)! });
  objects.set(`${Prefix}/locks/orders-db.json`, { ...objects.get(`${Prefix}/ledger.jsonl`)! });
  env = { AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_PROFILE: '' };
}, 60_000);

afterAll(async () => {
  await fake.close();
  await rm(work, { recursive: true, force: true });
});

/** Output with the location named the same way, so the two runs can be compared. */
const same = (text: string, where: string) => text.split(where).join('<evidence>');

async function both(args: (where: string) => string[]) {
  const local = await runCli(args(evidence), { env, cwd: work });
  const remote = await runCli(args(S3), { env, cwd: work });
  return { local, remote };
}

describe('reading commands on s3://bucket/prefix', () => {
  it('coverage: the same table, JSON and exit code as for the directory', async () => {
    for (const format of ['table', 'json', 'csv']) {
      const { local, remote } = await both((where) => ['coverage', '--plan', PLAN, '--evidence', where, '--now', NOW, '--format', format]);
      expect(local.code, local.stderr).toBe(1);
      expect(remote.code, remote.stderr).toBe(local.code);
      expect(same(remote.stdout, S3)).toBe(same(local.stdout, evidence));
      expect(same(remote.stderr, S3)).toBe(same(local.stderr, evidence));
    }
    const json = JSON.parse((await runCli(['coverage', '--plan', PLAN, '--evidence', S3, '--now', NOW, '--format', 'json'], { env })).stdout) as { rows: unknown[]; counts: Record<string, number> };
    // The fixture's figures (test/fixtures/coverage): 6 required tests, 1 overdue, 1 never tested.
    expect(json.rows).toHaveLength(6);
    expect(json.counts).toMatchObject({ covered: 3, 'due-soon': 1, overdue: 1, 'never-tested': 1 });
  });

  it('remediation list and export: the same items', async () => {
    for (const args of [['remediation', 'list'], ['remediation', 'list', '--json'], ['remediation', 'export', '--format', 'csv'], ['remediation', 'export', '--format', 'json'], ['remediation', 'show', 'R-2026-001']]) {
      const { local, remote } = await both((where) => [...args, '--evidence', where]);
      expect(local.code, local.stderr).toBe(0);
      expect(remote.code, remote.stderr).toBe(0);
      // An export is stamped with its own time (exportedAt).
      const stamp = (text: string) => text.replace(/"exportedAt": "[^"]+"/, '"exportedAt": "<time>"');
      expect(stamp(same(remote.stdout, S3))).toBe(stamp(same(local.stdout, evidence)));
    }
    const items = JSON.parse((await runCli(['remediation', 'list', '--json', '--evidence', S3], { env })).stdout) as { id: string }[];
    expect(items.length).toBeGreaterThanOrEqual(2);
  });

  it('site: the same pages, with every report copied from S3 and the sign-off shown', async () => {
    const outLocal = path.join(work, 'site-local');
    const outRemote = path.join(work, 'site-s3');
    const local = await runCli(['site', evidence, outLocal, '--plan', PLAN, '--now', NOW], { env });
    const remote = await runCli(['site', S3, outRemote, '--plan', PLAN, '--now', NOW], { env });
    expect(local.code, local.stderr).toBe(0);
    expect(remote.code, remote.stderr).toBe(0);
    expect(same(remote.stdout, outRemote).replace(S3, '<evidence>')).toBe(same(local.stdout, outLocal).replace(evidence, '<evidence>'));
    const files = (await listFilesRecursive(outLocal)).sort();
    expect((await listFilesRecursive(outRemote)).sort()).toEqual(files);
    for (const file of files) {
      const a = same(fs.readFileSync(path.join(outLocal, file), 'utf8'), evidence);
      const b = same(fs.readFileSync(path.join(outRemote, file), 'utf8'), S3);
      expect(b, file).toBe(a);
    }
    const name = path.basename(bundleDir);
    expect(fs.readFileSync(path.join(outRemote, 'runs', name, 'report.html'))).toEqual(fs.readFileSync(path.join(bundleDir, 'report.html')));
    expect(fs.readFileSync(path.join(outRemote, 'index.html'), 'utf8')).toContain('accepted with findings by auditor');
  });

  it('report: renders a run read from S3 to --out, the same files as from the directory', async () => {
    const name = path.basename(bundleDir);
    const outLocal = path.join(work, 'report-local');
    const outRemote = path.join(work, 'report-s3');
    const local = await runCli(['report', bundleDir, '--format', 'md,json,junit', '--out', outLocal], { env });
    const remote = await runCli(['report', `${S3}/${name}`, '--format', 'md,json,junit', '--out', outRemote], { env });
    expect(local.code, local.stderr).toBe(0);
    expect(remote.code, remote.stderr).toBe(0);
    for (const file of ['report.md', 'run.json', 'junit.xml']) {
      // earlierItemsAsOf is the rendering time: equal up to it.
      const strip = (text: string) => text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>');
      expect(strip(fs.readFileSync(path.join(outRemote, file), 'utf8')), file).toBe(strip(fs.readFileSync(path.join(outLocal, file), 'utf8')));
    }
    expect(fs.readFileSync(path.join(outRemote, 'run.json'))).toEqual(fs.readFileSync(path.join(bundleDir, 'run.json')));
    expect(fs.readFileSync(path.join(outRemote, 'report.md'), 'utf8')).toMatch(/auditor/);
  });

  it('a bucket that does not exist, an empty prefix, a missing run: a clear error and exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['coverage', '--plan', PLAN, '--evidence', 's3://no-such-bucket/prod', '--now', NOW], /s3:\/\/no-such-bucket\/prod: there is no bucket no-such-bucket/],
      [['remediation', 'list', '--evidence', `s3://${Bucket}/staging`], /s3:\/\/acme-drill-evidence\/staging: no objects under this prefix/],
      [['site', 's3://empty-bucket', path.join(work, 'site-empty')], /s3:\/\/empty-bucket: no objects under this prefix/],
      [['report', `${S3}/2026-01-01T000000Z-nothing-here`], /not found: is s3:\/\/acme-drill-evidence\/prod\/eu\/2026-01-01T000000Z-nothing-here a drillbook run directory/],
      [['report', `s3://${Bucket}`], /give the run's location, s3:\/\/bucket\/prefix\/<run dir>/],
      [['remediation', 'export', '--evidence', 's3://Bad_Bucket/x'], /invalid S3 bucket/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { env, cwd: work });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(fs.existsSync(path.join(work, 'site-empty'))).toBe(false);
  }, 60_000);
});
