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
import crypto from 'node:crypto';
import type { MaskingMethod, MaskingRule } from '../../scenarios/masking.js';
import { normalizeIdentifier } from '../../scenarios/masking.js';

/** What masking needs of a connection (a `pg.Client` has it). */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** The text `redact` writes. Ten characters: a varchar or char column must hold at least that. */
export const REDACTED = '[redacted]';
/** Hex of a SHA-256 or HMAC-SHA256: 64 characters. */
const HASH_LENGTH = 64;

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

/**
 * Checks that every rule names a table and column of this database that its method can
 * mask, before anything changes: run it against the source before T0 (validate/plan, the
 * copy has the same schema) and against the copy before masking. Throws
 * {@link MaskingPreflightError} with every problem found.
 */
export async function preflightMasking(client: SqlClient, rules: readonly MaskingRule[]): Promise<ResolvedRule[]> {
  return resolveRules(client, rules, true);
}

/** Resolves each rule's table and column; with `checkMethod`, also that its method can be applied there. */
async function resolveRules(client: SqlClient, rules: readonly MaskingRule[], checkMethod: boolean): Promise<ResolvedRule[]> {
  const problems: PreflightProblem[] = [];
  const versionRow = (await client.query('select current_setting($1)::int as v', ['server_version_num'])).rows[0];
  const version = Number(versionRow?.v);
  if (version < 110_000) {
    // sha256() is built in from 11 (hash, and the digests verification compares).
    throw new MaskingPreflightError([{ rule: 0, message: `PostgreSQL ${Math.floor(version / 10_000)} has no built-in sha256(); masking needs PostgreSQL 11 or later` }]);
  }
  const resolved: ResolvedRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const problem = (message: string, hint?: string) => problems.push({ rule: index, message, ...(hint ? { hint } : {}) });
    const relation = (
      await client.query(
        `select c.oid::int8 as oid, c.relkind, n.nspname, c.relname
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.oid = to_regclass($1)`,
        [rule.table],
      )
    ).rows[0];
    if (!relation) {
      problem(`table ${rule.table} does not exist in database ${await currentDatabase(client)}`, 'name it as in SQL, schema-qualified when it is not on the search_path (e.g. sales.customers)');
      continue;
    }
    const qualified = `${quoteIdentifier(String(relation.nspname))}.${quoteIdentifier(String(relation.relname))}`;
    if (relation.relkind !== 'r' && relation.relkind !== 'p') {
      problem(
        `${qualified} is a ${RELKIND[String(relation.relkind)] ?? `relation of kind ${String(relation.relkind)}`}, not a table`,
        relation.relkind === 'm' ? 'mask the tables it is built from and refresh it in the copy, or drop it there' : 'mask the table the values are stored in',
      );
      continue;
    }
    const columnName = normalizeIdentifier(rule.column);
    const column = (
      await client.query(
        `select a.attnum, a.attnotnull, ${version >= 120_000 ? 'a.attgenerated' : "''::text as attgenerated"},
                t.typcategory, format_type(a.atttypid, a.atttypmod) as type,
                case when a.atttypid in ('varchar'::regtype, 'bpchar'::regtype) and a.atttypmod > 4 then a.atttypmod - 4 end as max_length,
                exists (select 1 from pg_index i where i.indrelid = a.attrelid and i.indisunique and i.indnatts = 1 and i.indkey[0] = a.attnum) as unique_alone
           from pg_attribute a join pg_type t on t.oid = a.atttypid
          where a.attrelid = $1::int8::oid and a.attname = $2 and a.attnum > 0 and not a.attisdropped`,
        [relation.oid, columnName],
      )
    ).rows[0];
    if (!column) {
      const names = (await client.query('select attname from pg_attribute where attrelid = $1::int8::oid and attnum > 0 and not attisdropped order by attnum', [relation.oid])).rows.map((r) => String(r.attname));
      problem(`${qualified} has no column ${quoteIdentifier(columnName)}`, `its columns: ${names.join(', ')}`);
      continue;
    }
    const type = String(column.type);
    const where = `${qualified}.${quoteIdentifier(columnName)} (${type})`;
    if (checkMethod && column.attgenerated && String(column.attgenerated) !== '') {
      problem(`${where} is a generated column and cannot be updated`, 'mask the columns it is generated from');
      continue;
    }
    resolved.push({ index, method: rule.method, table: displayName(String(relation.nspname), String(relation.relname)), column: displayIdentifier(columnName), tableSql: qualified, columnSql: quoteIdentifier(columnName), type, catalogKey: `${String(relation.oid)}:${String(column.attnum)}` });
    if (!checkMethod) continue;
    const maxLength = column.max_length === null || column.max_length === undefined ? undefined : Number(column.max_length);
    if (rule.method === 'null' && column.attnotnull === true) problem(`${where} is NOT NULL, so method null cannot be applied`, 'use redact or hash');
    if (rule.method === 'redact' || rule.method === 'hash') {
      const needed = rule.method === 'hash' ? HASH_LENGTH : REDACTED.length;
      if (column.typcategory !== 'S') {
        problem(`${where} is not a text column, so ${rule.method} cannot write ${rule.method === 'hash' ? 'a hex digest' : `'${REDACTED}'`} into it`, 'use method null for non-text columns');
      } else if (maxLength !== undefined && maxLength < needed) {
        problem(`${where} holds at most ${maxLength} characters; ${rule.method} writes ${needed}`, rule.method === 'hash' ? 'use redact or null' : 'use null');
      }
      if (rule.method === 'redact' && column.unique_alone === true) {
        problem(`${where} has a unique index: redact would give every row the same value`, 'use hash, which keeps distinct values distinct');
      }
    }
  }
  if (checkMethod) problems.push(...(await foreignKeyProblems(client, resolved)));
  if (problems.length > 0) throw new MaskingPreflightError(problems.sort((a, b) => a.rule - b.rule));
  return resolved;
}

/**
 * Masking runs with foreign-key triggers off, so a masked key must be masked the same way on
 * the other side of every single-column foreign key, or the copy's references break silently:
 * both sides hashed (one key, one digest), or the referencing side set to NULL.
 */
async function foreignKeyProblems(client: SqlClient, resolved: readonly ResolvedRule[]): Promise<PreflightProblem[]> {
  const methodAt = new Map(resolved.map((rule) => [rule.catalogKey, rule.method]));
  const problems: PreflightProblem[] = [];
  for (const rule of resolved) {
    const [oid, attnum] = rule.catalogKey.split(':').map(Number);
    const keys = (
      await client.query(
        `select c.conname, c.conrelid::int8 as referencing_oid, c.conkey[1] as referencing_attnum, c.confrelid::int8 as referenced_oid, c.confkey[1] as referenced_attnum,
                (select format('%I.%I.%I', n.nspname, r.relname, a.attname) from pg_class r join pg_namespace n on n.oid = r.relnamespace join pg_attribute a on a.attrelid = r.oid and a.attnum = c.conkey[1] where r.oid = c.conrelid) as referencing,
                (select format('%I.%I.%I', n.nspname, r.relname, a.attname) from pg_class r join pg_namespace n on n.oid = r.relnamespace join pg_attribute a on a.attrelid = r.oid and a.attnum = c.confkey[1] where r.oid = c.confrelid) as referenced
           from pg_constraint c
          where c.contype = 'f' and c.conparentid = 0 and cardinality(c.conkey) = 1
            and ((c.conrelid = $1::int8::oid and c.conkey[1] = $2) or (c.confrelid = $1::int8::oid and c.confkey[1] = $2))`,
        [oid, attnum],
      )
    ).rows;
    for (const key of keys) {
      const referencingKey = `${String(key.referencing_oid)}:${String(key.referencing_attnum)}`;
      const referencedKey = `${String(key.referenced_oid)}:${String(key.referenced_attnum)}`;
      const isReferencing = referencingKey === rule.catalogKey;
      if (isReferencing && rule.method === 'null') continue;
      const other = methodAt.get(isReferencing ? referencedKey : referencingKey);
      const consistent = isReferencing ? rule.method === 'hash' && other === 'hash' : other === 'null' || (rule.method === 'hash' && other === 'hash');
      if (consistent) continue;
      problems.push(
        isReferencing
          ? { rule: rule.index, message: `${rule.table}.${rule.column} references ${String(key.referenced)} (${String(key.conname)}), which is ${other ? `masked with ${other}` : 'not masked'}: ${rule.method} would leave the copy's references pointing nowhere`, hint: `hash both columns (one key gives one digest), or mask this one with null` }
          : { rule: rule.index, message: `${rule.table}.${rule.column} is referenced by ${String(key.referencing)} (${String(key.conname)}), which is ${other ? `masked with ${other}` : 'not masked'}: the references would point nowhere`, hint: rule.method === 'hash' ? `add a rule for ${String(key.referencing)} with hash (or null)` : `hash this column, and add a rule for ${String(key.referencing)} with hash (or null)` },
      );
    }
  }
  return problems;
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

export interface ApplyMaskingOptions {
  /** Rewrite the masked tables (VACUUM FULL) and CHECKPOINT after the commit; default true. */
  rewrite?: boolean;
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
  const started = performance.now();
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
    durationMs: Math.round(performance.now() - started),
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

/**
 * Inside a transaction: nothing of it reaches the server log — no statement with its
 * parameters (the padded key, the digests verification looks for) and no error detail
 * (`Key (email)=(…) already exists` would name a value). Needs a superuser.
 */
async function unloggedTransaction(client: SqlClient, statementTimeoutMs: number): Promise<void> {
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

// ---------------------------------------------------------------------------------------
// Verification

export interface VerifiedRule {
  table: string;
  column: string;
  method: MaskingMethod;
  /** From the applied result, when given. */
  rowsAffected: number | null;
  /** Non-null original values sampled from the source. */
  sampled: number;
  /** Rows of the copy whose value equals a sampled original value: must be 0. */
  matches: number;
  /** Rows of the copy whose value is not what the method writes (NULL, [redacted], a 64-hex digest): must be 0. */
  unmaskedRows: number;
}

export interface MaskingVerification {
  verdict: 'verified' | 'failed';
  /** The sample size asked for, per rule. */
  sampleSize: number;
  rules: VerifiedRule[];
  /** All rules' matches: must be 0. */
  matches: number;
  unmaskedRows: number;
  /** How originals were compared: digests taken on the source, so no original value left it. */
  method: string;
}

export interface VerifyMaskingOptions {
  /** The result of {@link applyMasking}, to record rows affected beside the verification. */
  applied?: MaskingApplied;
  /** Statement timeout for the sampling on the source (often production); default 60 s. */
  sourceTimeoutMs?: number;
}

/**
 * Shows that no original value of a masked column remains in the copy: for every rule, up to
 * `sampleSize` non-null values are sampled from the source, and every row of the copy's
 * column is compared with them; the copy's column is also checked to hold only what the
 * method writes. The sample is taken as SHA-256 digests on the source, and the copy is
 * searched for those digests, so original values leave neither server and never reach
 * drillbook's memory as text.
 */
export async function verifyMasking(
  copyClient: SqlClient,
  sourceClient: SqlClient,
  rules: readonly MaskingRule[],
  sampleSize: number,
  options: VerifyMaskingOptions = {},
): Promise<MaskingVerification> {
  if (!Number.isInteger(sampleSize) || sampleSize < 1) throw new RangeError(`sampleSize must be a positive integer, got ${sampleSize}`);
  const onCopy = await resolveRules(copyClient, rules, false).catch(rethrowFor('the copy'));
  const onSource = await resolveRules(sourceClient, rules, false).catch(rethrowFor('the source'));

  const digestsByRule: Buffer[][] = [];
  await readOnly(sourceClient, options.sourceTimeoutMs ?? 60_000, async () => {
    for (const rule of onSource) digestsByRule.push(await sampleDigests(sourceClient, rule, sampleSize));
  });

  const verified: VerifiedRule[] = [];
  await readOnly(copyClient, 0, async () => {
    for (const [position, rule] of onCopy.entries()) {
      const digests = digestsByRule[position]!;
      const column = rule.columnSql;
      const method = rules[position]!.method;
      const matches =
        digests.length === 0
          ? 0
          : Number(
              (await copyClient.query(`select count(*) as n from ${rule.tableSql} where ${column} is not null and sha256(convert_to(${column}::text, 'UTF8')) = any($1::bytea[])`, [digests])).rows[0]?.n,
            );
      const unmasked = Number((await copyClient.query(`select count(*) as n from ${rule.tableSql} where ${unmaskedCondition(column, method)}`)).rows[0]?.n);
      const appliedRule = options.applied?.rules[position];
      verified.push({ table: rule.table, column: rule.column, method, rowsAffected: appliedRule?.rowsAffected ?? null, sampled: digests.length, matches, unmaskedRows: unmasked });
    }
  }, true); // the digests sought are parameters: keep them out of the copy's log

  const matches = verified.reduce((sum, rule) => sum + rule.matches, 0);
  const unmaskedRows = verified.reduce((sum, rule) => sum + rule.unmaskedRows, 0);
  return {
    verdict: matches === 0 && unmaskedRows === 0 ? 'verified' : 'failed',
    sampleSize,
    rules: verified,
    matches,
    unmaskedRows,
    method: 'SHA-256 digests of sampled source values compared with every row of the copy; values themselves never leave the source',
  };
}

/** Up to `size` digests of non-null values, sampled at random; a block sample first on large tables. */
async function sampleDigests(client: SqlClient, rule: ResolvedRule, size: number): Promise<Buffer[]> {
  const column = rule.columnSql;
  const digest = `sha256(convert_to(${column}::text, 'UTF8'))`;
  const full = `select ${digest} as d from ${rule.tableSql} where ${column} is not null order by random() limit $1`;
  const estimate = Number((await client.query(`select greatest(reltuples, 0)::float8 as n from pg_class where oid = to_regclass($1)`, [rule.tableSql])).rows[0]?.n ?? 0);
  if (estimate > size * 100) {
    // Reading ~4× the wanted rows' pages instead of the whole (production) table; when the
    // block sample comes back short (a column that is mostly NULL), fall back to a full scan.
    const percent = Math.min(100, ((size * 4) / estimate) * 100);
    const sampled = (await client.query(`select ${digest} as d from ${rule.tableSql} tablesample system ($2) where ${column} is not null order by random() limit $1`, [size, percent])).rows;
    if (sampled.length >= size) return sampled.map((row) => row.d as Buffer);
  }
  return (await client.query(full, [size])).rows.map((row) => row.d as Buffer);
}

function unmaskedCondition(column: string, method: MaskingMethod): string {
  if (method === 'null') return `${column} is not null`;
  if (method === 'redact') return `${column} is not null and ${column}::text <> '${REDACTED}'`;
  return `${column} is not null and ${column}::text !~ '^[0-9a-f]{${HASH_LENGTH}}$'`;
}

/** A read-only transaction (optionally unlogged) whose text forms do not depend on the session (dates, floats, intervals). */
async function readOnly(client: SqlClient, timeoutMs: number, body: () => Promise<void>, unlogged = false): Promise<void> {
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

function rethrowFor(where: string) {
  return (error: unknown): never => {
    if (error instanceof MaskingPreflightError) throw new MaskingPreflightError(error.problems.map((p) => ({ ...p, message: `on ${where}: ${p.message}` })));
    throw error;
  };
}

async function currentDatabase(client: SqlClient): Promise<string> {
  return String((await client.query('select current_database() as d')).rows[0]?.d);
}

const RELKIND: Record<string, string> = { v: 'view', m: 'materialized view', f: 'foreign table', S: 'sequence', i: 'index', c: 'composite type' };

/** An identifier quoted for SQL: always in double quotes, with " doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An identifier as a person would write it: bare when PostgreSQL would read it back the same. */
function displayIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdentifier(name);
}

function displayName(schema: string, table: string): string {
  return `${displayIdentifier(schema)}.${displayIdentifier(table)}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
