/**
 * Secrets are named in scenarios ({ env } or { file }) and resolved only when needed; their
 * values never enter the journal, the timeline or the evidence, which store the reference.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SecretRef } from '../scenarios/schema.js';

export function resolveSecret(ref: SecretRef | undefined, baseDir: string): string | undefined {
  if (!ref) return undefined;
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined) throw new Error(`secret env:${ref.env} is not set`);
    return value;
  }
  const file = path.resolve(baseDir, ref.file);
  try {
    return fs.readFileSync(file, 'utf8').trimEnd();
  } catch {
    throw new Error(`secret file ${ref.file} cannot be read`);
  }
}

/** How a secret is named in evidence: never its value. */
export function describeSecret(ref: SecretRef | undefined): string {
  if (!ref) return 'none';
  return 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
}
