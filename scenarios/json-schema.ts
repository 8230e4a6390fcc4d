/**
 * The JSON Schema of drillbook files (`drillbook schema`), generated from the zod schema so
 * the two cannot drift. Editors (e.g. the YAML language server) use it for completion and
 * inline errors; `drillbook validate` remains the authority, since JSON Schema cannot
 * express the duration grammar, cron syntax or cross-file references.
 */
import { z } from 'zod';
import { DOCUMENT_KINDS, type DocumentKind } from './schema.js';

const SCHEMA_ID_BASE = 'https://drillbook.dev/schema/v1';
type JsonObject = Record<string, unknown>;

/**
 * With a kind: that kind's schema (input form: defaults are optional, durations are strings).
 * Without: one document that accepts either kind — `oneOf` two `$ref`s into `$defs`, told
 * apart by their `kind` constants — for an editor association such as `drills/*.yaml`.
 */
export function jsonSchema(kind?: DocumentKind): JsonObject {
  if (kind) {
    return { ...kindSchema(kind), $id: `${SCHEMA_ID_BASE}/${kind}.json`, title: `drillbook ${kind}` };
  }
  const $defs: JsonObject = {};
  for (const name of Object.keys(DOCUMENT_KINDS) as DocumentKind[]) {
    const { $defs: nested, $schema: _dialect, ...rest } = kindSchema(name);
    // zod only emits $defs for recursive or registered schemas; hoist any so `#/$defs/…` refs still resolve.
    if (nested && typeof nested === 'object') Object.assign($defs, nested);
    $defs[name] = rest;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_ID_BASE}/drillbook.json`,
    title: 'drillbook file (Scenario, ContinuityPlan or ExerciseAnswers)',
    oneOf: Object.keys(DOCUMENT_KINDS).map((name) => ({ $ref: `#/$defs/${name}` })),
    $defs,
  };
}

function kindSchema(kind: DocumentKind): JsonObject {
  const generated = z.toJSONSchema(DOCUMENT_KINDS[kind], { io: 'input', unrepresentable: 'any' }) as JsonObject;
  const { $schema: _dialect, ...body } = generated;
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...body };
}
