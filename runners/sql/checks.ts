/** The data checks (row-count, checksum, sql) on a PostgreSQL-speaking copy, compared with its source where asked. */
import type pg from 'pg';
import type { CheckResult } from '../../reports/run-record.js';
import type { Check } from '../../scenarios/schema.js';
import { type ConnectionSettings, connect, quoteIdent } from './connection.js';

/** Runs data checks on `copy`; checks that compare with the source connect to `source()` lazily. */
export async function runSqlChecks(checks: Check[], copy: ConnectionSettings, source: () => ConnectionSettings, signal: AbortSignal): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const client = await connect(copy, 5_000);
  let sourceClient: pg.Client | undefined;
  try {
    for (const check of checks) {
      signal.throwIfAborted();
      try {
        const needsSource = check.type === 'checksum' || (check.type === 'row-count' && check.compareWithSource);
        if (needsSource && !sourceClient) sourceClient = await connect(source(), 5_000);
        results.push(await runCheck(check, client, sourceClient));
      } catch (error) {
        results.push({ name: check.name, type: check.type, passed: false, expected: 'check runs', actual: 'error', detail: error instanceof Error ? error.message : String(error) });
      }
    }
  } finally {
    await client.end().catch(() => undefined);
    await sourceClient?.end().catch(() => undefined);
  }
  return results;
}


async function runCheck(check: Check, copy: pg.Client, source: pg.Client | undefined): Promise<CheckResult> {
  switch (check.type) {
    case 'sql': {
      const { rows, fields } = await copy.query(check.query);
      const first = rows[0] && fields[0] ? rows[0][fields[0].name] : undefined;
      const actual = first === undefined || first === null ? 'null' : String(first);
      return { name: check.name, type: 'sql', passed: actual === check.expect, expected: check.expect, actual, detail: check.query };
    }
    case 'row-count': {
      const table = quoteIdent(check.table);
      if (check.compareWithSource && source && check.key) {
        const key = quoteIdent(check.key);
        const bound = await copy.query(`SELECT max(${key})::text AS bound, count(*)::bigint AS n FROM ${table}`);
        const copyCount = Number(bound.rows[0].n);
        const sourceCount = Number((await source.query(`SELECT count(*)::bigint AS n FROM ${table} WHERE ${key} <= $1`, [bound.rows[0].bound])).rows[0].n);
        const passed = copyCount === sourceCount && (check.min === undefined || copyCount >= check.min);
        return { name: check.name, type: 'row-count', passed, expected: `${sourceCount} (source up to ${check.key} ${bound.rows[0].bound})${check.min !== undefined ? `, ≥ ${check.min}` : ''}`, actual: String(copyCount) };
      }
      const count = Number((await copy.query(`SELECT count(*)::bigint AS n FROM ${table}`)).rows[0].n);
      return { name: check.name, type: 'row-count', passed: count >= (check.min ?? 0), expected: `≥ ${check.min ?? 0}`, actual: String(count) };
    }
    case 'checksum': {
      if (!source) throw new Error('no source to compare with');
      const table = quoteIdent(check.table);
      const key = quoteIdent(check.key);
      const row = `concat_ws('|', ${check.columns.map(quoteIdent).join(', ')})`;
      const bound = (await copy.query(`SELECT max(${key})::text AS bound FROM ${table}`)).rows[0].bound as string | null;
      const sql = `SELECT md5(coalesce(string_agg(${row}, E'\\n' ORDER BY ${key}), '')) AS digest, count(*)::bigint AS n FROM ${table} WHERE ${key} <= $1`;
      const [mine, theirs] = [(await copy.query(sql, [bound])).rows[0], (await source.query(sql, [bound])).rows[0]];
      return {
        name: check.name,
        type: 'checksum',
        passed: mine.digest === theirs.digest,
        expected: `md5 ${theirs.digest} over ${theirs.n} source rows (${check.key} ≤ ${bound})`,
        actual: `md5 ${mine.digest} over ${mine.n} rows`,
      };
    }
  }
}

