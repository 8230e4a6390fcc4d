/**
 * A real RFC 3161 time-stamping authority on 127.0.0.1, built with the openssl CLI in a temp
 * directory: a CA, a TSA certificate it issues (extendedKeyUsage=critical,timeStamping, as
 * `openssl ts -verify` demands), a `[tsa_config1]` section, and an HTTP server that pipes each
 * request body through `openssl ts -reply`. Nothing here builds ASN.1: the replies are openssl's.
 *
 * A test can script how the next requests are answered (`tsa.script(...)`): an HTTP error,
 * silence, or a reply that openssl signs properly but for another request (another nonce, or
 * another digest): a TSA that answers the wrong question, which only the client can notice.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** How the TSA answers one request. */
export type TsaBehaviour =
  | 'reply' // openssl ts -reply for the request as sent
  | 'hang' // read the request, never answer (the socket stays open until stop())
  | 'other-nonce' // a valid signed reply for the same digest, with openssl's own nonce
  | 'other-digest' // a valid signed reply for the sha256 of other bytes
  | { status: number }; // an HTTP error with a short text body

export interface LocalTsa {
  url: string;
  dir: string;
  /** The CA certificate (PEM file) that issued the TSA certificate: the auditor's -CAfile. */
  caFile: string;
  /** The TSA's own certificate (PEM file): the auditor's -untrusted. */
  tsaCertFile: string;
  /** The CA certificate's PEM text. */
  caCertPem: string;
  /** Requests received so far (every behaviour counts). */
  readonly requests: number;
  /** The headers of the latest request. */
  readonly lastHeaders: http.IncomingHttpHeaders | undefined;
  /** Answer the next requests like this, in order; after the list, 'reply' again. */
  script(...behaviours: TsaBehaviour[]): void;
  stop(): Promise<void>;
}

export interface LocalTsaOptions {
  /** Key type of the CA and the TSA (default ec: P-256 is quick to generate). */
  keyType?: 'ec' | 'rsa';
  /** The TSA policy OID it stamps with when the request names none. */
  policy?: string;
  /** Hash of the ESS certificate id in each token: sha256 gives SigningCertificateV2, sha1 the v1 attribute. */
  essCertIdAlg?: 'sha256' | 'sha1';
}

export const LOCAL_TSA_POLICY = '1.3.6.1.4.1.59999.13.1';

export async function openssl(args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync('openssl', args, { cwd, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; code?: unknown };
    throw new Error(`openssl ${args.join(' ')} failed (${String(e.code)}): ${e.stderr ?? String(error)}`, { cause: error });
  }
}

function opensslConfig(dir: string, policy: string, essCertIdAlg: string): string {
  return `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_tsa ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = ${dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = ${policy}
other_policies = ${policy}.2
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = ${essCertIdAlg}
`;
}

function keyArgs(keyType: 'ec' | 'rsa'): string[] {
  return keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
}

export async function startLocalTsa(options: LocalTsaOptions = {}): Promise<LocalTsa> {
  const keyType = options.keyType ?? 'ec';
  const policy = options.policy ?? LOCAL_TSA_POLICY;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-tsa-'));
  const config = path.join(dir, 'openssl.cnf');
  let server: http.Server | undefined;
  try {
    await writeFile(config, opensslConfig(dir, policy, options.essCertIdAlg ?? 'sha256'));
    await writeFile(path.join(dir, 'tsaserial'), '01\n');
    const env = ['-config', config];
    await openssl(['req', ...env, '-x509', '-new', ...keyArgs(keyType), '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=drillbook test CA', '-extensions', 'v3_ca'], dir);
    await openssl(['req', ...env, '-new', ...keyArgs(keyType), '-nodes', '-keyout', 'tsa.key', '-out', 'tsa.csr', '-subj', '/CN=drillbook test TSA'], dir);
    await openssl(['x509', '-req', '-in', 'tsa.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '2', '-out', 'tsa.pem', '-days', '2', '-extfile', config, '-extensions', 'v3_tsa'], dir);

    const queue: TsaBehaviour[] = [];
    const sockets = new Set<import('node:net').Socket>();
    let requests = 0;
    let lastHeaders: http.IncomingHttpHeaders | undefined;
    let sequence = 0;

    /** Sign `queryFile` with the TSA; the reply file's bytes. */
    const reply = async (queryFile: string): Promise<Buffer> => {
      const out = `${queryFile}.tsr`;
      await openssl(['ts', '-reply', '-config', config, '-section', 'tsa_config1', '-queryfile', queryFile, '-out', out], dir);
      return readFile(out);
    };

    const answer = async (behaviour: TsaBehaviour, body: Buffer): Promise<{ status: number; type: string; body: Buffer } | 'hang'> => {
      if (behaviour === 'hang') return 'hang';
      if (typeof behaviour === 'object') return { status: behaviour.status, type: 'text/plain', body: Buffer.from(`scripted HTTP ${behaviour.status}\n`) };
      const n = ++sequence;
      const queryFile = path.join(dir, `q${n}.tsq`);
      if (behaviour === 'reply') {
        await writeFile(queryFile, body);
      } else {
        // A different, well-formed query that openssl then signs: for the request's own digest
        // (read back with `ts -query -text`) with openssl's nonce, or for other bytes entirely.
        const dataFile = path.join(dir, `q${n}.data`);
        if (behaviour === 'other-digest') {
          await writeFile(dataFile, randomBytes(32));
          await openssl(['ts', '-query', '-data', dataFile, '-sha256', '-cert', '-out', queryFile], dir);
        } else {
          await writeFile(path.join(dir, `q${n}.orig.tsq`), body);
          const text = (await openssl(['ts', '-query', '-in', `q${n}.orig.tsq`, '-text'], dir)).stdout;
          // "    0000 - 98 ea 6e 4f 21 6f 2f b4-b6 9f ff 9b 3a 44 84 2c   ..nO!o/.....": 16 bytes
          // of hex (47 characters) after the offset, then an ASCII column that may hold anything.
          const dump = /Message data:\n([\s\S]*?)\nPolicy OID/.exec(text)?.[1] ?? '';
          const hex = dump
            .split('\n')
            .map((line) => line.slice(line.indexOf(' - ') + 3, line.indexOf(' - ') + 3 + 47).replace(/[ -]/g, ''))
            .join('');
          if (hex.length !== 64) throw new Error(`could not read the digest back from the query:\n${text}`);
          await openssl(['ts', '-query', '-digest', hex, '-sha256', '-cert', '-out', queryFile], dir);
        }
      }
      return { status: 200, type: 'application/timestamp-reply', body: await reply(queryFile) };
    };

    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests += 1;
        lastHeaders = req.headers;
        const behaviour = queue.shift() ?? 'reply';
        const body = Buffer.concat(chunks);
        if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('POST an application/timestamp-query\n');
          return;
        }
        answer(behaviour, body).then(
          (result) => {
            if (result === 'hang') return;
            res.writeHead(result.status, { 'content-type': result.type, 'content-length': result.body.length }).end(result.body);
          },
          (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
        );
      });
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(0, '127.0.0.1', resolve);
    });
    const port = (listening.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}/tsa`,
      dir,
      caFile: path.join(dir, 'ca.pem'),
      tsaCertFile: path.join(dir, 'tsa.pem'),
      caCertPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
      get requests() {
        return requests;
      },
      get lastHeaders() {
        return lastHeaders;
      },
      script(...behaviours) {
        queue.push(...behaviours);
      },
      async stop() {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => listening.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (server) server.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
