/**
 * Low-level evidence file handling shared by the evidence store (evidence/) and the
 * renderers (render.ts): durable writes, hashing, the probes.csv / timeline.jsonl formats
 * and the RunRecord shape check. Kept apart so both can import it without importing each
 * other.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { csvLine } from './csv.js';
import { RUN_RECORD_SCHEMA, type ProbeAttempt, type RunRecord, type TimelineEvent } from './run-record.js';

/** Any problem with an evidence directory or its files; the CLI turns it into exit 2. */
export class EvidenceError extends Error {
  override readonly name = 'EvidenceError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const MANIFEST_FILE = 'manifest.json';
export const RUN_FILE = 'run.json';
export const TIMELINE_FILE = 'timeline.jsonl';
export const PROBES_FILE = 'probes.csv';
export const HTML_REPORT_FILE = 'report.html';
export const MARKDOWN_REPORT_FILE = 'report.md';
export const ATTACHMENTS_DIR = 'attachments';
/** Re-renderings go here; the manifest leaves it out so re-rendering never breaks a bundle. */
export const EXPORTS_DIR = 'exports';

/** Temp files of atomic writes are named `.<name>.tmp-<random>`; a crash can leave one behind. */
const TEMP_FILE_PATTERN = /^\..+\.tmp-[0-9a-f]+$/;

export function isTempFileName(name: string): boolean {
  return TEMP_FILE_PATTERN.test(name);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const content = await readFile(file);
  return { sha256: sha256Hex(content), bytes: content.byteLength };
}

/**
 * fsync a directory so a rename or a new entry in it survives a power loss. Some platforms
 * (Windows) cannot open directories for fsync; there the rename is as durable as it gets.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Write a file so that readers see either the old content or the complete new content,
 * never a torn one: temp file in the same directory, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const dir = path.dirname(file);
  const mode = options.mode ?? 0o644;
  const temp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  // Created with its final mode, so a secret (a private key) is never readable by others.
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    // The umask may only have narrowed the mode; make it exact.
    if (options.mode !== undefined) await chmod(temp, mode);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(dir);
}

export async function pathExists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Every regular file under `dir`, as sorted posix paths relative to it. */
export async function listFilesRecursive(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(relative: string): Promise<void> {
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true });
    for (const entry of entries) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) found.push(child);
    }
  }
  await walk('');
  return found.sort();
}

// ---------------------------------------------------------------------------------------
// probes.csv

export const PROBES_CSV_HEADER = 'probe,started_at,start_mono_ms,end_mono_ms,ok,latency_ms,error';

/**
 * One probes.csv line (without its line end). probes.csv is evidence data read back by
 * parseProbesCsv: no formula prefix, and LF line ends as in every bundle written so far.
 */
export function probeCsvLine(attempt: ProbeAttempt): string {
  return csvLine(
    [attempt.probe, attempt.startedAt, String(attempt.startMono), String(attempt.endMono), attempt.ok ? 'true' : 'false', String(attempt.latencyMs), attempt.error ?? ''],
    { escapeFormulas: false },
  );
}

/** Split CSV text into records of fields (RFC 4180, quoted fields may hold newlines). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

export function parseProbesCsv(text: string, file = PROBES_FILE): ProbeAttempt[] {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) return [];
  if (header.join(',') !== PROBES_CSV_HEADER) {
    throw new EvidenceError(`${file}: unexpected header "${header.join(',')}", expected "${PROBES_CSV_HEADER}"`);
  }
  return rows.map((fields, index) => {
    if (fields.length !== 7) {
      throw new EvidenceError(`${file}:${index + 2}: expected 7 fields, found ${fields.length}`);
    }
    const [probe, startedAt, startMono, endMono, ok, latencyMs, error] = fields as [
      string, string, string, string, string, string, string,
    ];
    const attempt: ProbeAttempt = {
      probe,
      startedAt,
      startMono: Number(startMono),
      endMono: Number(endMono),
      ok: ok === 'true',
      latencyMs: Number(latencyMs),
    };
    if (error !== '') attempt.error = error;
    return attempt;
  });
}

// ---------------------------------------------------------------------------------------
// timeline.jsonl

export function parseTimelineJsonl(text: string, file = TIMELINE_FILE): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      events.push(JSON.parse(line) as TimelineEvent);
    } catch {
      throw new EvidenceError(`${file}:${index + 1}: not valid JSON`);
    }
  });
  return events;
}

// ---------------------------------------------------------------------------------------
// run.json

const mustBe = (key: string, kind: string) => ({ error: `${key} must be ${kind}` });
const strings = ['runId', 'outcome', 'environment', 'type', 'startedAt', 'endedAt', 'operator', 'host'] as const;
const objects = ['scenario', 'plan', 'system', 'tool', 'targets', 'measured', 'verdict', 'dataIntegrity', 'target', 'probeSummary', 'signoff'] as const;
const arrays = ['participants', 'timeline', 'checks', 'findings', 'remediation', 'faults', 'attachments'] as const;
const anObject = (key: string) => z.looseObject({}, mustBe(key, 'an object'));
const anArray = (key: string) => z.array(z.unknown(), mustBe(key, 'an array'));

/**
 * The shape of run.json the renderers rely on. Not the full RunRecord: it catches a wrong
 * file, a truncated file or an incompatible version with a message that names the field.
 */
export const RunRecordShapeSchema = z.looseObject({
  schema: z.literal(RUN_RECORD_SCHEMA, { error: (issue) => `schema is ${JSON.stringify(issue.input)}, expected "${RUN_RECORD_SCHEMA}"` }),
  ...Object.fromEntries(strings.map((key) => [key, z.string(mustBe(key, 'a string'))])),
  ...Object.fromEntries(objects.map((key) => [key, anObject(key)])),
  teardown: z.looseObject({ undos: anArray('teardown.undos'), deletions: anArray('teardown.deletions') }, mustBe('teardown', 'an object')),
  observations: z.looseObject(
    { strengths: anArray('observations.strengths'), improvements: anArray('observations.improvements') },
    mustBe('observations', 'an object'),
  ),
  ...Object.fromEntries(arrays.map((key) => [key, anArray(key)])),
});

/** Check that a parsed run.json has the shape the renderers rely on (RunRecordShapeSchema). */
export function assertRunRecord(value: unknown, file = RUN_FILE): asserts value is RunRecord {
  if (!isObject(value)) throw new EvidenceError(`${file}: expected a JSON object`);
  const parsed = RunRecordShapeSchema.safeParse(value);
  if (!parsed.success) {
    throw new EvidenceError(`${file} is not a valid RunRecord: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
}

export async function readRunRecord(runDir: string): Promise<RunRecord> {
  const file = path.join(runDir, RUN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new EvidenceError(`${file} not found: is ${runDir} a drillbook run directory?`);
    if (code === 'ENOTDIR') throw new EvidenceError(`${runDir} is not a directory`);
    throw new EvidenceError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseRunRecord(text, file);
}

/** A run.json's text as a RunRecord; `file` names it in the EvidenceError. */
export function parseRunRecord(text: string, file: string): RunRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EvidenceError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  assertRunRecord(parsed, file);
  return parsed;
}

/** The probe attempts of a run directory; an absent probes.csv means none were recorded. */
export async function readProbes(runDir: string): Promise<ProbeAttempt[]> {
  const file = path.join(runDir, PROBES_FILE);
  const text = await readTextIfPresent(file);
  return text === undefined ? [] : parseProbesCsv(text, file);
}

/** A file's text, or undefined when it does not exist (ENOENT); any other error is thrown. */
export async function readTextIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** A plain JSON object (not null, not an array): the one such guard of reports/. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every file under `dir`, relative, sorted (synchronous, like readOptional). */
export function listFilesRecursiveSync(dir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) found.push(child);
    }
  };
  walk('');
  return found.sort();
}

/**
 * Reads a whole (small) evidence file, or undefined when it is not there. Synchronous on
 * purpose: verification reads tens of thousands of files of a few KiB, and a threadpool
 * round trip per open/stat/read/close costs more than the read itself (measured: about 2×).
 */
export async function readOptional(file: string): Promise<Buffer | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
}

/** A relative POSIX path that stays inside its directory (no `..`, no absolute, no backslash). */
export function isSafeRelativePath(relativePath: string): boolean {
  if (relativePath === '' || relativePath.includes('\\') || relativePath.includes('\0')) return false;
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) return false;
  return relativePath.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** Run directories under an evidence dir (those with a manifest or a timeline). */
export async function listRunDirs(evidenceDir: string): Promise<string[]> {
  const entries = await readdir(evidenceDir, { withFileTypes: true });
  const dirs: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(evidenceDir, entry.name);
    if ((await pathExists(path.join(dir, MANIFEST_FILE))) || (await pathExists(path.join(dir, TIMELINE_FILE)))) dirs.push(dir);
  }
  return dirs.sort();
}
