/**
 * What the masking modules share (masking.ts applies the rules, masking-rules.ts resolves and
 * checks them, masking-verify.ts verifies): the connection they need, the resolved rule, the
 * errors, and the transactions that keep values out of the server log.
 */
import type { MaskingMethod } from '../../scenarios/masking.js';

/** What masking needs of a connection (a `pg.Client` has it). */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** The text `redact` writes. Ten characters: a varchar or char column must hold at least that. */
export const REDACTED = '[redacted]';
/** Hex of a SHA-256 or HMAC-SHA256: 64 characters. */
export const HASH_LENGTH = 64;

export interface PreflightProblem {
  /** Index of the rule in `spec.restore.masking.rules`. */
  rule: number;
  message: string;
  hint?: string;
}

/** The rules cannot be applied as written; every problem is listed, each with its rule. */
export class MaskingPreflightError extends Error {
  constructor(readonly problems: PreflightProblem[]) {
    super(`masking cannot be applied: ${problems.map((p) => `rules[${p.rule}]: ${p.message}`).join('; ')}`);
    this.name = 'MaskingPreflightError';
  }
}

/** Applying the rules failed; the transaction was rolled back, so the copy is unmasked. */
export class MaskingError extends Error {
  constructor(message: string, readonly rule?: number) {
    super(message);
    this.name = 'MaskingError';
  }
}

/** A rule resolved against a database: the table and column it really names. */
export interface ResolvedRule {
  index: number;
  method: MaskingMethod;
  /** `schema.table`, quoted where needed (as written back for evidence). */
  table: string;
  column: string;
  /** The SQL for both, quoted. */
  tableSql: string;
  columnSql: string;
  type: string;
  /** The column in the catalog: `relationOid:attnum`. */
  catalogKey: string;
}

export interface AppliedRule {
  table: string;
  column: string;
  method: MaskingMethod;
  /** Rows whose value was replaced (rows where it was already NULL are left as they are). */
  rowsAffected: number;
}

export interface MaskingApplied {
  rules: AppliedRule[];
  /** How `hash` was computed, when a rule uses it. */
  hash: 'hmac-sha256' | 'sha256' | null;
  /** Masked tables rewritten with VACUUM FULL and a CHECKPOINT taken after the commit. */
  rewritten: boolean;
  durationMs: number;
}

/**
 * Inside a transaction: nothing of it reaches the server log — no statement with its
 * parameters (the padded key, the digests verification looks for) and no error detail
 * (`Key (email)=(…) already exists` would name a value). Needs a superuser.
 */
export async function unloggedTransaction(client: SqlClient, statementTimeoutMs: number): Promise<void> {
  const settings: Record<string, string> = {
    statement_timeout: String(statementTimeoutMs),
    log_statement: 'none',
    log_min_duration_statement: '-1',
    log_min_error_statement: 'panic',
    log_min_messages: 'fatal',
    log_error_verbosity: 'terse',
    log_parameter_max_length: '0',
    log_parameter_max_length_on_error: '0',
    log_min_duration_sample: '-1',
    log_transaction_sample_rate: '0',
    log_duration: 'off',
  };
  // Settings an older server does not have are skipped (log_parameter_max_length is 13+).
  const known = new Set((await client.query('select name from pg_settings where name = any($1::text[])', [Object.keys(settings)])).rows.map((r) => String(r.name)));
  for (const [name, value] of Object.entries(settings)) {
    if (!known.has(name)) continue;
    try {
      await client.query('select set_config($1, $2, true)', [name, value]);
    } catch (error) {
      throw new MaskingError(`masking needs a superuser connection to the copy (to keep the key and values out of its server log): ${errorMessage(error)}`);
    }
  }
}

/** A read-only transaction (optionally unlogged) whose text forms do not depend on the session (dates, floats, intervals). */
export async function readOnly(client: SqlClient, timeoutMs: number, body: () => Promise<void>, unlogged = false): Promise<void> {
  await client.query('begin transaction isolation level repeatable read read only');
  try {
    if (unlogged) await unloggedTransaction(client, timeoutMs);
    for (const [name, value] of Object.entries({ statement_timeout: String(timeoutMs), DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', TimeZone: 'UTC', extra_float_digits: '3', bytea_output: 'hex' })) {
      await client.query('select set_config($1, $2, true)', [name, value]);
    }
    await body();
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

export function rethrowFor(where: string) {
  return (error: unknown): never => {
    if (error instanceof MaskingPreflightError) throw new MaskingPreflightError(error.problems.map((p) => ({ ...p, message: `on ${where}: ${p.message}` })));
    throw error;
  };
}

export async function currentDatabase(client: SqlClient): Promise<string> {
  return String((await client.query('select current_database() as d')).rows[0]?.d);
}

export const RELKIND: Record<string, string> = { v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence', i: 'index', c: 'composite type' };

/** An identifier quoted for SQL: always in double quotes, with " doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An identifier as a person would write it: bare when PostgreSQL would read it back the same. */
export function displayIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdentifier(name);
}

export function displayName(schema: string, table: string): string {
  return `${displayIdentifier(schema)}.${displayIdentifier(table)}`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
