/**
 * Reading one drillbook file defensively, with the positions of its nodes.
 *
 * The files are written by people and sometimes by other programs, so nothing here may
 * throw, print, or take unbounded time or memory: huge files are refused by size before
 * they are read, binary files before they are parsed, alias bombs ("billion laughs") by
 * `yaml`'s alias budget, and keys that would reach `Object.prototype` by name.
 */
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { open, stat } from 'node:fs/promises';
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
import { type Diagnostics, formatPath } from './diagnostics.js';

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

export const FILE_START: Position = { line: 1, col: 1 };

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
