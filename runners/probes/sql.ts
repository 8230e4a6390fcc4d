/**
 * `sql`: a query through a fresh connection. The same query path is the write probe of the
 * SQL drivers (runners/sql/drill-tables.ts), so a guardrail and a recovery probe connect alike.
 */
import type pg from 'pg';
import type { SecretRef } from '../../scenarios/primitives.js';
import { resolveSecret } from '../secrets.js';
import { type ConnectionSettings, connect, discard } from '../sql/connection.js';
import type { ProbeKind } from './types.js';

export interface SqlProbeSpec {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: SecretRef | undefined;
  query: string;
}

/** Connects, runs `query`, closes; an abort destroys the connection at once. */
export async function queryOnce(settings: ConnectionSettings, query: string, signal: AbortSignal, connectTimeoutMs: number): Promise<void> {
  let client: pg.Client | undefined;
  const onAbort = () => discard(client);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    client = await connect(settings, connectTimeoutMs);
    await client.query(query);
    await client.end();
    client = undefined;
  } finally {
    signal.removeEventListener('abort', onAbort);
    discard(client);
  }
}

export const sqlProbe: ProbeKind<SqlProbeSpec> = {
  kind: 'sql',
  async check(spec, { signal, timeoutMs, baseDir, addSecret }) {
    const password = resolveSecret(spec.password, baseDir);
    addSecret(password);
    const { query, host, port, database, user } = spec;
    await queryOnce({ host, port, database, user, ...(password !== undefined ? { password } : {}) }, query, signal, timeoutMs);
  },
};
