/**
 * RFC 3161 trusted timestamps for evidence: ask a time-stamping authority (TSA) to sign "this
 * SHA-256 digest existed at genTime", check that its answer is an answer to our question, and
 * keep the DER token, which an auditor checks with openssl alone:
 *
 *   openssl ts -verify -data manifest.json -in manifest.tsr -token_in -CAfile tsa-ca.pem
 *
 * ASN.1 is pkijs/asn1js (no hand-written DER). The client checks what a signature cannot tell
 * it: that the TSA granted the request, stamped *our* digest with SHA-256, echoed *our* nonce (a
 * fresh reply, not a replayed one) and included its certificate. The signature and the TSA's
 * certificate chain are checked by `verifyTimestampToken` against a CA the verifier pins, since
 * whoever requests the stamp need not know (or trust) the CA.
 *
 * Library code: nothing here prints or exits; every failure is a TimestampError whose message
 * names the TSA (with any user:password in its URL removed) and what went wrong.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, Certificate, ContentInfo, ExtKeyUsage, MessageImprint, SignedData, TimeStampReq, TimeStampResp, TSTInfo } from 'pkijs';

/** The token stored beside a bundle's manifest.json: DER ContentInfo (`openssl ts -verify -token_in`). */
export const TIMESTAMP_TOKEN_FILE = 'manifest.tsr';
export const TIMESTAMP_QUERY_CONTENT_TYPE = 'application/timestamp-query';
export const TIMESTAMP_REPLY_CONTENT_TYPE = 'application/timestamp-reply';

const SHA256_OID = '2.16.840.1.101.3.4.2.1';
const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
const TST_INFO_OID = '1.2.840.113549.1.9.16.1.4';
const EXTENDED_KEY_USAGE_OID = '2.5.29.37';
const TIME_STAMPING_OID = '1.3.6.1.5.5.7.3.8';
const ESS_SIGNING_CERTIFICATE_OID = '1.2.840.113549.1.9.16.2.12';
const ESS_SIGNING_CERTIFICATE_V2_OID = '1.2.840.113549.1.9.16.2.47';
const SHA256_BYTES = 32;
/** A TSA reply is a few kilobytes; anything far larger is not one. */
const MAX_REPLY_BYTES = 1024 * 1024;
/** The longest wait between two attempts, however many there are. */
const MAX_RETRY_DELAY_MS = 30_000;

const STATUS_NAMES = ['granted', 'grantedWithMods', 'rejection', 'waiting', 'revocationWarning', 'revocationNotification'];
/** PKIFailureInfo bit names (RFC 3161 §2.4.2). */
const FAILURE_NAMES: Record<number, string> = {
  0: 'badAlg',
  2: 'badRequest',
  5: 'badDataFormat',
  14: 'timeNotAvailable',
  15: 'unacceptedPolicy',
  16: 'unacceptedExtension',
  17: 'addInfoNotAvailable',
  25: 'systemFailure',
};

/** Anything wrong with a timestamp request, reply or token. */
export class TimestampError extends Error {
  override readonly name = 'TimestampError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What a token says, read from its TSTInfo. */
export interface TimestampTokenInfo {
  /** When the TSA says the digest existed (TSTInfo.genTime). */
  genTime: Date;
  /** The TSA's serial number of this token, hex. */
  serialNumber: string;
  /** The TSA policy OID the token was issued under. */
  policy: string;
  /** The stamped SHA-256 digest, hex. */
  sha256: string;
  /** The nonce the token echoes, hex; undefined when it carries none. */
  nonce?: string;
  /** The TSA's name as the token gives it (TSTInfo.tsa), when given. */
  tsaName?: string;
}

export interface TimestampResult extends TimestampTokenInfo {
  /** The DER TimeStampToken (ContentInfo) to store, e.g. as manifest.tsr. */
  token: Uint8Array;
  /** HTTP requests it took (1 unless a retry was needed). */
  attempts: number;
}

export interface TimestampRequestOptions {
  /** Per attempt, for connecting, sending and reading the whole reply (default 10 s). */
  timeoutMs?: number;
  /** Attempts in all (default 3). Only transient failures are retried: network errors, timeouts, HTTP 408, 429, 5xx. */
  attempts?: number;
  /** Wait before the first retry, doubled for each further one up to 30 s (default 1 s). */
  retryDelayMs?: number;
  /** Ask for this TSA policy OID; the token must then carry it. */
  policy?: string;
  /** Aborts the request and any wait between attempts. */
  signal?: AbortSignal;
  /** Passed in for tests; the global fetch by default. */
  fetch?: typeof globalThis.fetch;
}

/** A TimeStampReq (DER) for a SHA-256 digest, asking for the TSA's certificate, with a fresh 64-bit nonce. */
export function buildTimestampRequest(sha256: Uint8Array, options: { policy?: string; nonce?: bigint } = {}): { der: Uint8Array; nonce: bigint } {
  assertDigest(sha256);
  // A positive nonce below 2^63, never 0: its DER encoding is then plain and openssl prints it as is.
  const nonce = options.nonce ?? (BigInt(`0x${randomBytes(8).toString('hex')}`) & 0x7fff_ffff_ffff_ffffn) | 1n;
  const request = new TimeStampReq({
    version: 1,
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithmId: SHA256_OID }),
      hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(sha256) }),
    }),
    nonce: asn1js.Integer.fromBigInt(nonce),
    certReq: true,
    ...(options.policy ? { reqPolicy: options.policy } : {}),
  });
  return { der: new Uint8Array(request.toSchema().toBER()), nonce };
}

/**
 * Check a TimeStampResp (DER) against the request it answers and return the token to keep.
 * `where` names the TSA in messages.
 */
export function parseTimestampReply(
  der: Uint8Array,
  expected: { sha256: Uint8Array; nonce: bigint; policy?: string },
  where = 'the TSA',
): Omit<TimestampResult, 'attempts'> {
  const fail = (what: string, cause?: unknown) => new TimestampError(`${where}: ${what}`, { cause });
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) throw fail(`the reply is not a DER TimeStampResp (${parsed.result.error || 'trailing bytes'})`);
  let response: TimeStampResp;
  try {
    response = new TimeStampResp({ schema: parsed.result });
  } catch (error) {
    throw fail(`the reply is not a TimeStampResp: ${errorText(error)}`, error);
  }
  const status = response.status.status as number;
  if (status !== 0 && status !== 1) {
    const texts = (response.status.statusStrings ?? []).map((s) => s.valueBlock.value).join('; ');
    const failures = failureNames(response.status.failInfo);
    throw fail(`the TSA refused the request: status ${STATUS_NAMES[status] ?? status}${failures ? ` (${failures})` : ''}${texts ? `: ${texts}` : ''}`);
  }
  // The token's exact bytes as the TSA sent them (not re-encoded): what the auditor verifies.
  const tokenElement = (parsed.result as asn1js.Sequence).valueBlock.value[1];
  if (!response.timeStampToken || !tokenElement) throw fail(`status ${STATUS_NAMES[status]} but no timeStampToken in the reply`);
  const token = new Uint8Array(tokenElement.valueBeforeDecodeView);
  const { info, signedData } = readToken(token, fail);

  if (!bytesEqual(hexBytes(info.sha256), expected.sha256)) throw fail(`the token stamps digest ${info.sha256}, not the requested ${hex(expected.sha256)}`);
  if (info.nonce === undefined) throw fail('the token carries no nonce, so it may be a replayed reply');
  if (BigInt(`0x${info.nonce}`) !== expected.nonce) throw fail(`the token's nonce ${info.nonce} is not the request's ${expected.nonce.toString(16)}: a reply to another request`);
  if (expected.policy && info.policy !== expected.policy) throw fail(`the token is under policy ${info.policy}, not the requested ${expected.policy}`);
  if (!signedData.certificates?.some((c) => c instanceof Certificate)) throw fail('the token holds no certificate although the request asked for it (certReq)');
  return { token, ...info };
}

/** Read a stored token's TSTInfo without checking its signature (for display; use verifyTimestampToken to trust it). */
export function describeTimestampToken(token: Uint8Array): TimestampTokenInfo {
  return readToken(token, (what, cause) => new TimestampError(`timestamp token: ${what}`, { cause })).info;
}

/**
 * Ask the TSA at `tsaUrl` to stamp `sha256`, with a timeout per attempt and bounded retries of
 * transient failures; every reply is checked by parseTimestampReply, and a wrong one is not
 * retried (a TSA that answers the wrong question is not going to get it right by asking again).
 */
export async function requestTimestamp(tsaUrl: string, sha256: Uint8Array, options: TimestampRequestOptions = {}): Promise<TimestampResult> {
  const { url, headers, shown } = parseTsaUrl(tsaUrl);
  const timeoutMs = positiveInteger(options.timeoutMs ?? 10_000, 'timeoutMs');
  const attempts = positiveInteger(options.attempts ?? 3, 'attempts');
  const retryDelayMs = options.retryDelayMs ?? 1000;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) throw new TimestampError(`retryDelayMs must be a number of milliseconds, 0 or more; got ${retryDelayMs}`);
  const doFetch = options.fetch ?? globalThis.fetch;
  const request = buildTimestampRequest(sha256, options.policy ? { policy: options.policy } : {});
  const problems: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    if (options.signal?.aborted) throw new TimestampError(`TSA ${shown}: aborted`, { cause: options.signal.reason });
    if (attempt > 1) await sleep(Math.min(retryDelayMs * 2 ** (attempt - 2), MAX_RETRY_DELAY_MS), options.signal);
    const outcome = await postOnce(doFetch, url, headers, request.der, timeoutMs, options.signal);
    if ('reply' in outcome) {
      const result = parseTimestampReply(outcome.reply, { sha256, nonce: request.nonce, ...(options.policy ? { policy: options.policy } : {}) }, `TSA ${shown}`);
      return { ...result, attempts: attempt };
    }
    if (options.signal?.aborted) throw new TimestampError(`TSA ${shown}: aborted`, { cause: options.signal.reason });
    problems.push(`attempt ${attempt}: ${outcome.problem}`);
    if (!outcome.transient) break;
  }
  throw new TimestampError(`TSA ${shown}: no timestamp after ${problems.length} of ${attempts} attempt(s): ${problems.join('; ')}`);
}

export interface TimestampVerifyOptions {
  /** PEM certificate(s) of the CA(s) trusted to issue TSA certificates (the auditor's -CAfile). */
  caCertPem: string;
}

/**
 * Verify a stored token for `data` (e.g. manifest.json's exact bytes), as `openssl ts -verify
 * -data` does: the token stamps sha256(data), its CMS signature is valid, the signer's
 * certificate chains to a given CA (at genTime) and is a TSA certificate (extendedKeyUsage
 * critical, timeStamping) named by the token's ESS signing-certificate attribute. Returns what
 * the token says; throws TimestampError naming the failure. Not checked: revocation (no CRL or
 * OCSP is fetched).
 */
export async function verifyTimestampToken(token: Uint8Array, data: Uint8Array, options: TimestampVerifyOptions): Promise<TimestampTokenInfo> {
  const fail = (what: string, cause?: unknown) => new TimestampError(`timestamp token: ${what}`, { cause });
  const { info, signedData } = readToken(token, fail);
  const sha256 = createHash('sha256').update(data).digest();
  if (!bytesEqual(hexBytes(info.sha256), sha256)) throw fail(`it stamps digest ${info.sha256}, but the data's sha256 is ${hex(sha256)}: the data changed after it was stamped`);
  const trusted = certificatesFromPem(options.caCertPem);
  if (trusted.length === 0) throw fail('caCertPem holds no PEM certificate');
  let verified: boolean;
  try {
    verified = await signedData.verify({ signer: 0, data: new Uint8Array(data).buffer, trustedCerts: trusted, checkChain: true, extendedMode: false });
  } catch (error) {
    throw fail(`the signature or the TSA certificate does not verify: ${errorText(error)}`, error);
  }
  if (!verified) throw fail('the signature does not verify with the TSA certificate it names');
  const signer = signerCertificate(signedData);
  if (!signer) throw fail('the token does not carry the certificate that signed it');
  const eku = signer.extensions?.find((e) => e.extnID === EXTENDED_KEY_USAGE_OID);
  const purposes = eku?.parsedValue instanceof ExtKeyUsage ? eku.parsedValue.keyPurposes : [];
  if (!eku?.critical || purposes.length !== 1 || purposes[0] !== TIME_STAMPING_OID) {
    throw fail('the signing certificate is not a TSA certificate (RFC 3161 wants extendedKeyUsage critical, timeStamping only)');
  }
  const ess = essProblem(signedData, signer);
  if (ess) throw fail(ess);
  return info;
}

// ---------------------------------------------------------------------------------------------

type Fail = (what: string, cause?: unknown) => TimestampError;

function readToken(token: Uint8Array, fail: Fail): { info: TimestampTokenInfo; signedData: SignedData } {
  let signedData: SignedData;
  let tstInfo: TSTInfo;
  try {
    const parsed = asn1js.fromBER(token);
    if (parsed.offset === -1 || parsed.offset !== token.byteLength) throw new Error(parsed.result.error || 'trailing bytes after the token');
    const contentInfo = new ContentInfo({ schema: parsed.result });
    if (contentInfo.contentType !== SIGNED_DATA_OID) throw new Error(`content type ${contentInfo.contentType} is not CMS SignedData`);
    signedData = new SignedData({ schema: contentInfo.content });
    const encap = signedData.encapContentInfo;
    if (encap.eContentType !== TST_INFO_OID || !encap.eContent) throw new Error(`it signs ${encap.eContentType}, not a TSTInfo`);
    tstInfo = TSTInfo.fromBER(encap.eContent.getValue());
  } catch (error) {
    throw fail(`not an RFC 3161 TimeStampToken: ${errorText(error)}`, error);
  }
  const imprint = tstInfo.messageImprint;
  if (imprint.hashAlgorithm.algorithmId !== SHA256_OID) throw fail(`it stamps a digest made with ${imprint.hashAlgorithm.algorithmId}, not SHA-256`);
  const digest = new Uint8Array(imprint.hashedMessage.valueBlock.valueHexView);
  if (digest.byteLength !== SHA256_BYTES) throw fail(`its SHA-256 digest is ${digest.byteLength} bytes long`);
  const info: TimestampTokenInfo = {
    genTime: tstInfo.genTime,
    serialNumber: integerHex(tstInfo.serialNumber),
    policy: tstInfo.policy,
    sha256: hex(digest),
  };
  if (tstInfo.nonce) info.nonce = integerHex(tstInfo.nonce);
  const tsaName = tstInfo.tsa ? generalNameText(tstInfo.tsa.type, tstInfo.tsa.value) : undefined;
  if (tsaName) info.tsaName = tsaName;
  return { info, signedData };
}

function signerCertificate(signedData: SignedData): Certificate | undefined {
  const sid = signedData.signerInfos[0]?.sid as unknown;
  const certificates = (signedData.certificates ?? []).filter((c): c is Certificate => c instanceof Certificate);
  if (sid && typeof sid === 'object' && 'issuer' in sid && 'serialNumber' in sid) {
    const { issuer, serialNumber } = sid as Pick<Certificate, 'issuer' | 'serialNumber'>;
    return certificates.find((c) => c.issuer.isEqual(issuer) && c.serialNumber.isEqual(serialNumber));
  }
  // [0] SubjectKeyIdentifier: the SHA-1 of the subject public key, as pkijs matched it.
  const block = sid as asn1js.Constructed | asn1js.Primitive | undefined;
  if (!block) return undefined;
  const inner = block.idBlock.isConstructed ? (block as asn1js.Constructed).valueBlock.value[0] : block;
  const keyId = new Uint8Array((inner as asn1js.Primitive | undefined)?.valueBlock.valueHexView ?? []);
  return certificates.find((c) => bytesEqual(new Uint8Array(createHash('sha1').update(c.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest()), keyId));
}

/**
 * The ESS signing-certificate attribute (RFC 2634 v1 with SHA-1, RFC 5035 v2) binds the
 * signature to the TSA certificate itself, so a certificate for the same key cannot be swapped
 * in; RFC 3161 requires it and `openssl ts -verify` checks it. Returns why it fails, or null.
 */
function essProblem(signedData: SignedData, signer: Certificate): string | null {
  const attributes = signedData.signerInfos[0]?.signedAttrs?.attributes ?? [];
  const v2 = attributes.find((a) => a.type === ESS_SIGNING_CERTIFICATE_V2_OID);
  const v1 = attributes.find((a) => a.type === ESS_SIGNING_CERTIFICATE_OID);
  const attribute = v2 ?? v1;
  if (!attribute) return 'the token has no ESS signing-certificate attribute naming the TSA certificate';
  const certs = (attribute.values[0] as asn1js.Sequence | undefined)?.valueBlock.value[0] as asn1js.Sequence | undefined;
  const first = certs?.valueBlock.value[0] as asn1js.Sequence | undefined;
  const parts = first?.valueBlock.value ?? [];
  let algorithm = v2 ? 'sha256' : 'sha1';
  let hash = parts[0];
  if (v2 && parts[0] instanceof asn1js.Sequence) {
    const oid = (parts[0].valueBlock.value[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock.toString();
    const known: Record<string, string> = { [SHA256_OID]: 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
    if (!oid || !known[oid]) return `the ESS signing-certificate attribute uses an unsupported hash ${oid ?? '(none)'}`;
    algorithm = known[oid];
    hash = parts[1];
  }
  if (!(hash instanceof asn1js.OctetString)) return 'the ESS signing-certificate attribute is malformed';
  const actual = new Uint8Array(createHash(algorithm).update(new Uint8Array(signer.toSchema().toBER())).digest());
  return bytesEqual(actual, new Uint8Array(hash.valueBlock.valueHexView)) ? null : 'the ESS signing-certificate attribute names another certificate than the one that signed';
}

function certificatesFromPem(pem: string): Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block, index) => {
    const base64 = block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    try {
      return Certificate.fromBER(Buffer.from(base64, 'base64'));
    } catch (error) {
      throw new TimestampError(`caCertPem: certificate ${index + 1} is not a valid X.509 certificate: ${errorText(error)}`, { cause: error });
    }
  });
}

/**
 * Check a TSA URL before anything runs (the CLI's exit 2 for a bad `--tsa`); returns how
 * messages name it, without any user:password or query string.
 */
export function checkTsaUrl(text: string): string {
  return parseTsaUrl(text).shown;
}

/** The URL to POST to, an Authorization header for credentials in it, and how to name it in messages (without them). */
function parseTsaUrl(text: string): { url: string; headers: Record<string, string>; shown: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TimestampError(`TSA URL "${text.replace(/\/\/[^/@]*@/, '//…@').slice(0, 200)}" is not a URL: give the TSA's http:// or https:// address`);
  }
  const headers: Record<string, string> = { 'content-type': TIMESTAMP_QUERY_CONTENT_TYPE, accept: TIMESTAMP_REPLY_CONTENT_TYPE };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // A query string may carry an access token: keep it in the request, never in a message.
  const shown = `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TimestampError(`TSA URL ${shown} is not an http:// or https:// URL`);
  return { url: url.toString(), headers, shown };
}

type Outcome = { reply: Uint8Array } | { problem: string; transient: boolean };

async function postOnce(
  doFetch: typeof globalThis.fetch,
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<Outcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
  try {
    const response = await doFetch(url, { method: 'POST', headers, body, signal, redirect: 'error' });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const transient = response.status === 408 || response.status === 429 || response.status >= 500;
      return { problem: `HTTP ${response.status} ${response.statusText}`.trim(), transient };
    }
    return { reply: await readCapped(response, MAX_REPLY_BYTES) };
  } catch (error) {
    if (timeout.aborted) return { problem: `no complete answer within ${timeoutMs} ms`, transient: true };
    if (error instanceof TimestampError) return { problem: error.message, transient: false };
    return { problem: networkErrorText(error), transient: true };
  }
}

async function readCapped(response: Response, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new TimestampError(`the reply is larger than ${limit} bytes, which no TimeStampResp is`);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function networkErrorText(error: unknown): string {
  // undici wraps the system error ("fetch failed"); the cause says what happened (ECONNREFUSED…).
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}` : errorText(error);
}

function failureNames(failInfo: asn1js.BitString | undefined): string {
  if (!failInfo) return '';
  const bytes = failInfo.valueBlock.valueHexView;
  const names: string[] = [];
  for (let bit = 0; bit < bytes.length * 8; bit += 1) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) names.push(FAILURE_NAMES[bit] ?? `failure bit ${bit}`);
  }
  return names.join(', ');
}

function generalNameText(type: number, value: unknown): string | undefined {
  // directoryName (4): "CN=…, O=…"; the other forms are strings already.
  if (type === 4 && value && typeof value === 'object' && 'typesAndValues' in value) {
    const short: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C' };
    const parts = (value as { typesAndValues: { type: string; value: { valueBlock: { value: unknown } } }[] }).typesAndValues;
    return parts.map((p) => `${short[p.type] ?? p.type}=${String(p.value.valueBlock.value)}`).join(', ');
  }
  return typeof value === 'string' ? value : undefined;
}

function assertDigest(sha256: Uint8Array): void {
  if (!(sha256 instanceof Uint8Array) || sha256.byteLength !== SHA256_BYTES) {
    throw new TimestampError(`a SHA-256 digest is ${SHA256_BYTES} bytes; got ${sha256 instanceof Uint8Array ? `${sha256.byteLength} bytes` : typeof sha256}`);
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) throw new TimestampError(`${name} must be a whole number from 1 to 2^31-1; got ${value}`);
  return value;
}

function integerHex(value: asn1js.Integer): string {
  return value.toBigInt().toString(16);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function hexBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
