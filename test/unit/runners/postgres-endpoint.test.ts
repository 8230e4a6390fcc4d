/**
 * Parsing `target.endpoint` as libpq reads host lists and connection URIs, and classifying
 * connect failures. Connecting itself is tested against real servers in
 * test/integration/postgres/endpoint-identity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { EndpointSyntaxError, classifyConnectError, formatHosts, parseConnectionUri, parseEndpoint, parseHostList } from '../../../runners/drivers/postgres/endpoint.js';

const syntaxError = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EndpointSyntaxError);
    return (error as Error).message;
  }
  throw new Error('expected an EndpointSyntaxError');
};

describe('host lists', () => {
  it('reads host:port pairs, a shared port, IPv6 in brackets', () => {
    expect(parseHostList('pg1.example:5432,pg2.example:5433')).toEqual([
      { host: 'pg1.example', port: 5432 },
      { host: 'pg2.example', port: 5433 },
    ]);
    expect(parseHostList('pg1, pg2', 6432)).toEqual([
      { host: 'pg1', port: 6432 },
      { host: 'pg2', port: 6432 },
    ]);
    expect(parseHostList('[::1]:5433,[fe80::1]')).toEqual([
      { host: '::1', port: 5433 },
      { host: 'fe80::1', port: 5432 },
    ]);
    expect(formatHosts(parseHostList('[::1]:5433,db:1'))).toBe('[::1]:5433,db:1');
  });

  it('refuses what libpq would misread, saying where', () => {
    expect(syntaxError(() => parseHostList('pg1:5432,,pg2'))).toContain('remove the extra comma');
    expect(syntaxError(() => parseHostList('pg1:99999'))).toContain('from 1 to 65535');
    expect(syntaxError(() => parseHostList('pg1:5432,pg2:abc'))).toContain('host 2 of the list');
    expect(syntaxError(() => parseHostList('::1:5432'))).toContain('[::1:5432]');
    expect(syntaxError(() => parseHostList('/var/run/postgresql'))).toContain('Unix socket');
    expect(syntaxError(() => parseHostList(''))).toContain('empty');
  });
});

describe('connection URIs', () => {
  it('reads a multi-host URI with target_session_attrs', () => {
    expect(parseEndpoint({ url: 'postgresql://app@pg1:5432,pg2:5433/orders?target_session_attrs=read-write&connect_timeout=3' })).toEqual({
      hosts: [
        { host: 'pg1', port: 5432 },
        { host: 'pg2', port: 5433 },
      ],
      user: 'app',
      database: 'orders',
      targetSessionAttrs: 'read-write',
      connectTimeoutMs: 3000,
    });
    // host/port as parameters, one port per host (libpq allows both forms).
    expect(parseConnectionUri('postgres:///orders?host=pg1,pg2&port=5432,5433').hosts).toEqual([
      { host: 'pg1', port: 5432 },
      { host: 'pg2', port: 5433 },
    ]);
    expect(parseEndpoint({ url: 'postgresql://%5Bweird%5D@[::1]:5433/my%20db', targetSessionAttrs: 'primary' })).toMatchObject({ user: '[weird]', database: 'my db', hosts: [{ host: '::1', port: 5433 }], targetSessionAttrs: 'primary' });
  });

  it('never takes a password inline', () => {
    expect(syntaxError(() => parseConnectionUri('postgresql://app:s3cret@pg1/orders'))).toContain('secrets are never inline');
    expect(syntaxError(() => parseConnectionUri('postgresql://pg1/orders?password=s3cret'))).toContain('secrets are never inline');
    expect(syntaxError(() => parseConnectionUri('postgresql://app:s3cret@pg1/orders'))).not.toContain('s3cret');
  });

  it('refuses what it cannot honour', () => {
    expect(syntaxError(() => parseConnectionUri('mysql://pg1/orders'))).toContain('not a PostgreSQL connection URI');
    expect(syntaxError(() => parseConnectionUri('postgresql://pg1/orders?target_session_attrs=standby'))).toContain('`read-write`, `primary`, `any`');
    expect(syntaxError(() => parseConnectionUri('postgresql://pg1/orders?sslmode=require'))).toContain('`sslmode` is not supported');
    expect(syntaxError(() => parseConnectionUri('postgresql:///orders'))).toContain('names no host');
    expect(syntaxError(() => parseConnectionUri('postgresql://pg1,pg2,pg3/x?port=1,2'))).toContain('3 hosts but 2 ports');
    expect(syntaxError(() => parseEndpoint({ url: 'postgresql://pg1/x', host: 'pg1' }))).toContain('not both');
    expect(syntaxError(() => parseEndpoint({ url: 'postgresql://pg1/x?target_session_attrs=any', targetSessionAttrs: 'read-write' }))).toContain('keep one');
    expect(syntaxError(() => parseEndpoint({}))).toContain('name the endpoint');
  });

  it('defaults as libpq and the v1 endpoint do', () => {
    expect(parseEndpoint({ host: 'pg1' })).toEqual({ hosts: [{ host: 'pg1', port: 5432 }], database: 'postgres', user: 'postgres', targetSessionAttrs: 'any' });
  });
});

describe('classifying a failed connect', () => {
  it('by the error code node and PostgreSQL give', () => {
    expect(classifyConnectError(Object.assign(new Error('getaddrinfo ENOTFOUND pg1'), { code: 'ENOTFOUND' })).kind).toBe('unknown-host');
    expect(classifyConnectError(Object.assign(new Error('getaddrinfo EAI_AGAIN pg1'), { code: 'EAI_AGAIN' })).kind).toBe('unknown-host');
    expect(classifyConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).kind).toBe('refused');
    expect(classifyConnectError(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], '')).kind).toBe('refused');
    expect(classifyConnectError(Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }))).toMatchObject({ kind: 'auth', code: '28P01' });
    expect(classifyConnectError(Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' })).kind).toBe('auth');
    expect(classifyConnectError(Object.assign(new Error('database "x" does not exist'), { code: '3D000' })).kind).toBe('database');
    expect(classifyConnectError(Object.assign(new Error('the database system is starting up'), { code: '57P03' })).kind).toBe('starting');
    expect(classifyConnectError(new Error('Connection terminated due to connection timeout')).kind).toBe('timeout');
    expect(classifyConnectError(new Error('something else')).kind).toBe('error');
  });
});
