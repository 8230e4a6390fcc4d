/**
 * The endpoint clients really use (`target.endpoint`): one host, a proxy (HAProxy,
 * PgBouncer), a DNS name, or a libpq multi-host list `host1:port1,host2:port2` with
 * `target_session_attrs`. drillbook connects the way libpq does (libpq docs, "Specifying
 * Multiple Hosts"): hosts in order, each try bounded by the connect timeout, a host that
 * answers but is not what `targetSessionAttrs` asks for is skipped, and the first one that
 * fits wins. node-postgres has no multi-host support (pg-connection-string parses one host
 * only), so the host loop lives here.
 *
 * `preflightEndpoint()` asks every host before T0, so a name that does not resolve, a port
 * that refuses or an endpoint with no writable server is a located input problem (exit 2),
 * not a broken drill discovered after the fault (issue 11, finding 8).
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import type pg from 'pg';
import { type Elapsed, systemElapsed } from '../../clock.js';

export {
  DEFAULT_PORT,
  type EndpointInput,
  EndpointSyntaxError,
  formatHost,
  formatHosts,
  type HostPort,
  type ParsedEndpoint,
  parseConnectionUri,
  parseEndpoint,
  parseHostList,
  TARGET_SESSION_ATTRS,
  type TargetSessionAttrs,
} from '../../../scenarios/pg-endpoint.js';
import { type HostPort, type ParsedEndpoint, type TargetSessionAttrs, formatHost, formatHosts } from '../../../scenarios/pg-endpoint.js';

// ---------------------------------------------------------------- connecting as libpq does

/** Why one host did not give a usable session. */
export type ConnectProblemKind = 'unknown-host' | 'refused' | 'timeout' | 'auth' | 'database' | 'starting' | 'not-writable' | 'not-primary' | 'error';

export interface ConnectProblem {
  kind: ConnectProblemKind;
  /** One line, no secrets: what happened at this host. */
  message: string;
  /** The error code when there is one (ENOTFOUND, ECONNREFUSED, 28P01, …). */
  code?: string;
}

export interface HostAttempt extends HostPort {
  /** undefined when this host gave the session. */
  problem?: ConnectProblem;
  elapsedMs: number;
}

export interface ConnectedEndpoint {
  client: pg.Client;
  /** The host of the list that answered (as written in the scenario). */
  answered: HostPort;
  /** Every host tried, in order, the last one being `answered`. */
  attempts: HostAttempt[];
}

export interface ConnectOptions {
  password?: string;
  /** Bounds each host's try (TCP connect, authentication and the session check), as libpq's connect_timeout. */
  connectTimeoutMs: number;
  /** Bounds queries on the returned client; defaults to max(connect timeout, 5 s). */
  statementTimeoutMs?: number;
  signal?: AbortSignal;
  /** Times each host's try; the run's clock in a drill. */
  clock?: Elapsed;
}

/** No host of the endpoint gave a session that fits; `attempts` says why for each. */
export class EndpointConnectError extends Error {
  override name = 'EndpointConnectError';
  constructor(
    readonly endpoint: ParsedEndpoint,
    readonly attempts: HostAttempt[],
  ) {
    super(`no host of ${formatHosts(endpoint.hosts)} gave a ${endpoint.targetSessionAttrs === 'any' ? '' : `${endpoint.targetSessionAttrs} `}session: ${attempts.map((a) => `${formatHost(a)} ${a.problem?.message ?? 'ok'}`).join('; ')}`);
  }
}

/**
 * Connects the way libpq does: each host in order, each try bounded by the connect timeout;
 * `read-write` skips a host where `SHOW transaction_read_only` is on, `primary` one where
 * `pg_is_in_recovery()` is true. Throws EndpointConnectError when no host fits.
 */
export async function connectEndpoint(endpoint: ParsedEndpoint, options: ConnectOptions): Promise<ConnectedEndpoint> {
  const attempts: HostAttempt[] = [];
  for (const host of endpoint.hosts) {
    options.signal?.throwIfAborted();
    const clock = options.clock ?? systemElapsed;
    const started = clock.elapsed();
    const outcome = await tryHost(endpoint, host, options);
    const elapsedMs = clock.elapsed() - started;
    if ('client' in outcome) {
      attempts.push({ ...host, elapsedMs });
      return { client: outcome.client, answered: host, attempts };
    }
    attempts.push({ ...host, problem: outcome.problem, elapsedMs });
  }
  options.signal?.throwIfAborted();
  throw new EndpointConnectError(endpoint, attempts);
}

async function tryHost(endpoint: ParsedEndpoint, host: HostPort, options: ConnectOptions): Promise<{ client: pg.Client } | { problem: ConnectProblem }> {
  const { default: pgModule } = await import('pg'); // lazy: validate and plan never connect
  const client = new pgModule.Client({
    host: host.host,
    port: host.port,
    database: endpoint.database,
    user: endpoint.user,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(endpoint.applicationName === undefined ? {} : { application_name: endpoint.applicationName }),
    statement_timeout: options.statementTimeoutMs ?? Math.max(options.connectTimeoutMs, 5_000),
  });
  client.on('error', () => undefined); // a server that dies under the client must not crash drillbook
  // One deadline for the whole try (connect, authenticate, check), as libpq's connect_timeout:
  // a proxy that accepts the TCP connection and then holds it (HAProxy with no backend up)
  // must cost this host its timeout, never the whole run.
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const onAbort = () => destroy(client);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      destroy(client);
      reject(new Error('timed out'));
    }, options.connectTimeoutMs);
  });
  try {
    const problem = await Promise.race([
      (async () => {
        await client.connect();
        return sessionProblem(client, endpoint.targetSessionAttrs);
      })(),
      deadline,
    ]);
    if (problem) {
      destroy(client);
      return { problem };
    }
    return { client };
  } catch (error) {
    destroy(client);
    if (timedOut) return { problem: { kind: 'timeout', message: `no answer within ${options.connectTimeoutMs} ms (connect, authentication and session check)` } };
    return { problem: classifyConnectError(error) };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Why a connected session does not fit `target_session_attrs`, or undefined when it does. */
async function sessionProblem(client: pg.Client, attrs: TargetSessionAttrs): Promise<ConnectProblem | undefined> {
  if (attrs === 'read-write') {
    const { rows } = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
    if (rows[0]?.transaction_read_only !== 'off') return { kind: 'not-writable', message: 'answered, but the session is read-only (transaction_read_only = on)' };
  } else if (attrs === 'primary') {
    const { rows } = await client.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
    if (rows[0]?.in_recovery !== false) return { kind: 'not-primary', message: 'answered, but the server is in recovery (a standby)' };
  }
  return undefined;
}

function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => undefined);
}

const SQLSTATE_KINDS: Record<string, ConnectProblemKind> = {
  '28P01': 'auth', // invalid_password
  '28000': 'auth', // invalid_authorization_specification (e.g. no pg_hba.conf entry)
  '3D000': 'database', // invalid_catalog_name
  '57P03': 'starting', // cannot_connect_now: starting up, shutting down, or recovery without hot standby
};

/** One failed connect as a problem kind and a one-line message (no secrets: pg errors carry none). */
export function classifyConnectError(error: unknown): ConnectProblem {
  const err = error as { code?: unknown; message?: unknown; errors?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(error);
  // Node reports a connect that tried several addresses (happy eyeballs) as an AggregateError.
  const inner = Array.isArray(err?.errors) && err.errors.length > 0 ? (err.errors[0] as { code?: unknown }) : undefined;
  const code = typeof err?.code === 'string' ? err.code : typeof inner?.code === 'string' ? inner.code : undefined;
  const withCode = (kind: ConnectProblemKind, text: string): ConnectProblem => (code === undefined ? { kind, message: text } : { kind, message: text, code });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL')
    return withCode('unknown-host', `the host name does not resolve (${code})`);
  if (code === 'ECONNREFUSED') return withCode('refused', 'connection refused: nothing listens on that port');
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) return withCode('timeout', `no answer in time (${code ?? message})`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return withCode('refused', `the host cannot be reached (${code})`);
  if (code !== undefined && SQLSTATE_KINDS[code]) return withCode(SQLSTATE_KINDS[code]!, `${message} (SQLSTATE ${code})`);
  // node-postgres refuses locally when the server asks for a password and none was given.
  if (/password must be a string|SASL|password authentication/i.test(message)) return withCode('auth', `authentication failed: ${message}`);
  return withCode('error', message);
}

// ---------------------------------------------------------------- before T0

export interface PreflightHost extends HostPort {
  /** What the name resolved to (empty when it did not). */
  addresses: string[];
  /** Set when this host could not be used. A standby skipped for read-write is a note, not a problem. */
  problem?: ConnectProblem;
  /** What the server said about itself, when it answered. */
  inRecovery?: boolean;
  readOnly?: boolean;
}

export interface PreflightReport {
  /** A host fits `targetSessionAttrs`: the drill can start. */
  ok: boolean;
  /** The host a client would get now (libpq order), when one fits. */
  chosen?: HostPort;
  hosts: PreflightHost[];
  /**
   * Located, one-line problems for the CLI (exit 2 when `ok` is false): every host that
   * cannot be resolved or reached, and when none fits, why.
   */
  problems: string[];
}

export interface PreflightOptions {
  password?: string;
  connectTimeoutMs: number;
  signal?: AbortSignal;
  /** For tests and callers with their own resolver; defaults to dns.lookup (what connect uses). */
  lookup?: (host: string) => Promise<string[]>;
}

/**
 * Asks every host of the endpoint before T0, concurrently: resolves the name (dns.lookup, as
 * the connect will), connects within the timeout and reads the role. Every host is asked,
 * also after one fits, so a member that is down or misspelt is reported before a drill
 * depends on it; `chosen` is the first that fits in list order, as libpq would pick.
 */
export async function preflightEndpoint(endpoint: ParsedEndpoint, options: PreflightOptions, where = 'target.endpoint'): Promise<PreflightReport> {
  const lookup = options.lookup ?? (async (host: string) => (await dns.lookup(host, { all: true })).map((a) => a.address));
  options.signal?.throwIfAborted();
  // All hosts at once: a list of hung hosts costs one timeout before T0, not one each.
  // The result keeps the list's order, which is the order libpq would try them in.
  const hosts = await Promise.all(endpoint.hosts.map((host) => preflightHost(endpoint, host, options, lookup)));
  const fits = (h: PreflightHost) => h.problem === undefined && (endpoint.targetSessionAttrs === 'any' || (endpoint.targetSessionAttrs === 'read-write' ? h.readOnly === false : h.inRecovery === false));
  const chosen = hosts.find(fits);
  const problems: string[] = [];
  for (const h of hosts) {
    if (h.problem && h.problem.kind !== 'not-writable' && h.problem.kind !== 'not-primary') problems.push(`${where}: ${formatHost(h)}: ${describeProblem(h.problem)}`);
  }
  if (!chosen) {
    const skipped = hosts.filter((h) => h.problem?.kind === 'not-writable' || h.problem?.kind === 'not-primary');
    const which = endpoint.targetSessionAttrs === 'read-write' ? 'writable' : 'primary (not in recovery)';
    problems.push(
      `${where}: no host of ${formatHosts(endpoint.hosts)} is ${endpoint.targetSessionAttrs === 'any' ? 'reachable' : which}${skipped.length > 0 ? ` (${skipped.map(formatHost).join(', ')} answered as ${endpoint.targetSessionAttrs === 'read-write' ? 'read-only' : 'standby'})` : ''}`,
    );
  }
  return { ok: chosen !== undefined, ...(chosen ? { chosen: { host: chosen.host, port: chosen.port } } : {}), hosts, problems };
}

async function preflightHost(endpoint: ParsedEndpoint, host: HostPort, options: PreflightOptions, lookup: (host: string) => Promise<string[]>): Promise<PreflightHost> {
  let addresses: string[];
  try {
    addresses = net.isIP(host.host) ? [host.host] : await lookup(host.host);
  } catch (error) {
    return { ...host, addresses: [], problem: classifyConnectError(error) };
  }
  // Connect with no session requirement, then read the role: a standby is then known as a
  // standby rather than as a failed connect.
  const probe: ParsedEndpoint = { ...endpoint, hosts: [host], targetSessionAttrs: 'any' };
  let connected: ConnectedEndpoint;
  try {
    connected = await connectEndpoint(probe, { ...(options.password === undefined ? {} : { password: options.password }), connectTimeoutMs: options.connectTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if (error instanceof EndpointConnectError) return { ...host, addresses, problem: error.attempts[0]!.problem! };
    throw error;
  }
  try {
    const { rows } = await connected.client.query<{ in_recovery: boolean; read_only: string }>("SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only");
    const inRecovery = rows[0]!.in_recovery;
    const readOnly = rows[0]!.read_only !== 'off';
    const result: PreflightHost = { ...host, addresses, inRecovery, readOnly };
    if (endpoint.targetSessionAttrs === 'read-write' && readOnly) result.problem = { kind: 'not-writable', message: 'read-only (skipped for read-write)' };
    if (endpoint.targetSessionAttrs === 'primary' && inRecovery) result.problem = { kind: 'not-primary', message: 'in recovery (skipped for primary)' };
    return result;
  } finally {
    destroy(connected.client);
  }
}

const PROBLEM_HINTS: Record<ConnectProblemKind, string> = {
  'unknown-host': 'check the spelling or the DNS/hosts entry; a libpq host list is written `h1:5432,h2:5433` in target.endpoint.host',
  refused: 'is the server (or proxy) running and listening on that address and port?',
  timeout: 'a firewall dropping packets, a frozen server, or a proxy holding connections with no backend up',
  auth: 'check the user and the named password secret, and pg_hba.conf',
  database: 'check target.endpoint.database',
  starting: 'the server is starting up or shutting down; try again once it accepts connections',
  'not-writable': '',
  'not-primary': '',
  error: '',
};

const PROBLEM_TITLES: Record<ConnectProblemKind, string> = {
  'unknown-host': 'unknown host',
  refused: 'refused',
  timeout: 'timeout',
  auth: 'authentication failed',
  database: 'no such database',
  starting: 'not accepting connections yet',
  'not-writable': 'read-only',
  'not-primary': 'standby',
  error: 'error',
};

/** "unknown host: the host name does not resolve (ENOTFOUND) — check the spelling …". */
export function describeProblem(problem: ConnectProblem): string {
  const hint = PROBLEM_HINTS[problem.kind];
  return `${PROBLEM_TITLES[problem.kind]}: ${problem.message}${hint ? ` — ${hint}` : ''}`;
}
