/**
 * Checking a loaded document against the schema of its `kind`: every zod issue becomes a
 * located diagnostic with a hint where one helps (did-you-mean for keys and values, the
 * allowed choices, the field's own description), found by walking the zod schema alongside
 * the document.
 */
import { z } from 'zod';
import { checkPlanSemantics, checkScenarioSemantics, valueAt } from './crossfile.js';
import { checkClusterTarget, checkNoEffectSettings } from './target-semantics.js';
import { type Diagnostics, formatPath, type Reporter } from './diagnostics.js';
import { API_VERSION, type ContinuityPlan, DOCUMENT_KINDS, type ExerciseAnswers, type Scenario, type DocumentKind } from './schema.js';
import { closest, listChoices } from './suggest.js';
import type { LoadedDocument, PathSegment } from './yaml-file.js';

export type ValidatedDocument =
  | { kind: 'Scenario'; value: Scenario }
  | { kind: 'ContinuityPlan'; value: ContinuityPlan }
  | { kind: 'ExerciseAnswers'; value: ExerciseAnswers };

const KIND_NAMES = Object.keys(DOCUMENT_KINDS) as DocumentKind[];

export function reporterFor(loaded: LoadedDocument, diagnostics: Diagnostics): Reporter {
  return (target, message, opts) => {
    diagnostics.add({
      severity: opts?.severity ?? 'error',
      file: loaded.file,
      ...loaded.locate(target),
      path: formatPath(target),
      message,
      ...(opts?.hint ? { hint: opts.hint } : {}),
    });
  };
}

/**
 * Checks a loaded document against the schema of its `kind` and the rules of that kind the
 * schema cannot express. Every problem is reported; the parsed value is returned only when
 * there were no errors. `expect` refuses a valid document of the other kind.
 */
export function validateDocument(
  loaded: LoadedDocument,
  diagnostics: Diagnostics,
  opts: { expect?: DocumentKind } = {},
): ValidatedDocument | undefined {
  const errorsBefore = diagnostics.count('error');
  const report = reporterFor(loaded, diagnostics);
  const data = loaded.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    report([], `expected a mapping with apiVersion, kind, metadata and spec; found ${describeValue(data)}`, {
      hint: `start the file with \`apiVersion: ${API_VERSION}\` and \`kind: Scenario\` or \`kind: ContinuityPlan\``,
    });
    return undefined;
  }

  const apiVersion = valueAt(data, ['apiVersion']);
  if (apiVersion === undefined) report([], 'missing `apiVersion`', { hint: `add \`apiVersion: ${API_VERSION}\`` });
  else if (apiVersion !== API_VERSION) {
    report(['apiVersion'], `unsupported apiVersion ${describeValue(apiVersion)}`, { hint: `use \`apiVersion: ${API_VERSION}\`` });
  }

  const kind = valueAt(data, ['kind']);
  if (kind === undefined) {
    report([], 'missing `kind`', { hint: `add \`kind:\` with ${listChoices(KIND_NAMES)}` });
    return undefined;
  }
  if (typeof kind !== 'string' || !KIND_NAMES.includes(kind as DocumentKind)) {
    const suggestion = typeof kind === 'string' ? closest(kind, KIND_NAMES) : undefined;
    report(['kind'], `unknown kind ${describeValue(kind)}`, {
      hint: suggestion ? `did you mean \`${suggestion}\`?` : `kind is ${listChoices(KIND_NAMES)}`,
    });
    return undefined;
  }
  if (opts.expect && kind !== opts.expect) {
    report(['kind'], `expected a ${opts.expect} here, but this file is a ${kind}`);
    return undefined;
  }

  const schema: z.ZodType = DOCUMENT_KINDS[kind as DocumentKind];
  const result = schema.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues) {
      // apiVersion was checked above with a better message.
      if (issue.path.length === 1 && issue.path[0] === 'apiVersion') continue;
      reportIssue(issue, loaded, schema, diagnostics);
    }
  }
  if (kind === 'Scenario') {
    checkScenarioSemantics(data, report);
    checkClusterTarget(data, report);
    checkNoEffectSettings(data, report);
  } else if (kind === 'ContinuityPlan') checkPlanSemantics(data, report);

  if (diagnostics.count('error') > errorsBefore || !result.success) return undefined;
  if (kind === 'Scenario') return { kind, value: result.data as Scenario };
  if (kind === 'ExerciseAnswers') return { kind, value: result.data as ExerciseAnswers };
  return { kind: 'ContinuityPlan', value: result.data as ContinuityPlan };
}

/** One zod issue as one or more located diagnostics, with a hint where one helps. */
function reportIssue(issue: z.core.$ZodIssue, loaded: LoadedDocument, schema: z.ZodType, diagnostics: Diagnostics): void {
  const issuePath = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
  const add = (target: PathSegment[], message: string, hint?: string, atKey = false) =>
    diagnostics.add({
      severity: 'error',
      file: loaded.file,
      ...(atKey ? loaded.locateKey(target) : loaded.locate(target)),
      path: formatPath(target),
      message,
      ...(hint ? { hint } : {}),
    });

  const value = valueAt(loaded.data, issuePath);
  const parent = valueAt(loaded.data, issuePath.slice(0, -1));
  const last = issuePath[issuePath.length - 1];
  const missing =
    last !== undefined &&
    parent !== null &&
    typeof parent === 'object' &&
    !Object.prototype.hasOwnProperty.call(parent, last);

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(schema, issuePath, loaded.data);
      for (const key of issue.keys) {
        const suggestion = allowed ? closest(key, allowed) : undefined;
        const hint = suggestion
          ? `did you mean \`${suggestion}\`?`
          : allowed && allowed.length > 0
            ? `allowed here: ${listChoices(allowed)}`
            : undefined;
        add([...issuePath, key], `unknown key \`${key}\``, hint, true);
      }
      return;
    }
    case 'invalid_value': {
      const options = issue.values.map(String);
      if (missing) return add(issuePath, `missing required key \`${String(last)}\``, `one of ${listChoices(options)}`);
      if (options.length === 1) return add(issuePath, `must be \`${options[0]}\`, not ${describeValue(value)}`);
      const suggestion = typeof value === 'string' ? closest(value, options) : undefined;
      return add(
        issuePath,
        `${describeValue(value)} is not one of the allowed values`,
        suggestion ? `did you mean \`${suggestion}\`? (one of ${listChoices(options)})` : `one of ${listChoices(options)}`,
      );
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        const options = issue.options.map(String);
        if (missing) return add(issuePath, `missing required key \`${String(last)}\``, `one of ${listChoices(options)}`);
        const suggestion = typeof value === 'string' ? closest(value, options) : undefined;
        return add(
          issuePath,
          issue.message,
          suggestion ? `did you mean \`${suggestion}\`?` : `valid values: ${listChoices(options)}`,
        );
      }
      if (missing) return add(issuePath, `missing required key \`${String(last)}\``);
      // A union of different types (a text or an object): when the value's type rules out all
      // options but one, that option's own problems are the useful ones.
      const plausible = issue.errors.filter((branch) => !(branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0));
      if (plausible.length === 1 && issue.errors.length > 1) {
        for (const inner of plausible[0]!) reportIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, loaded, schema, diagnostics);
        return;
      }
      // The schema's own message (e.g. "secrets are never inline…") says more than a list of types.
      if (!issue.message.startsWith('Invalid input')) return add(issuePath, issue.message);
      const expected = issue.errors.map((branch) =>
        branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0 ? branch[0]!.expected : undefined,
      );
      if (expected.length > 0 && expected.every((type) => type !== undefined)) {
        return add(issuePath, `expected ${joinTypes(expected as string[])}, found ${describeValue(value)}`);
      }
      return add(issuePath, cleanMessage(issue.message));
    }
    case 'invalid_type':
      if (missing) return add(issuePath, `missing required key \`${String(last)}\``);
      return add(issuePath, `expected ${typeName(issue.expected)}, found ${describeValue(value)}`);
    case 'invalid_key': {
      const options = issue.issues.flatMap((inner) => (inner.code === 'invalid_value' ? inner.values.map(String) : []));
      const suggestion = last !== undefined && options.length > 0 ? closest(String(last), options) : undefined;
      return add(
        issuePath,
        `\`${String(last)}\` is not allowed as a key here`,
        suggestion ? `did you mean \`${suggestion}\`?` : options.length > 0 ? `keys here are ${listChoices(options)}` : undefined,
        true,
      );
    }
    case 'too_small':
    case 'too_big': {
      if (missing) return add(issuePath, `missing required key \`${String(last)}\``);
      if (!/^Too (small|big):/.test(issue.message)) return add(issuePath, issue.message);
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      const exclusive = issue.inclusive === false;
      if (issue.origin === 'array' || issue.origin === 'set') {
        const count = exclusive ? (small ? bound + 1 : bound - 1) : bound;
        if (small && count === 1) return add(issuePath, 'must not be empty');
        return add(issuePath, `needs ${small ? 'at least' : 'at most'} ${count} item${count === 1 ? '' : 's'}`);
      }
      if (issue.origin === 'string') {
        if (small && bound === 1) return add(issuePath, 'must not be empty');
        return add(issuePath, `must be ${small ? 'at least' : 'at most'} ${bound} characters long`);
      }
      const relation = small ? (exclusive ? 'greater than' : 'at least') : exclusive ? 'less than' : 'at most';
      return add(issuePath, `must be ${relation} ${bound}, not ${describeValue(value)}`);
    }
    case 'invalid_format':
      if (issue.format === 'datetime' && issue.message.startsWith('Invalid')) {
        const described = descriptionAt(schema, issuePath, loaded.data);
        const example = 'e.g. `2026-11-26T17:00:00Z` or `2026-11-26T18:00:00+01:00`';
        return add(issuePath, `${describeValue(value)} is not an ISO 8601 date and time`, described ? `${described}; ${example}` : example);
      }
      return add(issuePath, cleanMessage(issue.message));
    default:
      if (missing) return add(issuePath, `missing required key \`${String(last)}\``);
      return add(issuePath, cleanMessage(issue.message));
  }
}

/** zod's default messages start with "Invalid input: …"; the path and position already say where. */
function cleanMessage(message: string): string {
  return message.replace(/^Invalid (input|option): /, '');
}

function typeName(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'a mapping';
  if (expected === 'array' || expected === 'tuple') return 'a list';
  if (expected === 'int') return 'an integer';
  return `a ${expected}`;
}

function joinTypes(types: string[]): string {
  const names = [...new Set(types.map(typeName))];
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `\`${value.length > 60 ? `${value.slice(0, 57)}...` : value}\``;
  return `\`${String(value)}\``;
}

// ---------------------------------------------------------------- walking the zod schema

/** The keys a strict object allows at `target` (for did-you-mean), or undefined when it is not an object. */
function allowedKeysAt(root: z.ZodType, target: readonly PathSegment[], data: unknown): string[] | undefined {
  const schema = schemaAt(root, target, data);
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  // A record keyed by an enum (plan tiers, severities, test types) allows the enum's values.
  if (schema instanceof z.ZodRecord) {
    const keyType = unwrapSchema(schema.keyType as z.ZodType);
    if (keyType instanceof z.ZodEnum) return (keyType.options as readonly (string | number)[]).map(String);
  }
  return undefined;
}

function schemaAt(root: z.ZodType, target: readonly PathSegment[], data: unknown): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  let value = data;
  for (const segment of target) {
    schema = chooseUnionOption(unwrapSchema(schema), value);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return undefined;
    if (!schema) return undefined;
    value = valueAt(value, [segment]);
  }
  return schema && chooseUnionOption(unwrapSchema(schema), value);
}

/** The `.describe()` text of the field at `target`, from whichever wrapper carries it. */
function descriptionAt(root: z.ZodType, target: readonly PathSegment[], data: unknown): string | undefined {
  const parent = schemaAt(root, target.slice(0, -1), data);
  let field: z.ZodType | undefined =
    parent instanceof z.ZodObject ? (parent.shape as Record<string, z.ZodType>)[String(target[target.length - 1])] : undefined;
  for (let depth = 0; field && depth < 32; depth++) {
    if (field.description) return field.description;
    const def = field._zod.def as unknown as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    field = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  }
  return undefined;
}

/** Looks through optional / default / pipe (transform) / lazy wrappers to the schema that holds the shape. */
function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 32; depth++) {
    const def = current._zod.def as unknown as { type: string; innerType?: z.ZodType; in?: z.ZodType; getter?: () => z.ZodType };
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else if (def.type === 'lazy' && def.getter) current = def.getter();
    else break;
  }
  return current;
}

/** The option of a union that applies to `value`: by discriminator, or the only object option. */
function chooseUnionOption(schema: z.ZodType, value: unknown): z.ZodType | undefined {
  if (!(schema instanceof z.ZodUnion)) return schema;
  const options = (schema.options as readonly z.ZodType[]).map(unwrapSchema);
  const discriminator = (schema._zod.def as { discriminator?: string }).discriminator;
  if (discriminator !== undefined) {
    const wanted = valueAt(value, [discriminator]);
    return options.find((option) => {
      if (!(option instanceof z.ZodObject)) return false;
      const field = (option.shape as Record<string, z.ZodType>)[discriminator];
      const literal = field ? (unwrapSchema(field)._zod.def as { values?: unknown[] }).values : undefined;
      return literal?.includes(wanted) ?? false;
    });
  }
  const objects = options.filter((option) => option instanceof z.ZodObject);
  return objects.length === 1 ? objects[0] : undefined;
}
