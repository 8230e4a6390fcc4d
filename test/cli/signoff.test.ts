/**
 * Sign-offs where people look (finding 4): `drillbook signoff` re-renders the run's exported
 * report with the review status, `accepted-with-findings` is a decision, the sealed report
 * says where the review record lives, and the site's run index shows the latest review.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle } from '../../reports/evidence.js';
import { runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';
import { makeRunRecord } from '../helpers/run-record-fixture.js';

let tmp: string;
let evidence: string;
let runDir: string;
let keyFile: string;

beforeAll(async () => {
  tmp = sharedTempDir('signoff-cli');
  evidence = path.join(tmp, 'evidence');
  const bundle = await EvidenceBundle.create(evidence, '2026-11-26T170000Z-orders-db-failover-7f3c2a91');
  runDir = (await bundle.finalize(makeRunRecord())).dir;
  keyFile = path.join(tmp, 'reviewer.pem');
  fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('drillbook signoff', () => {
  it('the sealed report says where the review lives; a sign-off re-renders exports/ and shows in the site', async () => {
    const sealed = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(sealed).toMatch(/Review status when this report was sealed: <strong class="pending">pending<\/strong>\. A review comes after sealing and never changes this bundle: it is recorded in <span class="mono">signoffs\.jsonl<\/span> beside this report/);
    expect(fs.readFileSync(path.join(runDir, 'report.md'), 'utf8')).toContain('it is recorded in `signoffs.jsonl` beside this report');

    const refused = await runCli(['signoff', runDir, '--reviewer', 'Dana Lee', '--decision', 'accepted-maybe', '--note', 'x', '--sign-key', `file:${keyFile}`]);
    expect(refused.code).toBe(2);

    const signoff = await runCli(['signoff', runDir, '--reviewer', 'Dana Lee', '--decision', 'accepted-with-findings', '--note', 'Accepted; F-1 tracked as R-2026-001.', '--sign-key', `file:${keyFile}`]);
    expect(signoff.code, signoff.stderr).toBe(0);
    expect(signoff.stdout).toContain('ACCEPTED-WITH-FINDINGS by Dana Lee');
    expect(signoff.stdout).toContain(`re-rendered with the review status: ${path.join(runDir, 'exports', 'report.html')}`);
    const exported = fs.readFileSync(path.join(runDir, 'exports', 'report.html'), 'utf8');
    expect(exported).toMatch(/<p id="review-status">Review status: <strong class="verdict pending">ACCEPTED WITH FINDINGS by Dana Lee at 20\d\d-/);
    expect(exported).toContain('<td class="verdict pending">accepted with findings</td>');
    expect(fs.readFileSync(path.join(runDir, 'exports', 'report.md'), 'utf8')).toMatch(/Review status: \*\*ACCEPTED WITH FINDINGS by Dana Lee at 20/);
    // The bundle itself is unchanged and still verifies.
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toBe(sealed);
    expect((await runCli(['verify', evidence])).code).toBe(0);

    // A later decision becomes the status.
    const second = await runCli(['signoff', runDir, '--reviewer', 'Sam Ortiz', '--decision', 'accepted', '--note', 'R-2026-001 re-tested.', '--sign-key', `file:${keyFile}`]);
    expect(second.code, second.stderr).toBe(0);
    expect(fs.readFileSync(path.join(runDir, 'exports', 'report.html'), 'utf8')).toMatch(/Review status: <strong class="verdict met">ACCEPTED by Sam Ortiz/);

    const site = path.join(tmp, 'site');
    const built = await runCli(['site', evidence, site]);
    expect(built.code, built.stderr).toBe(0);
    const index = fs.readFileSync(path.join(site, 'index.html'), 'utf8');
    expect(index).toContain('<th>Review</th>');
    expect(index).toMatch(/<td class="review"><span class="met">accepted by Sam Ortiz, 20\d\d-\d\d-\d\d<\/span><\/td>/);
  });
});
