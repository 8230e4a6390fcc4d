/**
 * The SQL every PostgreSQL-speaking driver (postgres, rds) measures with: the drill's own
 * tables, the write probe and the heartbeat. One implementation, so every driver measures
 * the same way.
 */
import type pg from 'pg';
import type { HeartbeatSink } from '../probes/heartbeat.js';
import type { ProbeFn } from '../probes/probe-loop.js';
import { queryOnce } from '../probes/sql.js';
import { type ConnectionSettings, connect, quoteLiteral } from './connection.js';

export const HEARTBEAT_TABLE = 'drillbook_heartbeat';
export const PROBE_TABLE = 'drillbook_probe';


/** Creates the heartbeat and probe tables on a writable endpoint if they are missing. */
export async function ensureDrillTables(settings: ConnectionSettings): Promise<void> {
  const admin = await connect(settings);
  try {
    await admin.query(`CREATE TABLE IF NOT EXISTS ${HEARTBEAT_TABLE} (run_id text NOT NULL, seq integer NOT NULL, client_time timestamptz NOT NULL, PRIMARY KEY (run_id, seq))`);
    await admin.query(`CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  } finally {
    await admin.end();
  }
}

/** A real, durable write through a fresh connection each attempt; `settings` is read per attempt. */
export function sqlWriteProbe(settings: () => ConnectionSettings, runId: string, connectTimeoutMs: number): ProbeFn {
  const runIdLiteral = quoteLiteral(runId);
  // The probe loop owns the attempt timeout (and tells a timeout from a refusal); the
  // driver's own connect timeout only backs it up. A real, durable write: it fails on a
  // server in recovery or read-only.
  return (attempt, signal) =>
    queryOnce(
      settings(),
      `CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (run_id text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO ${PROBE_TABLE} (run_id, attempt) VALUES (${runIdLiteral}, ${Number(attempt)})`,
      signal,
      connectTimeoutMs,
    );
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

