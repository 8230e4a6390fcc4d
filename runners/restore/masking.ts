/**
 * Masking that is applied (SPEC v1.1; ISO/IEC 27001 A.8.11, GDPR Art. 32): the rules of
 * `spec.restore.masking` are applied to a restored copy in one transaction, and then verified
 * against the source by comparing a sample of the source's original values with the whole
 * masked column of the copy.
 *
 * How `hash` is computed, and why: on the server, with built-in functions only. PostgreSQL 11+
 * has `sha256(bytea)` built in; HMAC-SHA256 is composed from it (RFC 2104:
 * H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))), with the two padded keys sent as bind parameters. So
 * no extension (pgcrypto's `hmac()` is often not installed on a copy, and installing one
 * changes what is being tested), one UPDATE per rule, and no original value travels to
 * drillbook. The value hashed is the column's text form (`col::text`) in UTF-8, so the same
 * value and key give the same hex digest as `crypto.createHmac('sha256', key)` would, and a
 * key column and the columns that reference it stay joinable when all are hashed.
 *
 * What the transaction switches off, and why (it needs a superuser on the copy, which is the
 * case for a copy drillbook restored and for the master user of an RDS copy):
 * - `session_replication_role = replica`: user triggers do not fire, so an audit trigger
 *   cannot copy the original row into another table while it is being masked (foreign-key
 *   checks are triggers too: hash the referencing columns as well to keep them consistent);
 * - statement and error logging (`log_statement`, `log_min_duration_statement`,
 *   `log_parameter_max_length`, `log_min_messages` …): a production `log_statement = all`
 *   restored with the copy would otherwise write the padded key into the copy's server log,
 *   and a failing UPDATE's error detail names the row ("Failing row contains (…)");
 * - `statement_timeout`: a large table takes longer than a probe's timeout.
 * Foreign keys are checked in the preflight instead: a masked key must be masked the same
 * way on the other side of each single-column foreign key.
 *
 * What it does not do: the masked rows' old versions stay in the copy's data files and WAL
 * until they are rewritten. By default every masked table is rewritten with VACUUM FULL
 * after the commit and a CHECKPOINT follows, so SQL access and the table files hold only
 * masked values; WAL segments written before the checkpoint may still hold old page images
 * until the server recycles them, so file-level access to a kept copy is not masked access.
 *
 * Evidence: the results name the rules, rows affected, sample sizes and counts. They never
 * hold an original value, a digest of one, or the key.
 */
import { type Elapsed, systemElapsed } from '../clock.js';
import crypto from 'node:crypto';
import type { MaskingMethod, MaskingRule } from '../../scenarios/masking.js';
import { preflightMasking, resolveRules } from './masking-rules.js';
import { type AppliedRule, type MaskingApplied, MaskingError, REDACTED, type ResolvedRule, type SqlClient, errorMessage, unloggedTransaction } from './masking-sql.js';

export { type AppliedRule, type MaskingApplied, MaskingError, MaskingPreflightError, REDACTED, quoteIdentifier, type PreflightProblem, type ResolvedRule, type SqlClient } from './masking-sql.js';
export { preflightMasking } from './masking-rules.js';
export { type MaskingVerification, type VerifiedRule, type VerifyMaskingOptions, verifyMasking } from './masking-verify.js';

export interface ApplyMaskingOptions {
  /** Rewrite the masked tables (VACUUM FULL) and CHECKPOINT after the commit; default true. */
  rewrite?: boolean;
  /** Times the masking; the run's clock in a drill. */
  clock?: Elapsed;
}

/**
 * Applies the rules to the copy in one transaction: all of them, or none (on any error the
 * transaction is rolled back and {@link MaskingError} names the rule). `key` is the resolved
 * secret of `masking.key`; without it `hash` is plain SHA-256.
 */
export async function applyMasking(
  client: SqlClient,
  rules: readonly MaskingRule[],
  key?: string | Uint8Array,
  options: ApplyMaskingOptions = {},
): Promise<MaskingApplied> {
  const clock = options.clock ?? systemElapsed;
  const started = clock.elapsed();
  if (key !== undefined && Buffer.from(key).length === 0) throw new MaskingError('the masking key is empty');
  const resolved = await preflightMasking(client, rules);
  const pads = key === undefined ? undefined : hmacPads(Buffer.from(key));
  const applied: AppliedRule[] = [];

  await client.query('begin');
  try {
    await quietTransaction(client);
    for (const rule of resolved) {
      const { sql, values } = maskingUpdate(rule, pads);
      let result;
      try {
        result = await client.query(sql, values);
      } catch (error) {
        // The database's message names the constraint or type; it holds no value of ours.
        throw new MaskingError(`masking ${rule.table}.${rule.column} (${rule.method}) failed: ${errorMessage(error)}`, rule.index);
      }
      applied.push({ table: rule.table, column: rule.column, method: rule.method, rowsAffected: result.rowCount ?? 0 });
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error instanceof MaskingError ? error : new MaskingError(`masking failed and was rolled back: ${errorMessage(error)}`);
  }

  const rewrite = options.rewrite ?? true;
  if (rewrite) {
    // VACUUM FULL cannot run in a transaction, so the timeout is lifted for the session and put back.
    const previous = String((await client.query('select current_setting($1) as v', ['statement_timeout'])).rows[0]?.v ?? '0');
    await client.query('select set_config($1, $2, false)', ['statement_timeout', '0']);
    try {
      for (const table of new Set(resolved.map((rule) => rule.tableSql))) await client.query(`vacuum full ${table}`);
      await client.query('checkpoint');
    } finally {
      await client.query('select set_config($1, $2, false)', ['statement_timeout', previous]);
    }
  }
  return {
    rules: applied,
    hash: resolved.some((rule) => rule.method === 'hash') ? (pads ? 'hmac-sha256' : 'sha256') : null,
    rewritten: rewrite,
    durationMs: Math.round(clock.elapsed() - started),
  };
}

/** The UPDATE for one rule, with the padded key as parameters when the hash is keyed. */
function maskingUpdate(rule: ResolvedRule, pads: { inner: Buffer; outer: Buffer } | undefined): { sql: string; values: unknown[] } {
  const column = rule.columnSql;
  const text = `convert_to(${column}::text, 'UTF8')`;
  let expression: string;
  let values: unknown[] = [];
  if (rule.method === 'null') expression = 'NULL';
  else if (rule.method === 'redact') expression = `'${REDACTED}'`;
  else if (pads) {
    expression = `encode(sha256($2::bytea || sha256($1::bytea || ${text})), 'hex')`;
    values = [pads.inner, pads.outer];
  } else expression = `encode(sha256(${text}), 'hex')`;
  // No ONLY: inheritance children and partitions hold the same column and are masked too.
  return { sql: `update ${rule.tableSql} set ${column} = ${expression} where ${column} is not null`, values };
}

/** RFC 2104 with SHA-256 (block size 64): the key, hashed first when longer, padded and XORed. */
function hmacPads(key: Buffer): { inner: Buffer; outer: Buffer } {
  const block = Buffer.alloc(64);
  (key.length > 64 ? crypto.createHash('sha256').update(key).digest() : key).copy(block);
  return { inner: Buffer.from(block.map((byte) => byte ^ 0x36)), outer: Buffer.from(block.map((byte) => byte ^ 0x5c)) };
}

/** Inside a transaction: no user triggers, no statement or parameter logging, no statement timeout. */
async function quietTransaction(client: SqlClient): Promise<void> {
  try {
    await client.query('set local session_replication_role = replica');
  } catch (error) {
    throw new MaskingError(`masking needs a superuser connection to the copy (to keep triggers from copying the original values elsewhere): ${errorMessage(error)}`);
  }
  await unloggedTransaction(client, 0);
}
