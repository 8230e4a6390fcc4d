/**
 * PostgreSQL connections as every SQL-speaking driver (postgres, rds), probe and undo opens
 * them: a fresh client with a bounded connect, and a discard that never waits on a server
 * that may be frozen or gone.
 */
import type pg from 'pg';

export interface ConnectionSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** Opens a connection, or throws; `timeoutMs` bounds connect + authentication. */
export async function connect(settings: ConnectionSettings, timeoutMs = 2_000): Promise<pg.Client> {
  const { default: pgModule } = await import('pg'); // lazy: validate and plan never connect
  const client = new pgModule.Client({ ...settings, connectionTimeoutMillis: timeoutMs, statement_timeout: Math.max(timeoutMs, 5_000) });
  client.on('error', () => undefined); // a server killed mid-drill must not crash drillbook
  await client.connect();
  return client;
}

/** Closes a client without waiting on a server that may be frozen or gone. */
export function discard(client: pg.Client | undefined): void {
  if (!client) return;
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => undefined);
}

export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
