/**
 * Trusted timestamps wired into the seal: `drillbook run --tsa URL` against a local TSA that
 * the test builds with openssl (test/helpers/local-tsa.ts) keeps an RFC 3161 token of
 * manifest.json as manifest.tsr. The judge is openssl (`ts -verify`), as for an auditor;
 * `drillbook verify` checks the token too, detects its deletion, and with `--tsa-ca` checks
 * its signature. A TSA that is down does not lose the evidence: the run is sealed without a
 * token, with a warning, and the manifest records why.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../../helpers/cli.js';
import { startLocalTsa, type LocalTsa } from '../../helpers/local-tsa.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';

const FAILOVER = path.join(REPO_ROOT, 'scenarios', 'samples', 'orders-db-failover.yaml');
const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
if (!hasOpenssl) console.warn('\n*** SKIPPING the run --tsa tests: openssl not installed ***\n');

function onlyRunDir(evidence: string): string {
  const dirs = fs.readdirSync(evidence).filter((d) => fs.statSync(path.join(evidence, d)).isDirectory());
  expect(dirs).toHaveLength(1);
  return path.join(evidence, dirs[0]!);
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!hasOpenssl)('run --tsa: an RFC 3161 timestamp on the sealed manifest', () => {
  let tsa: LocalTsa;
  let other: LocalTsa;
  let scratch: string;
  const evidenceDirs: string[] = [];
  const evidenceDir = () => {
    const dir = sharedTempDir('drillbook-evidence-');
    evidenceDirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    tsa = await startLocalTsa();
    other = await startLocalTsa();
    scratch = sharedTempDir('drillbook-scratch-');
  });
  afterAll(async () => {
    await tsa?.stop();
    await other?.stop();
    for (const dir of [...evidenceDirs, scratch]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('manifest.tsr verifies with openssl ts -verify and drillbook verify; its deletion is detected', async () => {
    const evidence = evidenceDir();
    const run = await runCli(['run', FAILOVER, '--evidence', evidence, '--tsa', tsa.url], { env: { TMPDIR: scratch } });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/warning: no trusted timestamp/);
    const runDir = onlyRunDir(evidence);
    const manifestFile = path.join(runDir, 'manifest.json');
    const tokenFile = path.join(runDir, 'manifest.tsr');
    expect(fs.existsSync(tokenFile)).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { timestamp?: { tsa: string; token?: string }; files: { path: string }[] };
    expect(manifest.timestamp?.token).toBe('manifest.tsr');
    expect(manifest.timestamp?.tsa).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(manifest.files.map((f) => f.path)).not.toContain('manifest.tsr');
    expect(tsa.requests).toBe(1);

    // The auditor's check, with openssl alone.
    const openssl = spawnSync('openssl', ['ts', '-verify', '-data', manifestFile, '-in', tokenFile, '-token_in', '-CAfile', tsa.caFile, '-untrusted', tsa.tsaCertFile], { encoding: 'utf8' });
    expect(openssl.status, openssl.stdout + openssl.stderr).toBe(0);
    expect(openssl.stdout).toMatch(/Verification: OK/);
    // And against another CA, openssl refuses it: the check is not vacuous.
    const wrongCa = spawnSync('openssl', ['ts', '-verify', '-data', manifestFile, '-in', tokenFile, '-token_in', '-CAfile', other.caFile], { encoding: 'utf8' });
    expect(wrongCa.status).not.toBe(0);

    const verified = await runCli(['verify', evidence, '--tsa-ca', tsa.caFile]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/timestamp: manifest\.json stamped by .* at \d{4}-\d\d-\d\dT.*signature verified against --tsa-ca/);
    const digestOnly = await runCli(['verify', evidence]);
    expect(digestOnly.code, digestOnly.stdout + digestOnly.stderr).toBe(0);
    expect(digestOnly.stdout).toMatch(/timestamp: .*digest checked/);
    const otherCa = await runCli(['verify', evidence, '--tsa-ca', other.caFile]);
    expect(otherCa.code, otherCa.stdout).toBe(1);
    expect(otherCa.stderr).toMatch(/manifest\.tsr/);

    const token = fs.readFileSync(tokenFile);
    const stamped = fs.readFileSync(manifestFile);

    fs.rmSync(tokenFile);
    const deleted = await runCli(['verify', evidence]);
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(1);
    expect(deleted.stderr).toMatch(/missing: manifest\.tsr/);

    // Put back, it verifies again; a manifest edited to promise no token is a changed manifest.
    fs.writeFileSync(tokenFile, token);
    expect((await runCli(['verify', evidence])).code).toBe(0);
    const { timestamp: _dropped, ...unpromised } = JSON.parse(stamped.toString('utf8')) as Record<string, unknown>;
    fs.writeFileSync(manifestFile, `${JSON.stringify(unpromised, null, 2)}\n`);
    const stripped = await runCli(['verify', evidence]);
    expect(stripped.code).toBe(1);
    expect(stripped.stderr).toMatch(/manifest\.tsr stamps sha256 [0-9a-f]{64}, not this manifest\.json/);
  });

  it('a TSA that is down: the run is still sealed, with a warning, and the manifest records why', async () => {
    const evidence = evidenceDir();
    const down = `http://127.0.0.1:${await closedPort()}/tsa`;
    const run = await runCli(['run', FAILOVER, '--evidence', evidence, '--tsa', down], { env: { TMPDIR: scratch } });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: no trusted timestamp: .*127\.0\.0\.1.*sealed without one/);
    const runDir = onlyRunDir(evidence);
    expect(fs.existsSync(path.join(runDir, 'manifest.tsr'))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as { timestamp?: { tsa: string; token?: string; error?: string } };
    expect(manifest.timestamp?.tsa).toBe(down);
    expect(manifest.timestamp?.token).toBeUndefined();
    expect(manifest.timestamp?.error).toMatch(/127\.0\.0\.1/);
    const verified = await runCli(['verify', evidence]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/timestamp: none: the TSA .* failed at seal/);
  });

  it('a bad --tsa or DRILLBOOK_TSA is refused before anything runs (exit 2)', async () => {
    const evidence = evidenceDir();
    const bad = await runCli(['run', FAILOVER, '--evidence', evidence, '--tsa', 'ftp://127.0.0.1/tsa'], { env: { TMPDIR: scratch } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tsa: TSA URL .* is not an http:\/\/ or https:\/\/ URL/);
    const badEnv = await runCli(['run', FAILOVER, '--evidence', evidence], { env: { TMPDIR: scratch, DRILLBOOK_TSA: 'not a url' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/DRILLBOOK_TSA: TSA URL .* is not a URL/);
    expect(fs.readdirSync(evidence)).toEqual([]);
  });
});
