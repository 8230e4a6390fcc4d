/**
 * Verification that masking took (SPEC v1.1): a sample of the source's original values,
 * taken as SHA-256 digests on the source, is sought in every row of the copy's masked column,
 * and the column is checked to hold only what the method writes (masking.ts has the why).
 */
import type { MaskingMethod, MaskingRule } from '../../scenarios/masking.js';
import { resolveRules } from './masking-rules.js';
import { HASH_LENGTH, type MaskingApplied, REDACTED, type ResolvedRule, type SqlClient, currentDatabase, readOnly, rethrowFor } from './masking-sql.js';

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
