/**
 * Issue 13, finding 14: run as root with TMPDIR set to a private (0700) directory, the
 * sandbox died inside initdb ("could not open file …/primary.pw for reading: Permission
 * denied", exit 1): PostgreSQL runs as `nobody`, which cannot enter the directory. drillbook
 * now refuses before T0 with exit 2, says why and what to do, and leaves nothing behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMentioning } from '../../runners/system.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!asRoot) console.warn('!!! SKIPPED: private-TMPDIR test needs root (drillbook hands its scratch files to another user only as root)');

describe.skipIf(!asRoot)('a private TMPDIR as root', () => {
  let privateTmp: string;
  let work: string;
  beforeAll(() => {
    // mkdtemp makes the directory 0700, owned by root: what `mktemp -d` and PrivateTmp give.
    privateTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-private-'));
    fs.chmodSync(privateTmp, 0o700);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-private-evidence-'));
  });
  afterAll(() => {
    fs.rmSync(privateTmp, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('is refused before T0 with exit 2, a reason and a fix, and nothing is left running or written there', async () => {
    const evidence = path.join(work, 'evidence');
    const result = await runCli(['run', path.join(REPO_ROOT, 'scenarios/samples/orders-db-failover.yaml'), '--evidence', evidence], { env: { TMPDIR: privateTmp } });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`the scratch area ${privateTmp} is not reachable by nobody`);
    expect(result.stderr).toMatch(/TMPDIR=\/var\/tmp|chmod o\+x/);
    expect(result.stderr).not.toMatch(/Permission denied|\n\s+at /);
    // Nothing was built in the private directory and no server of this run is alive.
    expect(fs.readdirSync(privateTmp).filter((name) => name.startsWith('drillbook-'))).toEqual([]);
    expect(processesMentioning(privateTmp)).toEqual([]);
    // The refusal itself is on record: an aborted run, refused before T0, bundle sealed.
    const [runDir] = fs.readdirSync(evidence).filter((name) => fs.statSync(path.join(evidence, name)).isDirectory());
    const record = JSON.parse(fs.readFileSync(path.join(evidence, runDir!, 'run.json'), 'utf8'));
    expect(record.outcome).toBe('aborted');
    expect(record.t0).toBeNull();
    expect(record.abort.reason).toMatch(/^refused before T0: the scratch area/);
  }, 120_000);
});
