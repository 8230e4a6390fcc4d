/**
 * Loading drillbook files: read one YAML file defensively with the positions of its nodes,
 * validate it against the schema (every zod issue becomes a located diagnostic), check the
 * scenario against its plan, and walk directories for `drillbook validate`.
 *
 * The files are written by people and sometimes by other programs, so nothing here may
 * throw, print, or take unbounded time or memory: huge files are refused by size before
 * they are read, binary files before they are parsed, alias bombs ("billion laughs") by
 * `yaml`'s alias budget, and keys that would reach `Object.prototype` by name.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type YAMLError,
} from 'yaml';
import { z } from 'zod';
import { checkPlanSemantics, checkScenarioSemantics, checkSystemReference, valueAt } from './crossfile.js';
import { Diagnostics, formatPath, type Reporter, type Severity } from './diagnostics.js';
import { API_VERSION, ContinuityPlan, DOCUMENT_KINDS, ExerciseAnswers, Scenario, type DocumentKind } from './schema.js';
import { checkAnswers } from './answers.js';
import { closest, listChoices } from './suggest.js';

/** drillbook files are a few kilobytes; anything this large is a mistake (or an attack). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Anchors are fine for sharing a block or two; more than this many expansions is an attack. */
export const MAX_ALIAS_COUNT = 50;
/**
 * Flow collections (`[[[[…`) and compact sequences (`- - - -…`) nest without indentation, so
 * a small file can nest deep enough to exhaust the parser's stack; real files stay within a
 * handful of levels.
 */
export const MAX_NESTING_DEPTH = 200;
/** After this many YAML syntax errors the rest are noise caused by the first ones. */
const MAX_YAML_ERRORS = 20;
/** Keys that would reach or replace an object's prototype when the YAML becomes JS. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export type PathSegment = string | number;
export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

export interface LoadedDocument {
  /** The file as the user named it; diagnostics use this form. */
  file: string;
  absolutePath: string;
  text: string;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The document as plain JS (a mapping, if it is a drillbook file at all). */
  data: unknown;
  /**
   * Where a property path is written: the value of an existing scalar, the key of an existing
   * collection, and for a path that does not exist the deepest part of it that does (so a
   * missing key points at its parent).
   */
  locate(path: readonly PathSegment[]): Position;
  /** Like `locate`, but the key itself even when its value is a scalar (for unknown keys). */
  locateKey(path: readonly PathSegment[]): Position;
}

const FILE_START: Position = { line: 1, col: 1 };

/** Reads and parses one YAML file; reports problems and returns undefined when it cannot be used. */
export async function loadDocument(file: string, diagnostics: Diagnostics): Promise<LoadedDocument | undefined> {
  const atFileStart = { file, ...FILE_START, path: '(root)' };
  const bytes = await readBounded(file, diagnostics);
  if (!bytes) return undefined;

  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    diagnostics.error(
      { ...atFileStart, ...bytePosition(bytes, nul) },
      `binary content (a NUL byte at offset ${nul}): not a YAML file`,
      'drillbook files are UTF-8 text',
    );
    return undefined;
  }
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8Offset(bytes);
    diagnostics.error(
      { ...atFileStart, ...bytePosition(bytes, offset) },
      `not valid UTF-8 (first bad byte at offset ${offset})`,
      'save the file as UTF-8',
    );
    return undefined;
  }

  const text = bytes.toString('utf8');
  const tooDeep = firstTooDeepNesting(text);
  if (tooDeep !== undefined) {
    diagnostics.error(
      { ...atFileStart, ...bytePosition(bytes, Buffer.byteLength(text.slice(0, tooDeep))) },
      `nested more than ${MAX_NESTING_DEPTH} levels deep`,
      'drillbook files are a few levels deep; is this the right file?',
    );
    return undefined;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const lineCounter = new LineCounter();
  try {
    return parseText(file, text, sha256, lineCounter, diagnostics);
  } catch (error) {
    // The parser and the tree walks recurse; pathological nesting can exhaust the stack.
    diagnostics.error(atFileStart, `cannot parse this file: ${errorMessage(error)}`, 'is it nested unreasonably deep?');
    return undefined;
  }
}

function parseText(
  file: string,
  text: string,
  sha256: string,
  lineCounter: LineCounter,
  diagnostics: Diagnostics,
): LoadedDocument | undefined {
  // logLevel 'error': yaml would otherwise emit process warnings; library code stays silent.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
  const at = (offset: number, pathText = '(yaml)') => ({ file, ...lineCounter.linePos(offset), path: pathText });

  for (const error of doc.errors.slice(0, MAX_YAML_ERRORS)) reportYamlProblem(error, 'error', file, diagnostics);
  if (doc.errors.length > MAX_YAML_ERRORS) {
    diagnostics.error(
      { file, ...(doc.errors[MAX_YAML_ERRORS]!.linePos?.[0] ?? FILE_START), path: '(yaml)' },
      `${doc.errors.length - MAX_YAML_ERRORS} more YAML errors not shown`,
      'fix the first ones; the rest often follow from them',
    );
  }
  for (const warning of doc.warnings.slice(0, MAX_YAML_ERRORS)) reportYamlProblem(warning, 'warning', file, diagnostics);
  if (doc.errors.length > 0) return undefined;

  if (doc.contents === null) {
    diagnostics.error({ file, ...FILE_START, path: '(root)' }, 'the file is empty', 'start with `apiVersion: drillbook.dev/v1` and `kind:`');
    return undefined;
  }

  let forbidden = false;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value))) {
        forbidden = true;
        diagnostics.error(
          at(pair.key.range?.[0] ?? 0, formatPath(pathOfNode(doc, pair.key))),
          `the key \`${String(pair.key.value)}\` is not allowed`,
          'drillbook never uses it; it could change how the file is read',
        );
      }
    },
  });
  if (forbidden) return undefined;

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml throws when aliases would expand past the budget (a "billion laughs" bomb).
    let firstAlias = doc.contents.range[0];
    visit(doc, {
      Alias(_, alias) {
        firstAlias = alias.range?.[0] ?? firstAlias;
        return visit.BREAK;
      },
    });
    diagnostics.error(
      at(firstAlias),
      `cannot expand this file: ${errorMessage(error)}`,
      `anchors and aliases (&name, *name) may expand to at most ${MAX_ALIAS_COUNT} copies; write the repeated parts out`,
    );
    return undefined;
  }

  const position = (offset: number): Position => lineCounter.linePos(offset);
  return {
    file,
    absolutePath: path.resolve(file),
    text,
    sha256,
    doc,
    lineCounter,
    data,
    locate: (target) => position(offsetOf(doc, target, false)),
    locateKey: (target) => position(offsetOf(doc, target, true)),
  };
}

/** Reads at most MAX_FILE_BYTES + 1 bytes: the size is checked before reading and again while reading (files grow). */
async function readBounded(file: string, diagnostics: Diagnostics): Promise<Buffer | undefined> {
  const atFileStart = { file, ...FILE_START, path: '(root)' };
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      diagnostics.error(atFileStart, info.isDirectory() ? 'is a directory, not a file' : 'not a regular file');
      return undefined;
    }
    if (info.size > MAX_FILE_BYTES) {
      diagnostics.error(atFileStart, tooLarge(info.size), 'drillbook files are small YAML documents; is this the right file?');
      return undefined;
    }
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > MAX_FILE_BYTES) {
        diagnostics.error(atFileStart, tooLarge(length), 'the file grew while it was read');
        return undefined;
      }
      return buffer.subarray(0, length);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'file not found'
      : code === 'EACCES' || code === 'EPERM' ? 'cannot read the file: permission denied'
      : `cannot read the file: ${errorMessage(error)}`;
    diagnostics.error(atFileStart, message);
    return undefined;
  }
}

function tooLarge(size: number): string {
  return `the file is ${formatBytes(size)}, over the ${formatBytes(MAX_FILE_BYTES)} limit for drillbook files`;
}

function formatBytes(size: number): string {
  if (size >= 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (size >= 1024) return `${(size / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${size} bytes`;
}

const YAML_HINTS: Partial<Record<string, string>> = {
  DUPLICATE_KEY: 'each key may appear once in a mapping; remove or merge the other one',
  MULTIPLE_DOCS: 'one drillbook document per file: move the part after `---` into its own file',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_INDENT: 'check the indentation of this line and the one above',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BLOCK_AS_IMPLICIT_KEY: 'is a `:` missing, or a value not indented under its key?',
  MULTILINE_IMPLICIT_KEY: 'is a `:` missing at the end of the line above?',
};

function reportYamlProblem(problem: YAMLError, severity: 'error' | 'warning', file: string, diagnostics: Diagnostics): void {
  const position = problem.linePos?.[0] ?? FILE_START;
  const message =
    problem.code === 'MULTIPLE_DOCS'
      ? 'the file holds more than one YAML document'
      : // prettyErrors appends " at line N, column M:" and a code frame; the position is already in front.
        (problem.message.split('\n')[0] ?? problem.message).replace(/ at line \d+, column \d+:?$/, '');
  const hint = YAML_HINTS[problem.code];
  diagnostics.add({ severity, file, line: position.line, col: position.col, path: '(yaml)', message, ...(hint ? { hint } : {}) });
}

/**
 * The offset of `target` in the source: walks the YAML tree as far as the path exists.
 * Collections are located by their key (the `target:` line), scalars by their value.
 */
function offsetOf(doc: Document.Parsed, target: readonly PathSegment[], preferKey: boolean): number {
  let node: unknown = doc.contents;
  let best = isNode(node) ? (node.range?.[0] ?? 0) : 0;
  for (const [index, segment] of target.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    const last = index === target.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      const keyOffset = isNode(pair.key) ? (pair.key.range?.[0] ?? best) : best;
      const value = pair.value;
      if (last) {
        if (!preferKey && isScalar(value) && value.value !== null && value.range) return value.range[0];
        return keyOffset;
      }
      best = keyOffset;
      node = value;
    } else if (isSeq(node)) {
      const item = node.items[typeof segment === 'number' ? segment : Number(segment)];
      if (!isNode(item) || !item.range) break;
      best = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return best;
}

/** The property path of a node (for diagnostics about keys found by walking the tree). */
function pathOfNode(doc: Document.Parsed, wanted: unknown): PathSegment[] {
  const trail: PathSegment[] = [];
  const search = (node: unknown): boolean => {
    if (node === wanted) return true;
    if (isMap(node)) {
      for (const pair of node.items) {
        trail.push(isScalar(pair.key) ? String(pair.key.value) : '?');
        if (pair.key === wanted || search(pair.value)) return true;
        trail.pop();
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        trail.push(index);
        if (search(item)) return true;
        trail.pop();
      }
    }
    return false;
  };
  return search(doc.contents) ? trail : [];
}

/**
 * Index where nesting first exceeds MAX_NESTING_DEPTH, or undefined: flow brackets across the
 * file, and block indicators (`- `, `? `) repeated at the start of one line. Approximate on
 * purpose (quotes and comments are skipped; brackets inside plain or block scalars count),
 * which can only misjudge files nobody writes by hand.
 */
function firstTooDeepNesting(text: string): number | undefined {
  const compact = new RegExp(`^[ \\t]*(?:[-?][ \\t]+){${MAX_NESTING_DEPTH + 1}}`, 'm').exec(text);
  if (compact) return compact.index;

  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"') i++;
      else if (char === '\n' && quote === "'") quote = undefined; // an apostrophe in a plain scalar
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const end = text.indexOf('\n', i);
      if (end === -1) break;
      i = end;
    } else if (char === '[' || char === '{') {
      if (++depth > MAX_NESTING_DEPTH) return i;
    } else if ((char === ']' || char === '}') && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/** 1-based line and column of a byte offset in content that may not be text. */
function bytePosition(bytes: Buffer, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidUtf8Offset(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    if (!isUtf8(bytes.subarray(i, i + length))) return i;
    i += length;
  }
  return bytes.length;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------- validation against the schema

export type { Reporter } from './diagnostics.js';

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
  if (kind === 'Scenario') checkScenarioSemantics(data, report);
  else if (kind === 'ContinuityPlan') checkPlanSemantics(data, report);

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

// ---------------------------------------------------------------- plans and scenarios

export interface LoadedPlan {
  /** As named (or as resolved from a scenario's `spec.plan`). */
  file: string;
  absolutePath: string;
  sha256: string;
  plan: ContinuityPlan;
  locate(path: readonly PathSegment[]): Position;
}

/**
 * Plans already loaded in this run, by absolute path: a plan shared by many scenarios is
 * read and reported once. Create one per command (`new Map()`); it is not global.
 */
export type PlanCache = Map<string, Promise<LoadedPlan | undefined>>;

export interface LoadedScenario {
  /** Absolute path of the scenario file. */
  file: string;
  sha256: string;
  scenario: Scenario;
  /** Absolute path of the plan file. */
  planFile: string;
  planSha256: string;
  plan: ContinuityPlan;
  system: ContinuityPlan['spec']['systems'][number];
  locate(path: readonly PathSegment[]): Position;
}

/** A type-, runner- or driver-specific check supplied by the caller (scenarios/ does not know runners). */
export type ScenarioCheck = (scenario: LoadedScenario, report: Reporter) => void;

export interface LoadScenarioOptions {
  checks?: ScenarioCheck[];
  plans?: PlanCache;
}

/** Loads and validates a ContinuityPlan file (once per cache). */
export function loadPlan(file: string, diagnostics: Diagnostics, plans: PlanCache = new Map()): Promise<LoadedPlan | undefined> {
  const key = path.resolve(file);
  let pending = plans.get(key);
  if (!pending) {
    pending = (async () => {
      const loaded = await loadDocument(file, diagnostics);
      return loaded ? planFromDocument(loaded, diagnostics) : undefined;
    })();
    plans.set(key, pending);
  }
  return pending;
}

function planFromDocument(loaded: LoadedDocument, diagnostics: Diagnostics): LoadedPlan | undefined {
  const validated = validateDocument(loaded, diagnostics, { expect: 'ContinuityPlan' });
  if (validated?.kind !== 'ContinuityPlan') return undefined;
  return {
    file: loaded.file,
    absolutePath: loaded.absolutePath,
    sha256: loaded.sha256,
    plan: validated.value,
    locate: loaded.locate,
  };
}

/**
 * Loads a Scenario, its plan and its system, and runs every check it can — schema, rules,
 * references, then the caller's `checks` — so all problems are reported at once. Returns
 * undefined when any of them found an error.
 */
export async function loadScenario(
  file: string,
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions = {},
): Promise<LoadedScenario | undefined> {
  const loaded = await loadDocument(file, diagnostics);
  return loaded ? scenarioFromDocument(loaded, diagnostics, opts) : undefined;
}

async function scenarioFromDocument(
  loaded: LoadedDocument,
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions,
): Promise<LoadedScenario | undefined> {
  const errorsBefore = diagnostics.count('error');
  const report = reporterFor(loaded, diagnostics);
  const validated = validateDocument(loaded, diagnostics, { expect: 'Scenario' });
  if (!validated && !isKind(loaded.data, 'Scenario')) return undefined; // not a scenario at all: nothing more to check

  // The plan reference is checked even when the schema found problems elsewhere.
  let plan: LoadedPlan | undefined;
  const planReference = valueAt(loaded.data, ['spec', 'plan']);
  if (typeof planReference === 'string' && planReference.trim() !== '') {
    const planFile = path.isAbsolute(planReference) ? planReference : path.join(path.dirname(loaded.file), planReference);
    if (!(await isFile(planFile))) {
      report(['spec', 'plan'], `plan file not found: ${planFile}`, {
        hint: `spec.plan is relative to the scenario file (${path.resolve(planFile)})`,
      });
    } else {
      plan = await loadPlan(planFile, diagnostics, opts.plans);
      if (!plan) report(['spec', 'plan'], `the plan ${planFile} is not valid`, { hint: 'its problems are listed under its own file name' });
    }
  }
  const system = plan ? checkSystemReference(loaded.data, plan.plan, plan.file, report) : undefined;

  if (validated?.kind !== 'Scenario' || !plan || !system || diagnostics.count('error') > errorsBefore) return undefined;
  const scenario: LoadedScenario = {
    file: loaded.absolutePath,
    sha256: loaded.sha256,
    scenario: validated.value,
    planFile: plan.absolutePath,
    planSha256: plan.sha256,
    plan: plan.plan,
    system,
    locate: loaded.locate,
  };
  for (const check of opts.checks ?? []) {
    try {
      check(scenario, report);
    } catch (error) {
      // A bug in a runner's check must not hide the user's other problems behind a stack trace.
      report([], `internal error while checking this scenario: ${errorMessage(error)}`, { hint: 'this is a drillbook bug; please report it' });
    }
  }
  return diagnostics.count('error') > errorsBefore ? undefined : scenario;
}

export interface CheckedFile {
  /** As named, or as found under a named directory. */
  file: string;
  /** undefined when the file could not be read or names no known kind. */
  kind: DocumentKind | undefined;
  valid: boolean;
}

/**
 * `drillbook validate <file or dir>...`: checks each file (directories are walked for
 * *.yaml / *.yml, skipping node_modules and dot-directories) as a Scenario or a
 * ContinuityPlan by its `kind`, scenarios together with their plans. Problems go to
 * `diagnostics`; the result lists what was checked.
 */
export async function validatePaths(
  paths: string[],
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions = {},
): Promise<CheckedFile[]> {
  const plans = opts.plans ?? new Map();
  const scenarioOptions = { ...opts, plans };
  const files: Array<{ file: string; found: boolean }> = [];
  for (const named of paths) {
    const info = await stat(named).catch(() => undefined);
    if (!info) {
      diagnostics.error({ file: named, ...FILE_START, path: '(root)' }, 'no such file or directory');
    } else if (info.isDirectory()) {
      const found = await findYamlFiles(named);
      if (found.length === 0) diagnostics.warning({ file: named, ...FILE_START, path: '(root)' }, 'no .yaml or .yml files in this directory');
      files.push(...found.map((file) => ({ file, found: true })));
    } else {
      files.push({ file: named, found: false });
    }
  }

  const checked: CheckedFile[] = [];
  const seen = new Set<string>();
  for (const { file, found } of files) {
    const absolute = path.resolve(file);
    if (seen.has(absolute)) continue;
    seen.add(absolute);
    const errorsBefore = diagnostics.count('error');

    // Already checked as the plan of an earlier scenario: do not report its problems twice.
    const cachedPlan = plans.get(absolute);
    if (cachedPlan) {
      checked.push({ file, kind: 'ContinuityPlan', valid: (await cachedPlan) !== undefined });
      continue;
    }
    const loaded = await loadDocument(file, diagnostics);
    if (!loaded) {
      checked.push({ file, kind: undefined, valid: false });
      continue;
    }
    const apiVersion = valueAt(loaded.data, ['apiVersion']);
    if (found && typeof apiVersion === 'string' && !apiVersion.startsWith('drillbook.dev/')) {
      // Other tools' YAML (CI workflows, Kubernetes manifests) often sits next to drills.
      diagnostics.notice({ file, ...loaded.locate(['apiVersion']), path: 'apiVersion' }, `skipped: not a drillbook file (${apiVersion})`);
      continue;
    }
    if (isKind(loaded.data, 'Scenario')) {
      await scenarioFromDocument(loaded, diagnostics, scenarioOptions);
      checked.push({ file, kind: 'Scenario', valid: diagnostics.count('error') === errorsBefore });
    } else if (isKind(loaded.data, 'ExerciseAnswers')) {
      await answersFromDocument(loaded, diagnostics, undefined, scenarioOptions);
      checked.push({ file, kind: 'ExerciseAnswers', valid: diagnostics.count('error') === errorsBefore });
    } else if (isKind(loaded.data, 'ContinuityPlan')) {
      const plan = Promise.resolve(planFromDocument(loaded, diagnostics));
      plans.set(absolute, plan);
      checked.push({ file, kind: 'ContinuityPlan', valid: (await plan) !== undefined });
    } else {
      validateDocument(loaded, diagnostics); // reports the missing or unknown kind
      checked.push({ file, kind: undefined, valid: false });
    }
  }
  return checked;
}

export interface LoadedAnswers {
  file: string;
  sha256: string;
  answers: ExerciseAnswers;
}

/**
 * Loads an answers file and checks it against `scenario` (the one being run), or, when
 * validating files on their own, against the scenario it names.
 */
export async function loadAnswers(file: string, diagnostics: Diagnostics, scenario: LoadedScenario): Promise<LoadedAnswers | undefined> {
  const loaded = await loadDocument(file, diagnostics);
  return loaded ? answersFromDocument(loaded, diagnostics, scenario, {}) : undefined;
}

async function answersFromDocument(
  loaded: LoadedDocument,
  diagnostics: Diagnostics,
  scenario: LoadedScenario | undefined,
  opts: LoadScenarioOptions,
): Promise<LoadedAnswers | undefined> {
  const errorsBefore = diagnostics.count('error');
  const report = reporterFor(loaded, diagnostics);
  const validated = validateDocument(loaded, diagnostics, { expect: 'ExerciseAnswers' });
  if (validated?.kind !== 'ExerciseAnswers') return undefined;
  const named = path.resolve(path.dirname(loaded.absolutePath), validated.value.spec.scenario);
  let target = scenario;
  if (target && path.resolve(target.file) !== named) {
    report(['spec', 'scenario'], `these answers belong to ${named}, not to ${target.file}`, { hint: 'replay answers with the scenario they were recorded for' });
    return undefined;
  }
  if (!target) {
    if (!(await isFile(named))) {
      report(['spec', 'scenario'], `scenario file not found: ${named}`, { hint: 'spec.scenario is relative to the answers file' });
      return undefined;
    }
    const own = new Diagnostics();
    target = await loadScenario(named, own, opts);
    if (!target) {
      report(['spec', 'scenario'], `the scenario ${named} is not valid`, { hint: `run drillbook validate ${named}` });
      return undefined;
    }
  }
  checkAnswers(target.scenario, validated.value, report);
  if (diagnostics.count('error') > errorsBefore) return undefined;
  return { file: loaded.absolutePath, sha256: loaded.sha256, answers: validated.value };
}

function isKind(data: unknown, kind: DocumentKind): boolean {
  return valueAt(data, ['kind']) === kind;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

/** *.yaml and *.yml under `directory`, in a stable order; symlinked directories are not followed (no loops). */
export async function findYamlFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await findYamlFiles(full)));
    else if (/\.ya?ml$/i.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await isFile(full))))) found.push(full);
  }
  return found;
}
