/**
 * `spec.restore.masking` (SPEC v1.1 "Masking that is applied"; ISO/IEC 27001 A.8.11, GDPR
 * Art. 32). Either a text — the masking is done elsewhere and recorded as declared — or rules
 * drillbook applies to the restored copy before anyone or any check other than the integrity
 * checks sees it (runners/restore/masking.ts applies and verifies them).
 *
 * `hash` replaces a value with the hex of HMAC-SHA256 under `key`, or of plain SHA-256 when no
 * key is given. An unkeyed hash of a low-entropy value (an e-mail address, a name, a phone
 * number, a birth date) is reversible by hashing every candidate, so it is pseudonymisation at
 * best; `validate` warns when production data is hashed without a key.
 *
 * Pure: the schema and the checks `validate` runs; no database, no file access.
 */
import { z } from 'zod';
import type { Reporter } from './diagnostics.js';
import type { EnvironmentClass } from './environments.js';
import { SecretRef } from './primitives.js';

/** One SQL identifier as it would be written in a query: unquoted (folded to lower case) or "double-quoted" (exact). */
const IDENTIFIER = String.raw`(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")`;
const TABLE_PATTERN = new RegExp(`^${IDENTIFIER}(?:\\.${IDENTIFIER})?$`);
const COLUMN_PATTERN = new RegExp(`^${IDENTIFIER}$`);

export const MaskingMethod = z
  .enum(['hash', 'null', 'redact'])
  .describe('hash: hex of HMAC-SHA256 under `key` (plain SHA-256 without one); null: NULL; redact: the text [redacted]');
export type MaskingMethod = z.infer<typeof MaskingMethod>;

export const MaskingRule = z.strictObject({
  table: z
    .string()
    .regex(TABLE_PATTERN, 'must be a table name as written in SQL, optionally schema-qualified (public.customers, "Sales"."Customers")')
    .describe('The table, as written in SQL (unquoted names fold to lower case)'),
  column: z.string().regex(COLUMN_PATTERN, 'must be one column name as written in SQL (email, "eMail")').describe('The column, as written in SQL'),
  method: MaskingMethod,
});
export type MaskingRule = z.infer<typeof MaskingRule>;

export const MaskingRules = z.strictObject({
  rules: z.array(MaskingRule).min(1).describe('Applied in one transaction to the restored copy'),
  key: SecretRef.optional().describe('The HMAC key for `hash` rules (never written to evidence); without it `hash` is plain SHA-256'),
});
export type MaskingRules = z.infer<typeof MaskingRules>;

export const Masking = z
  .union([z.string().trim().min(1), MaskingRules], {
    error: 'masking is either a text saying how the copy is masked elsewhere, or `{ rules: [{ table, column, method }], key? }`',
  })
  .describe('Masking of the restored copy: a text (done elsewhere, recorded as declared) or rules drillbook applies and verifies');
export type Masking = z.infer<typeof Masking>;

/** The rules form, or undefined for a declared text or no masking. */
export function maskingRules(masking: Masking | undefined): MaskingRules | undefined {
  return typeof masking === 'object' ? masking : undefined;
}

/**
 * How the masking is named in evidence before it is applied: the declared text, or the rules
 * (table.column method) and whether `hash` is keyed. Never the key, only that there is one.
 */
export function describeMasking(masking: Masking | undefined): string {
  if (masking === undefined) return 'none applied (declare restore.masking when the copy holds personal data)';
  if (typeof masking === 'string') return masking;
  const rules = masking.rules.map((rule) => `${rule.table}.${rule.column} ${rule.method}`).join(', ');
  const hashing = masking.rules.some((rule) => rule.method === 'hash') ? (masking.key ? '; hash is keyed HMAC-SHA256' : '; hash is unkeyed SHA-256') : '';
  return `rules declared: ${rules}${hashing}`;
}

/**
 * Rules between `restore.keep`, `restore.reason` and `restore.masking` that depend on the
 * environment's class. Reads the raw document, so it runs even when the schema found
 * problems elsewhere.
 *
 * - A kept copy of production-class data without masking rules is refused unless the
 *   masking is declared as a text that says why (where it is masked, or why it holds no
 *   personal data); the evidence records that text as declared, not as applied. The keep's
 *   `reason` (required for every keep, crossfile.ts) says why the copy is kept, which is
 *   another question, so it alone does not lift the refusal.
 * - Two rules for the same column are refused (the second would mask the first's output).
 * - `hash` without a key on production data is a warning: unkeyed hashes of low-entropy values are reversible.
 */
export function checkRestoreMasking(scenarioData: unknown, environmentClass: EnvironmentClass, report: Reporter): void {
  const restore = own(own(scenarioData, 'spec'), 'restore');
  if (restore === null || typeof restore !== 'object' || Array.isArray(restore)) return;
  const keep = own(restore, 'keep');
  const reason = own(restore, 'reason');
  const masking = own(restore, 'masking');
  const rules = own(masking, 'rules');
  const production = environmentClass === 'production';
  const hasReason = typeof reason === 'string' && reason.trim() !== '';

  if (production && keep !== undefined && keep !== null && !(Array.isArray(rules) && rules.length > 0) && !isDeclaredText(masking)) {
    // `reason` justifies keeping the copy; it does not say why production data may stay
    // unmasked. That statement is the declared-masking text, which the evidence records as such.
    report(['spec', 'restore', 'keep'], 'a kept copy of production data needs masking rules, or a masking text that says why it may stay unmasked', {
      hint: hasReason
        ? 'add `masking: { rules: [{ table, column, method: hash | null | redact }] }` under spec.restore, or `masking: "…"` saying where it is masked or why it holds no personal data (recorded in the evidence)'
        : 'add masking rules under spec.restore.masking, and a `reason:` for keeping the copy',
    });
  }

  if (!Array.isArray(rules)) return;
  const seen = new Map<string, number>();
  rules.forEach((rule, index) => {
    const table = own(rule, 'table');
    const column = own(rule, 'column');
    if (typeof table !== 'string' || typeof column !== 'string') return;
    const key = `${normalizeTable(table)}\u0000${normalizeIdentifier(column)}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else report(['spec', 'restore', 'masking', 'rules', index], `\`${table}.${column}\` is already masked by rules[${first}]`, {
      hint: 'give each column one rule',
    });
  });
  const unkeyedHash = rules.findIndex((rule) => own(rule, 'method') === 'hash');
  if (production && unkeyedHash >= 0 && own(masking, 'key') === undefined) {
    report(['spec', 'restore', 'masking', 'rules', unkeyedHash, 'method'], 'production data is hashed without a key: an unkeyed SHA-256 of an e-mail address or a name is reversed by hashing the candidates', {
      severity: 'warning',
      hint: 'add `key: { env: MASKING_KEY }` (or `{ file: … }`) under spec.restore.masking to make `hash` a keyed HMAC-SHA256, or use `redact` or `null`',
    });
  }
}

/** An identifier as PostgreSQL reads it: a quoted one exactly (with "" as "), an unquoted one folded to lower case. */
export function normalizeIdentifier(identifier: string): string {
  return identifier.startsWith('"') && identifier.endsWith('"') && identifier.length >= 2
    ? identifier.slice(1, -1).replaceAll('""', '"')
    : identifier.toLowerCase();
}

/** Splits `schema.table` (either part possibly quoted) into its identifiers, as PostgreSQL reads them. */
export function splitTableName(table: string): string[] {
  const parts = table.match(new RegExp(IDENTIFIER, 'g')) ?? [];
  return parts.map(normalizeIdentifier);
}

function normalizeTable(table: string): string {
  const parts = splitTableName(table);
  return parts.length === 1 ? `public.${parts[0]}` : parts.join('.');
}

function isDeclaredText(masking: unknown): boolean {
  return typeof masking === 'string' && masking.trim() !== '';
}

function own(data: unknown, key: string): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  return Object.prototype.hasOwnProperty.call(data, key) ? (data as Record<string, unknown>)[key] : undefined;
}
