/**
 * The SQL every PostgreSQL-speaking driver (postgres, rds) measures with: the drill's own
 * tables, the write probe and the heartbeat. One implementation, so every driver measures
 * the same way.
 *
 * Leave no trace (issue 11): the tables live in their own schema, created once per run
 * before steady state (never per probe), and the run drops what it created at teardown —
 * the schema when it created it, else the tables it created, else only its own rows.
 */
import type pg from 'pg';
import type { DeletionRecord, ServerFacts } from '../../reports/run-record.js';
import { type Clock, isoNow, systemClock } from '../clock.js';
import type { HeartbeatSink } from '../probes/heartbeat.js';
import type { ProbeFn } from '../probes/probe-loop.js';
import { type ConnectionSettings, connect, discard, quoteLiteral } from './connection.js';

export const DRILL_SCHEMA = 'drillbook';
export const HEARTBEAT_TABLE = `${DRILL_SCHEMA}.heartbeat`;
export const PROBE_TABLE = `${DRILL_SCHEMA}.probe`;

const TABLES: Record<string, string> = {
  heartbeat: `CREATE TABLE ${HEARTBEAT_TABLE} (run_id text NOT NULL, seq integer NOT NULL, client_time timestamptz NOT NULL, PRIMARY KEY (run_id, seq))`,
  probe: `CREATE TABLE ${PROBE_TABLE} (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
};

/** What the run must remove at teardown: the schema, the tables it created, or only its rows. */
export interface DrillObjects {
  dropSchema: boolean;
  dropTables: string[];
}

/** Which of the drill's objects exist on a writable endpoint (read-only). */
export async function missingDrillObjects(settings: ConnectionSettings): Promise<DrillObjects> {
  const client = await connect(settings);
  try {
    const { rows } = await client.query<{ schema: boolean; heartbeat: boolean; probe: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema,
              to_regclass($2) IS NOT NULL AS heartbeat, to_regclass($3) IS NOT NULL AS probe`,
      [DRILL_SCHEMA, HEARTBEAT_TABLE, PROBE_TABLE],
    );
    const row = rows[0]!;
    return { dropSchema: !row.schema, dropTables: row.schema ? (['heartbeat', 'probe'] as const).filter((t) => !row[t]).map((t) => `${DRILL_SCHEMA}.${t}`) : [] };
  } finally {
    await client.end();
  }
}

/**
 * Creates what `missing` names (call it after the undo that removes them is journaled).
 * Returns the objects created, for the timeline.
 */
export async function createDrillObjects(settings: ConnectionSettings, missing: DrillObjects): Promise<string[]> {
  const client = await connect(settings);
  const created: string[] = [];
  try {
    if (missing.dropSchema) {
      await client.query(`CREATE SCHEMA ${DRILL_SCHEMA}`);
      created.push(`schema ${DRILL_SCHEMA}`);
    }
    for (const [name, ddl] of Object.entries(TABLES)) {
      const table = `${DRILL_SCHEMA}.${name}`;
      if (missing.dropSchema || missing.dropTables.includes(table)) {
        await client.query(ddl);
        created.push(`table ${table}`);
      }
    }
    return created;
  } finally {
    await client.end();
  }
}

/** Creates the schema and tables where missing (a sandbox, which is destroyed whole). */
export async function ensureDrillTables(settings: ConnectionSettings): Promise<string[]> {
  return createDrillObjects(settings, await missingDrillObjects(settings));
}

/** Describes what the teardown of `objects` removes, for the undo's line in the evidence. */
export function describeDrillCleanup(objects: DrillObjects, where: string): string {
  if (objects.dropSchema) return `drop schema ${DRILL_SCHEMA} (created by this run: ${Object.keys(TABLES).map((t) => `${DRILL_SCHEMA}.${t}`).join(', ')}) on ${where}`;
  if (objects.dropTables.length) return `drop ${objects.dropTables.join(', ')} (created by this run) and delete this run's rows on ${where}`;
  return `delete this run's heartbeat and probe rows on ${where} (schema ${DRILL_SCHEMA} existed before the run: kept)`;
}

/** Removes what the run created (or its rows), verified; the teardown's deletion record. */
export async function removeDrillObjects(client: pg.Client, objects: DrillObjects, runId: string, location: string, clock: Clock = systemClock): Promise<DeletionRecord> {
  const verification: DeletionRecord['verification'] = [];
  if (objects.dropSchema) {
    await client.query(`DROP SCHEMA IF EXISTS ${DRILL_SCHEMA} CASCADE`);
    const { rows } = await client.query<{ gone: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS gone', [DRILL_SCHEMA]);
    verification.push({ check: `schema ${DRILL_SCHEMA} no longer exists`, passed: rows[0]!.gone });
    return { what: `schema ${DRILL_SCHEMA} with ${Object.keys(TABLES).map((t) => `${DRILL_SCHEMA}.${t}`).join(', ')} (created by this run)`, location, destroyedAt: isoNow(clock), verification };
  }
  for (const table of [HEARTBEAT_TABLE, PROBE_TABLE]) {
    if (objects.dropTables.includes(table)) {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      const { rows } = await client.query<{ gone: boolean }>('SELECT to_regclass($1) IS NULL AS gone', [table]);
      verification.push({ check: `table ${table} no longer exists`, passed: rows[0]!.gone });
    } else {
      const exists = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
      if (!exists.rows[0]?.present) continue;
      await client.query(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE run_id = $1`, [runId]);
      verification.push({ check: `no row of this run left in ${table}`, passed: rows[0]!.n === 0 });
    }
  }
  const what = objects.dropTables.length ? `${objects.dropTables.join(', ')} (created by this run) and this run's rows` : `this run's heartbeat and probe rows (schema ${DRILL_SCHEMA} existed before: kept)`;
  return { what, location, destroyedAt: isoNow(clock), verification };
}

/**
 * The write probe: a real, durable write through a fresh connection each attempt (it fails
 * on a server in recovery or read-only), answering with the identity of the server that took
 * it — system identifier, WAL insert timeline, role — read in the same round trip, so a
 * recovery can be held to one server. `settings` is read per attempt.
 */
export function sqlWriteProbe(settings: () => ConnectionSettings, runId: string, connectTimeoutMs: number, options: { createMissing?: boolean } = {}): ProbeFn {
  const runIdLiteral = quoteLiteral(runId);
  // pg_control_system() may be revoked (managed, hardened servers): then the timeline and
  // the server address still tell servers apart.
  let systemIdReadable = true;
  const statement = () =>
    `INSERT INTO ${PROBE_TABLE} (run_id, attempt) VALUES (${runIdLiteral}, $ATTEMPT);
     SELECT ${systemIdReadable ? '(SELECT system_identifier::text FROM pg_control_system())' : 'NULL::text'} AS system_id,
            pg_is_in_recovery() AS in_recovery,
            CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS wal,
            host(inet_server_addr()) AS addr, inet_server_port() AS port`;
  return async (attempt, signal) => {
    let client: pg.Client | undefined;
    const onAbort = () => discard(client);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      client = await connect(settings(), connectTimeoutMs);
      signal.throwIfAborted();
      let results: pg.QueryResult[];
      try {
        results = (await client.query(statement().replace('$ATTEMPT', String(Number(attempt))))) as unknown as pg.QueryResult[];
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A restored copy holds the drill's tables only if the WAL that created them was
        // archived before T0; the copy is destroyed whole, so they are created there if missing.
        if (options.createMissing && (code === '42P01' || code === '3F000')) {
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${DRILL_SCHEMA}; ${Object.values(TABLES).map((ddl) => ddl.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS')).join('; ')}`);
        } else if (systemIdReadable && code === '42501' && String((error as Error).message).includes('pg_control_system')) {
          systemIdReadable = false;
        } else throw error;
        results = (await client.query(statement().replace('$ATTEMPT', String(Number(attempt))))) as unknown as pg.QueryResult[];
      }
      await client.end();
      client = undefined;
      const row = (Array.isArray(results) ? results.at(-1) : (results as pg.QueryResult | undefined))?.rows[0] as
        | { system_id: string | null; in_recovery: boolean; wal: string | null; addr: string | null; port: number | null }
        | undefined;
      if (!row) return undefined;
      const facts: ServerFacts = {
        systemIdentifier: row.system_id,
        timeline: row.wal ? Number.parseInt(row.wal.slice(0, 8), 16) : null,
        inRecovery: row.in_recovery,
        ...(row.port !== null ? { server: `${row.addr ?? 'local socket'}:${row.port}` } : {}),
      };
      return facts;
    } finally {
      signal.removeEventListener('abort', onAbort);
      discard(client);
    }
  };
}

/** A heartbeat sink on one held connection; the caller discards `client` when done. */
export async function openHeartbeatSink(settings: ConnectionSettings, runId: string): Promise<{ sink: HeartbeatSink; client: pg.Client }> {
  const client = await connect(settings);
  return {
    client,
    sink: {
      write: async (seq, clientTime) => {
        await client.query(`INSERT INTO ${HEARTBEAT_TABLE} (run_id, seq, client_time) VALUES ($1, $2, $3)`, [runId, seq, clientTime]);
      },
    },
  };
}

/** The heartbeat seqs of a run present at an endpoint. */
export async function readPresentHeartbeats(settings: ConnectionSettings, runId: string): Promise<Set<number>> {
  const client = await connect(settings, 5_000);
  try {
    const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [HEARTBEAT_TABLE]);
    if (!exists.rows[0]?.present) return new Set();
    const { rows } = await client.query<{ seq: number }>(`SELECT seq FROM ${HEARTBEAT_TABLE} WHERE run_id = $1`, [runId]);
    return new Set(rows.map((r) => r.seq));
  } finally {
    await client.end();
  }
}
