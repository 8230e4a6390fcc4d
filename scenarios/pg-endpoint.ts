/**
 * The text of a PostgreSQL endpoint as clients write it: one host, a libpq host list
 * (`host1:port1,host2:port2`, IPv6 in brackets) or a libpq connection URI
 * (`postgresql://user@h1:5432,h2:5433/db?target_session_attrs=read-write`). Pure parsing, so
 * `validate` can point at a bad host list before anything connects; connecting the way
 * libpq does lives in runners/drivers/postgres/endpoint.ts.
 */
import net from 'node:net';

/** libpq's `target_session_attrs` values drillbook supports. */
export const TARGET_SESSION_ATTRS = ['read-write', 'primary', 'any'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export const DEFAULT_PORT = 5432;

export interface HostPort {
  host: string;
  port: number;
}

/** What the scenario says (the shape of `target.endpoint`), before parsing. */
export interface EndpointInput {
  /** One host, or a libpq host list: `h1:5432,h2:5433`, `[::1]:5432`, `h1,h2` (then `port` applies). */
  host?: string;
  /** The port of hosts written without one (libpq: one port for all). */
  port?: number;
  /** A libpq URI instead of host/port: `postgresql://user@h1:5432,h2:5433/db?target_session_attrs=read-write`. */
  url?: string;
  database?: string;
  user?: string;
  targetSessionAttrs?: TargetSessionAttrs;
}

export interface ParsedEndpoint {
  hosts: HostPort[];
  database: string;
  user: string;
  targetSessionAttrs: TargetSessionAttrs;
  /** From a URI's `connect_timeout` (seconds in libpq), when given. */
  connectTimeoutMs?: number;
  /** From a URI's `application_name`, when given. */
  applicationName?: string;
}

/** A bad endpoint text; `message` says what and how to write it. */
export class EndpointSyntaxError extends Error {
  override name = 'EndpointSyntaxError';
}

const URI_PARAMETERS = ['target_session_attrs', 'connect_timeout', 'application_name', 'dbname', 'user', 'host', 'port'] as const;

/** `h1:5432,h2:5433` → hosts; hosts without a port get `defaultPort` (libpq's single `port`). */
export function parseHostList(text: string, defaultPort: number = DEFAULT_PORT): HostPort[] {
  if (text.trim() === '') throw new EndpointSyntaxError('the host list is empty: name at least one host, e.g. `pg1.example.com:5432`');
  return text.split(',').map((raw, index) => {
    const item = raw.trim();
    const where = text.includes(',') ? ` (host ${index + 1} of the list \`${text}\`)` : '';
    if (item === '') throw new EndpointSyntaxError(`an empty entry in the host list \`${text}\`${where}: remove the extra comma`);
    let host: string;
    let portText: string | undefined;
    if (item.startsWith('[')) {
      const close = item.indexOf(']');
      if (close < 0) throw new EndpointSyntaxError(`\`${item}\`${where}: an IPv6 address in brackets needs its closing \`]\``);
      host = item.slice(1, close);
      const rest = item.slice(close + 1);
      if (rest !== '' && !rest.startsWith(':')) throw new EndpointSyntaxError(`\`${item}\`${where}: expected \`:port\` after the bracketed address`);
      portText = rest === '' ? undefined : rest.slice(1);
      if (!net.isIPv6(host)) throw new EndpointSyntaxError(`\`${host}\`${where} is not an IPv6 address`);
    } else {
      const colons = item.split(':').length - 1;
      if (colons > 1) throw new EndpointSyntaxError(`\`${item}\`${where}: write an IPv6 address in brackets, e.g. \`[${item}]:5432\``);
      [host, portText] = colons === 1 ? (item.split(':') as [string, string]) : [item, undefined];
    }
    if (host === '') throw new EndpointSyntaxError(`\`${item}\`${where} names no host`);
    if (host.startsWith('/')) throw new EndpointSyntaxError(`\`${host}\`${where} is a Unix socket directory: drillbook connects over TCP, name a host and port`);
    if (/\s/.test(host)) throw new EndpointSyntaxError(`\`${host}\`${where}: a host name has no spaces`);
    return { host, port: portText === undefined ? defaultPort : parsePort(portText, `${item}${where}`) };
  });
}

function parsePort(text: string, where: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new EndpointSyntaxError(`\`${where}\`: the port must be a number from 1 to 65535, not \`${text}\``);
  return Number(text);
}

/**
 * A libpq connection URI (`postgresql://` or `postgres://`). A password in it is refused:
 * secrets are named (`password: { env: … }`), never written into a scenario.
 */
export function parseConnectionUri(uri: string): Omit<ParsedEndpoint, 'database' | 'user' | 'targetSessionAttrs'> & Partial<ParsedEndpoint> {
  const match = /^(postgres(?:ql)?):\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(uri.trim());
  if (!match) throw new EndpointSyntaxError('not a PostgreSQL connection URI: expected `postgresql://[user@]host1:port1[,host2:port2…][/database][?target_session_attrs=read-write]`');
  const [, , authority = '', path, query] = match;
  const at = authority.lastIndexOf('@');
  const userInfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostSpec = at >= 0 ? authority.slice(at + 1) : authority;
  const result: ReturnType<typeof parseConnectionUri> = { hosts: [] };
  if (userInfo !== undefined) {
    if (userInfo.includes(':')) throw new EndpointSyntaxError('the URI holds a password: secrets are never inline; remove it from the URI and name it as `password: { env: PGPASSWORD }`');
    result.user = decode(userInfo, 'user');
  }
  if (path !== undefined && path !== '') result.database = decode(path, 'database');
  let hostParameter: string | undefined;
  let portParameter: string | undefined;
  for (const pair of (query ?? '').split('&').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), 'parameter');
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1), key);
    switch (key as (typeof URI_PARAMETERS)[number] | 'password') {
      case 'target_session_attrs':
        result.targetSessionAttrs = sessionAttrs(value);
        break;
      case 'connect_timeout': {
        // libpq: seconds, and values below 2 count as 2; 0 means wait forever, which a drill never does.
        if (!/^\d+$/.test(value) || Number(value) === 0) throw new EndpointSyntaxError(`connect_timeout must be a whole number of seconds above 0, not \`${value}\``);
        result.connectTimeoutMs = Math.max(2, Number(value)) * 1000;
        break;
      }
      case 'application_name':
        result.applicationName = value;
        break;
      case 'dbname':
        result.database = value;
        break;
      case 'user':
        result.user = value;
        break;
      case 'host':
        hostParameter = value;
        break;
      case 'port':
        portParameter = value;
        break;
      case 'password':
        throw new EndpointSyntaxError('the URI holds a password: secrets are never inline; name it as `password: { env: PGPASSWORD }`');
      default:
        throw new EndpointSyntaxError(`the URI parameter \`${key}\` is not supported here: use target_session_attrs, connect_timeout, application_name, dbname, user, host or port`);
    }
  }
  const hostText = hostParameter ?? hostSpec;
  if (decodeURIComponent(hostText) === '') throw new EndpointSyntaxError('the URI names no host: drillbook connects over TCP, e.g. `postgresql://pg1:5432,pg2:5432/app`');
  result.hosts = hostsWithPorts(decode(hostText, 'host'), portParameter);
  return result;
}

/** libpq: `port` is one value for all hosts or one per host. */
function hostsWithPorts(hostText: string, portList: string | undefined): HostPort[] {
  if (portList === undefined) return parseHostList(hostText);
  const ports = portList.split(',').map((p) => parsePort(p.trim(), `port=${portList}`));
  const hosts = parseHostList(hostText, ports[0]);
  if (ports.length === 1) return hosts;
  if (ports.length !== hosts.length) throw new EndpointSyntaxError(`${hosts.length} hosts but ${ports.length} ports: give one port for all hosts or one per host`);
  return hosts.map((h, i) => ({ host: h.host, port: ports[i]! }));
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new EndpointSyntaxError(`the URI's ${what} \`${text}\` has a broken %-escape`);
  }
}

function sessionAttrs(value: string): TargetSessionAttrs {
  if ((TARGET_SESSION_ATTRS as readonly string[]).includes(value)) return value as TargetSessionAttrs;
  throw new EndpointSyntaxError(`target_session_attrs \`${value}\` is not supported: use ${TARGET_SESSION_ATTRS.map((v) => `\`${v}\``).join(', ')}`);
}

/** The endpoint as drillbook will connect to it; throws EndpointSyntaxError. */
export function parseEndpoint(input: EndpointInput): ParsedEndpoint {
  if (input.url !== undefined && input.host !== undefined) throw new EndpointSyntaxError('give either `url` or `host` (with `port`), not both');
  if (input.url !== undefined) {
    const fromUri = parseConnectionUri(input.url);
    if (input.port !== undefined) throw new EndpointSyntaxError('`port` goes into the URI (`host:port`), not beside `url`');
    if (fromUri.targetSessionAttrs && input.targetSessionAttrs && fromUri.targetSessionAttrs !== input.targetSessionAttrs)
      throw new EndpointSyntaxError(`the URI says target_session_attrs=${fromUri.targetSessionAttrs} but targetSessionAttrs is ${input.targetSessionAttrs}: keep one`);
    return {
      hosts: fromUri.hosts,
      database: fromUri.database ?? input.database ?? 'postgres',
      user: fromUri.user ?? input.user ?? 'postgres',
      targetSessionAttrs: fromUri.targetSessionAttrs ?? input.targetSessionAttrs ?? 'any',
      ...(fromUri.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: fromUri.connectTimeoutMs }),
      ...(fromUri.applicationName === undefined ? {} : { applicationName: fromUri.applicationName }),
    };
  }
  if (input.host === undefined) throw new EndpointSyntaxError('name the endpoint: `host` (one host or `h1:5432,h2:5433`) or `url` (a postgresql:// URI)');
  return {
    hosts: parseHostList(input.host, input.port ?? DEFAULT_PORT),
    database: input.database ?? 'postgres',
    user: input.user ?? 'postgres',
    targetSessionAttrs: input.targetSessionAttrs ?? 'any',
  };
}

/** `h1:5432,h2:5433` (IPv6 in brackets): how evidence and messages name the hosts. */
export function formatHosts(hosts: readonly HostPort[]): string {
  return hosts.map(formatHost).join(',');
}

export function formatHost(host: HostPort): string {
  return `${net.isIPv6(host.host) ? `[${host.host}]` : host.host}:${host.port}`;
}
