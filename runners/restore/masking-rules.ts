/**
 * Masking rules resolved against a database before anything changes: the table and column
 * each rule really names (SQL name folding, the search path), whether its method fits the
 * column, and whether a single-column foreign key would break (masking.ts says why).
 */
import type { MaskingRule } from '../../scenarios/masking.js';
import { normalizeIdentifier } from '../../scenarios/masking.js';
import { HASH_LENGTH, MaskingPreflightError, type PreflightProblem, RELKIND, REDACTED, type ResolvedRule, type SqlClient, currentDatabase, displayIdentifier, displayName, errorMessage, quoteIdentifier } from './masking-sql.js';

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
export async function resolveRules(client: SqlClient, rules: readonly MaskingRule[], checkMethod: boolean): Promise<ResolvedRule[]> {
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
