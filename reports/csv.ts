/**
 * The one CSV writer of drillbook (csv-stringify): RFC 4180 quoting (a field holding a comma,
 * a quote, a CR or an LF is quoted, quotes doubled) and CRLF line ends by default. Text cells
 * that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a CR)
 * get a leading `'`; numbers are written as they are, so a negative figure stays a number.
 */
import { stringify } from 'csv-stringify/sync';

export type CsvCell = string | number;

export interface CsvOptions {
  /** Prefix formula-like text cells with `'` (default true). Off for data files read back as data. */
  escapeFormulas?: boolean;
  /** Between records and after the last one (default CRLF, RFC 4180). */
  recordDelimiter?: '\r\n' | '\n';
}

const FORMULA_START = /^[=+\-@\t\r]/;

function cellText(cell: CsvCell, escapeFormulas: boolean): string {
  if (typeof cell === 'number') return String(cell);
  return escapeFormulas && FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/** Rows as CSV text, each row ended by the record delimiter. */
export function csvText(rows: readonly (readonly CsvCell[])[], options: CsvOptions = {}): string {
  const escapeFormulas = options.escapeFormulas ?? true;
  return stringify(
    rows.map((row) => row.map((cell) => cellText(cell, escapeFormulas))),
    // csv-stringify quotes on the record delimiter only; a lone CR or LF must be quoted too.
    { record_delimiter: options.recordDelimiter ?? '\r\n', quoted_match: /[\r\n]/ },
  );
}

/** One row without its line end (for appending a line at a time). */
export function csvLine(row: readonly CsvCell[], options: Omit<CsvOptions, 'recordDelimiter'> = {}): string {
  return csvText([row], { ...options, recordDelimiter: '\n' }).slice(0, -1);
}
