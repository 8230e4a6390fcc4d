import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../reports/evidence-files.js';
import { LEDGER_GENESIS, parseLedgerLine } from '../../../reports/evidence/ledger.js';
import { checkRegisterText } from '../../../reports/remediation-events.js';
import { runCli } from '../../helpers/cli.js';
import { startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';

const Bucket = 'acme-drill-evidence';
let fake: FakeS3;
const tmps: string[] = [];

beforeAll(async () => {
  fake = await startFakeS3({ buckets: [Bucket] });
});
afterAll(async () => {
  await fake.close();
  for (const dir of tmps) await rm(dir, { recursive: true, force: true });
});

/**
 * A runner of its own: its own TMPDIR, hence its own staging directory and staging ledger. The
 * two runs drill one system at once on purpose (the ledger race): no per-system lock.
 */
async function runnerEnv(): Promise<NodeJS.ProcessEnv> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'drillbook-run-s3-'));
  tmps.push(tmp);
  return { TMPDIR: tmp, AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'fake', AWS_SECRET_ACCESS_KEY: 'fake', AWS_PROFILE: '', DRILLBOOK_COORDINATION: 'none' };
}

describe('drillbook run --evidence s3://… from two runners', () => {
  it('appends both runs to one chain, both runs\' remediation items to one register, and verify s3:// reads it intact', async () => {
    const args = ['run', 'scenarios/samples/lose-primary-region-walkthrough.yaml', '--answers', 'scenarios/samples/lose-primary-region-walkthrough.answers.yaml', '--evidence', `s3://${Bucket}/prod`];
    const [a, b] = await Promise.all([runCli(args, { env: await runnerEnv() }), runCli(args, { env: await runnerEnv() })]);
    for (const result of [a, b]) {
      expect(result.stdout + result.stderr).toMatch(/uploaded \d+ objects to s3:\/\/acme-drill-evidence\/prod/);
      expect(result.stderr).not.toMatch(/NOT UPLOADED/);
    }
    const objects = fake.buckets.get(Bucket)!;
    const lines = ['prod/ledger/000000000001.json', 'prod/ledger/000000000002.json'].map((key) => objects.get(key)!.body.toString('utf8').slice(0, -1));
    expect(parseLedgerLine(lines[0]!)!.prev).toBe(LEDGER_GENESIS);
    expect(parseLedgerLine(lines[1]!)!.prev).toBe(sha256Hex(lines[0]!));
    expect(new Set(lines.map((line) => parseLedgerLine(line)!.runId)).size).toBe(2);
    expect(objects.has('prod/ledger/000000000003.json')).toBe(false);
    const register = checkRegisterText(objects.get('prod/remediation.jsonl')!.body.toString('utf8'));
    expect(register.chain).toEqual([]);
    expect(new Set(register.events.map((event) => (event as { runId?: string }).runId)).size).toBe(2);

    const verify = await runCli(['verify', `s3://${Bucket}/prod`], { env: await runnerEnv() });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/ledger\/: chain intact \(2 runs\)/);
    expect(verify.stdout).toMatch(/remediation\.jsonl: chain intact \(\d+ events\)/);
  }, 120_000);
});
