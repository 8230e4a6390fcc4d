/**
 * RFC 3161 timestamps against a real TSA that the test builds with openssl (test/helpers/
 * local-tsa.ts). The judge of every token is openssl itself (`ts -verify`, `ts -reply -text`),
 * not drillbook's parser; the TSA is made to misbehave (wrong nonce, wrong digest, HTTP errors,
 * silence) to show what the client refuses and retries.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as asn1js from 'asn1js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTimestampRequest, checkTsaUrl, describeTimestampToken, requestTimestamp, TIMESTAMP_TOKEN_FILE, TimestampError, verifyTimestampToken } from '../../../reports/timestamp.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { LOCAL_TSA_POLICY, openssl, startLocalTsa, type LocalTsa } from '../../helpers/local-tsa.js';

const hasOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
if (!hasOpenssl) console.warn('\n*** SKIPPING the TSA tests: openssl not installed ***\n');

const sha256 = (data: Uint8Array | string) => new Uint8Array(createHash('sha256').update(data).digest());

/** `openssl ts -verify` as the auditor runs it; exit code and output. */
function opensslVerify(tsa: LocalTsa, dataFile: string, tokenFile: string, caFile = tsa.caFile) {
  const result = spawnSync('openssl', ['ts', '-verify', '-data', dataFile, '-in', tokenFile, '-token_in', '-CAfile', caFile, '-untrusted', tsa.tsaCertFile], { encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.skipIf(!hasOpenssl)('RFC 3161 timestamps against a local openssl TSA', () => {
  let tsa: LocalTsa;
  let other: LocalTsa;
  let work: string;

  beforeAll(async () => {
    tsa = await startLocalTsa();
    other = await startLocalTsa();
    work = mkdtempSync(path.join(os.tmpdir(), 'drillbook-tsa-test-'));
  });
  afterAll(async () => {
    await tsa?.stop();
    await other?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds a request that openssl reads as SHA-256 of the digest, with the nonce and certReq', async () => {
    const digest = sha256('request under test');
    const { der, nonce } = buildTimestampRequest(digest, { policy: '1.2.3.4.5' });
    writeFileSync(path.join(work, 'req.tsq'), der);
    const text = (await openssl(['ts', '-query', '-in', path.join(work, 'req.tsq'), '-text'])).stdout;
    expect(text).toMatch(/Hash Algorithm: sha256/);
    const dump = /Message data:\n([\s\S]*?)\nPolicy OID/.exec(text)![1]!;
    const hex = dump.split('\n').map((l) => l.slice(l.indexOf(' - ') + 3, l.indexOf(' - ') + 50).replace(/[ -]/g, '')).join('');
    expect(hex).toBe(Buffer.from(digest).toString('hex'));
    expect(text).toMatch(/Policy OID: 1\.2\.3\.4\.5/);
    expect(BigInt(/Nonce: (0x[0-9A-F]+)/i.exec(text)![1]!)).toBe(nonce);
    expect(text).toMatch(/Certificate required: yes/);
    // Nonces are fresh per request.
    expect(buildTimestampRequest(digest).nonce).not.toBe(nonce);
  });

  it('stamps a file and openssl ts -verify accepts the stored token; one changed byte fails it', async () => {
    const dataFile = path.join(work, 'manifest.json');
    const content = '{"runId":"r-1","files":[{"path":"run.json","sha256":"00"}]}\n';
    writeFileSync(dataFile, content);
    const before = Date.now();
    const result = await requestTimestamp(tsa.url, sha256(content));
    const after = Date.now();
    const tokenFile = path.join(work, TIMESTAMP_TOKEN_FILE);
    writeFileSync(tokenFile, result.token);

    const ok = opensslVerify(tsa, dataFile, tokenFile);
    expect(ok.output).toMatch(/Verification: OK/);
    expect(ok.code).toBe(0);

    // What the client reports agrees with openssl's own reading of the token, and genTime
    // lies within the test's clock around the request (TSA precision: whole seconds).
    const text = (await openssl(['ts', '-reply', '-in', tokenFile, '-token_in', '-text'])).stdout;
    expect(BigInt(/Serial number: (0x[0-9A-F]+)/i.exec(text)![1]!)).toBe(BigInt(`0x${result.serialNumber}`));
    expect(BigInt(/Nonce: (0x[0-9A-F]+)/i.exec(text)![1]!)).toBe(BigInt(`0x${result.nonce}`));
    expect(text).toContain(`Policy OID: ${LOCAL_TSA_POLICY}`);
    expect(result.policy).toBe(LOCAL_TSA_POLICY);
    const opensslTime = new Date(/Time stamp: (.+)/.exec(text)![1]!.trim()).getTime();
    expect(result.genTime.getTime()).toBe(opensslTime);
    expect(result.genTime.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(result.genTime.getTime()).toBeLessThanOrEqual(after);
    expect(result.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(result.tsaName).toContain('CN=drillbook test TSA');
    expect(result.attempts).toBe(1);
    expect(describeTimestampToken(result.token)).toEqual({ genTime: result.genTime, serialNumber: result.serialNumber, policy: result.policy, sha256: result.sha256, nonce: result.nonce, tsaName: result.tsaName });

    // One byte changed (a digit of the run id) and the same token no longer verifies.
    const changed = path.join(work, 'manifest-changed.json');
    writeFileSync(changed, content.replace('r-1', 'r-2'));
    const bad = opensslVerify(tsa, changed, tokenFile);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/Verification: FAILED/);
    expect(bad.output).toMatch(/message imprint mismatch/);
    // A token checked against another CA does not verify either.
    expect(opensslVerify(tsa, dataFile, tokenFile, other.caFile).code).not.toBe(0);
  });

  it('the auditor commands of docs/verification.md, run verbatim, pass for a bundle manifest and fail for a changed one', async () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'verification.md'), 'utf8');
    const block = /<!-- tsa-verification-test -->\s*```sh\n([\s\S]*?)```/.exec(doc)?.[1];
    const attime = /`(-attime "\$\(date[^`]+)`/.exec(doc)?.[1];
    expect(block, 'docs/verification.md has a sh block after <!-- tsa-verification-test -->').toBeDefined();
    expect(attime, 'docs/verification.md shows the -attime variant').toBeDefined();
    const runDir = mkdtempSync(path.join(work, 'run-'));
    const manifest = `${JSON.stringify({ schema: 'drillbook.manifest/1', runId: 'r-doc', files: [] }, null, 2)}\n`;
    writeFileSync(path.join(runDir, 'manifest.json'), manifest);
    writeFileSync(path.join(runDir, TIMESTAMP_TOKEN_FILE), (await requestTimestamp(tsa.url, sha256(manifest))).token);
    writeFileSync(path.join(runDir, 'tsa-ca.pem'), tsa.caCertPem);
    const run = (script: string) => spawnSync('bash', ['-e', '-c', script], { cwd: runDir, encoding: 'utf8' });
    const withAttime = `openssl ts -verify -data manifest.json -in manifest.tsr -token_in -CAfile tsa-ca.pem ${attime}`;

    const ok = run(block!);
    expect(ok.stdout).toMatch(/Verification: OK/);
    expect(ok.stdout).toMatch(/^Time stamp: /m);
    expect(ok.status).toBe(0);
    expect(run(withAttime).status).toBe(0);

    writeFileSync(path.join(runDir, 'manifest.json'), manifest.replace('r-doc', 'r-dod'));
    const bad = run(block!);
    expect(bad.status).not.toBe(0);
    expect(`${bad.stdout}${bad.stderr}`).toMatch(/message imprint mismatch/);
    expect(run(withAttime).status).not.toBe(0);
  });

  it('verifyTimestampToken agrees with openssl: the right data and CA pass, changed data or another CA fail', async () => {
    const content = Buffer.from('manifest bytes for the library check\n');
    const { token } = await requestTimestamp(tsa.url, sha256(content));
    const info = await verifyTimestampToken(token, content, { caCertPem: tsa.caCertPem });
    expect(info.sha256).toBe(createHash('sha256').update(content).digest('hex'));

    const changed = Buffer.from(content);
    changed[0] = changed[0]! ^ 1;
    await expect(verifyTimestampToken(token, changed, { caCertPem: tsa.caCertPem })).rejects.toThrow(/the data changed after it was stamped/);
    await expect(verifyTimestampToken(token, content, { caCertPem: other.caCertPem })).rejects.toThrow(/does not verify/);
    // The policy OID inside the signed TSTInfo changed to a sibling (…13.1 → …13.2): the token
    // still parses and says another policy, and its signature no longer matches.
    const policyDer = Buffer.from(new asn1js.ObjectIdentifier({ value: LOCAL_TSA_POLICY }).toBER());
    const at = Buffer.from(token).indexOf(policyDer);
    expect(at).toBeGreaterThan(0);
    const forged = Buffer.from(token);
    forged[at + policyDer.length - 1] = 2;
    expect(describeTimestampToken(forged).policy).toBe(LOCAL_TSA_POLICY.replace(/1$/, '2'));
    await expect(verifyTimestampToken(forged, content, { caCertPem: tsa.caCertPem })).rejects.toThrow(/the signature or the TSA certificate does not verify: .*Message digest doesn't match/);
    await expect(verifyTimestampToken(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), content, { caCertPem: tsa.caCertPem })).rejects.toThrow(/not an RFC 3161 TimeStampToken/);
  });

  /**
   * A genuine token's TSTInfo for `content`, re-signed with `openssl cms -sign` (plain CMS,
   * no ESS signing-certificate attribute) by `signer`; the forged token and the data file.
   */
  async function resignedToken(name: string, content: string, signer: { cert: string; key: string; extra?: string[] }) {
    const { token } = await requestTimestamp(tsa.url, sha256(content));
    const file = (suffix: string) => path.join(work, `${name}-${suffix}`);
    writeFileSync(file('data.txt'), content);
    writeFileSync(file('real.tsr'), token);
    await openssl(['cms', '-verify', '-noverify', '-inform', 'DER', '-in', file('real.tsr'), '-out', file('tst.der')]);
    await openssl(['cms', '-sign', '-binary', '-nodetach', ...(signer.extra ?? []), '-econtent_type', '1.2.840.113549.1.9.16.1.4', '-md', 'sha256', '-in', file('tst.der'), '-signer', signer.cert, '-inkey', signer.key, '-outform', 'DER', '-out', file('forged.tsr')]);
    return { forged: readFileSync(file('forged.tsr')), forgedFile: file('forged.tsr'), dataFile: file('data.txt') };
  }

  it('refuses a token signed by a certificate that is not a TSA certificate, as openssl does', async () => {
    const content = 'signed by the CA itself';
    // The CA key: a valid chain, but no timeStamping EKU.
    const { forged, forgedFile, dataFile } = await resignedToken('eku', content, { cert: tsa.caFile, key: path.join(tsa.dir, 'ca.key') });
    expect(describeTimestampToken(forged).sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(opensslVerify(tsa, dataFile, forgedFile).code).not.toBe(0);
    await expect(verifyTimestampToken(forged, Buffer.from(content), { caCertPem: tsa.caCertPem })).rejects.toThrow(/not a TSA certificate/);
  });

  it('refuses a token signed with the TSA key but without the ESS attribute naming its certificate, as openssl does', async () => {
    const content = 'no ESS attribute';
    // The TSA's key and certificate (so the EKU is right), the signer named by its subject key
    // identifier (-keyid), but no signing-certificate attribute.
    const { forged, forgedFile, dataFile } = await resignedToken('ess', content, { cert: tsa.tsaCertFile, key: path.join(tsa.dir, 'tsa.key'), extra: ['-keyid'] });
    expect(opensslVerify(tsa, dataFile, forgedFile).code).not.toBe(0);
    await expect(verifyTimestampToken(forged, Buffer.from(content), { caCertPem: tsa.caCertPem })).rejects.toThrow(/no ESS signing-certificate attribute/);
  });

  it('works with an RSA TSA and the v1 (SHA-1) ESS attribute too (openssl and verifyTimestampToken)', async () => {
    const rsa = await startLocalTsa({ keyType: 'rsa', essCertIdAlg: 'sha1' });
    try {
      const dataFile = path.join(work, 'rsa-data.txt');
      writeFileSync(dataFile, 'rsa');
      const { token } = await requestTimestamp(rsa.url, sha256('rsa'));
      const oid = (value: string) => Buffer.from(new asn1js.ObjectIdentifier({ value }).toBER());
      expect(Buffer.from(token).includes(oid('1.2.840.113549.1.9.16.2.12'))).toBe(true); // SigningCertificate (v1)
      expect(Buffer.from(token).includes(oid('1.2.840.113549.1.9.16.2.47'))).toBe(false);
      writeFileSync(path.join(work, 'rsa.tsr'), token);
      expect(opensslVerify(rsa, dataFile, path.join(work, 'rsa.tsr')).code).toBe(0);
      await expect(verifyTimestampToken(token, Buffer.from('rsa'), { caCertPem: rsa.caCertPem })).resolves.toMatchObject({ policy: LOCAL_TSA_POLICY });
      await expect(verifyTimestampToken(token, Buffer.from('rsa'), { caCertPem: tsa.caCertPem })).rejects.toThrow(/does not verify/);
    } finally {
      await rsa.stop();
    }
  });

  it('rejects a validly signed reply with another nonce (a replayed or misrouted answer)', async () => {
    const digest = sha256('nonce check');
    tsa.script('other-nonce');
    const start = tsa.requests;
    await expect(requestTimestamp(tsa.url, digest, { retryDelayMs: 1 })).rejects.toThrow(/nonce [0-9a-f]+ is not the request's [0-9a-f]+: a reply to another request/);
    expect(tsa.requests - start).toBe(1); // a wrong answer is not retried
  });

  it('rejects a validly signed reply for another digest', async () => {
    tsa.script('other-digest');
    await expect(requestTimestamp(tsa.url, sha256('digest check'), { retryDelayMs: 1 })).rejects.toThrow(
      new RegExp(`stamps digest [0-9a-f]{64}, not the requested ${Buffer.from(sha256('digest check')).toString('hex')}`),
    );
  });

  it('reports a refusal by the TSA with its status and failure reason', async () => {
    await expect(requestTimestamp(tsa.url, sha256('policy'), { policy: '1.2.3.999' })).rejects.toThrow(/refused the request: status rejection \(unacceptedPolicy\)/);
    const accepted = await requestTimestamp(tsa.url, sha256('policy'), { policy: `${LOCAL_TSA_POLICY}.2` });
    expect(accepted.policy).toBe(`${LOCAL_TSA_POLICY}.2`);
  });

  it('retries a TSA that answers 500, then succeeds; a 400 is not retried', async () => {
    tsa.script({ status: 500 });
    const start = tsa.requests;
    const result = await requestTimestamp(tsa.url, sha256('retry'), { retryDelayMs: 20 });
    expect(result.attempts).toBe(2);
    expect(tsa.requests - start).toBe(2);

    tsa.script({ status: 400 });
    const again = tsa.requests;
    await expect(requestTimestamp(tsa.url, sha256('no retry'), { retryDelayMs: 1 })).rejects.toThrow(/no timestamp after 1 of 3 attempt\(s\): attempt 1: HTTP 400/);
    expect(tsa.requests - again).toBe(1);

    tsa.script({ status: 503 }, { status: 503 }, { status: 503 });
    await expect(requestTimestamp(tsa.url, sha256('gives up'), { attempts: 3, retryDelayMs: 1 })).rejects.toThrow(/no timestamp after 3 of 3 attempt\(s\): attempt 1: HTTP 503.*attempt 3: HTTP 503/);
  });

  it('gives up on a TSA that never answers with a clear timeout error, within the bound', async () => {
    tsa.script('hang', 'hang');
    const start = Date.now();
    await expect(requestTimestamp(tsa.url, sha256('silence'), { timeoutMs: 300, attempts: 2, retryDelayMs: 10 })).rejects.toThrow(
      /no timestamp after 2 of 2 attempt\(s\): attempt 1: no complete answer within 300 ms; attempt 2: no complete answer within 300 ms/,
    );
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(5000);
  });

  it('names a refused connection, and never shows a password given in the URL', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await requestTimestamp(`http://auditor:s3cret-pw@127.0.0.1:${port}/tsa`, sha256('refused'), { attempts: 2, retryDelayMs: 1 }).then(
      () => new Error('expected a refused connection'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(TimestampError);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toContain(`http://127.0.0.1:${port}/tsa`);
    expect(error.message).not.toContain('s3cret-pw');
    const withQuery = await requestTimestamp(`http://127.0.0.1:${port}/tsa?api_key=k3y-value`, sha256('refused'), { attempts: 1 }).then(
      () => new Error('expected a refused connection'),
      (e: unknown) => e as Error,
    );
    expect(withQuery.message).toContain(`http://127.0.0.1:${port}/tsa?…`);
    expect(withQuery.message).not.toContain('k3y-value');
    // The credentials travel as HTTP Basic authentication instead.
    await requestTimestamp(tsa.url.replace('http://', 'http://auditor:s3cret-pw@'), sha256('with credentials'));
    expect(tsa.lastHeaders?.authorization).toBe(`Basic ${Buffer.from('auditor:s3cret-pw').toString('base64')}`);
    expect(tsa.lastHeaders?.['content-type']).toBe('application/timestamp-query');
    expect(checkTsaUrl('https://user:pw@tsa.example/stamp?key=1')).toBe('https://tsa.example/stamp?…');
    expect(() => checkTsaUrl('file:///etc/passwd')).toThrow(TimestampError);
    await expect(requestTimestamp('not a url', sha256('x'))).rejects.toThrow(/is not a URL/);
    await expect(requestTimestamp('ftp://127.0.0.1/tsa', sha256('x'))).rejects.toThrow(/not an http:\/\/ or https:\/\/ URL/);
    await expect(requestTimestamp(tsa.url, new Uint8Array(20))).rejects.toThrow(/SHA-256 digest is 32 bytes; got 20 bytes/);
  });

  it('stops at once when aborted', async () => {
    tsa.script('hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('drill interrupted')), 100);
    const start = Date.now();
    await expect(requestTimestamp(tsa.url, sha256('abort'), { signal: controller.signal, timeoutMs: 10_000 })).rejects.toThrow(/aborted/);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('the token file is the DER token openssl reads back unchanged', async () => {
    const { token } = await requestTimestamp(tsa.url, sha256('roundtrip'));
    const tokenFile = path.join(work, 'rt.tsr');
    writeFileSync(tokenFile, token);
    await openssl(['ts', '-reply', '-in', tokenFile, '-token_in', '-token_out', '-out', path.join(work, 'rt2.tsr')]);
    expect(Buffer.compare(readFileSync(path.join(work, 'rt2.tsr')), Buffer.from(token))).toBe(0);
  });
});
