/**
 * The evidence store: one directory per run (timeline, probes, captured output, run.json,
 * reports, manifest) and the hash-chained ledger beside them.
 *
 * Durability model: appends go to the OS with a `write` as soon as they are made, so a
 * SIGKILL of drillbook loses nothing already measured (the page cache outlives the process);
 * fsync, which protects against a power loss or kernel crash, is batched to at most one per
 * 200 ms per file. Every other file is written atomically (temp + fsync + rename + fsync dir).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ATTACHMENTS_DIR,
  EXPORTS_DIR,
  EvidenceError,
  HTML_REPORT_FILE,
  MANIFEST_FILE,
  MARKDOWN_REPORT_FILE,
  PROBES_CSV_HEADER,
  PROBES_FILE,
  RUN_FILE,
  TIMELINE_FILE,
  fsyncDirectory,
  isTempFileName,
  listFilesRecursive,
  parseProbesCsv,
  parseTimelineJsonl,
  pathExists,
  probeCsvLine,
  sha256File,
  sha256Hex,
  writeFileAtomic,
} from './evidence-files.js';
import { ReportRenderer, type RenderOptions } from './render.js';
import type { ProbeAttempt, RunRecord, TimelineEvent } from './run-record.js';

export { EvidenceError } from './evidence-files.js';

export const MANIFEST_SCHEMA = 'drillbook.dev/manifest/v1';
export const LEDGER_FILE = 'ledger.jsonl';
export const LEDGER_LOCK_FILE = 'ledger.lock';
/** `prev` of the first ledger line. */
export const LEDGER_GENESIS = '0'.repeat(64);

const FSYNC_BATCH_MS = 200;

export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  runId: string;
  createdAt: string;
  files: ManifestEntry[];
}

export interface LedgerEntry {
  seq: number;
  runId: string;
  /** The run directory, relative to the evidence directory. */
  dir: string;
  manifestSha256: string;
  at: string;
  /** sha256 of the previous line's exact text (without its newline). */
  prev: string;
}

export interface BundleOptions {
  /** Wall clock for manifest and ledger times; tests pass a fixed one. */
  now?: () => Date;
  /** How long to wait for the ledger lock before giving up. */
  ledgerLockTimeoutMs?: number;
}

export interface FinalizeResult {
  dir: string;
  manifestSha256: string;
  ledgerEntry: LedgerEntry;
  /** Renderers that failed; their report file holds the error instead, the run record is intact. */
  renderErrors: { file: string; message: string }[];
}

/** `YYYY-MM-DDTHHMMSSZ-<scenario>-<first 8 of runId>`, sortable by start time. */
export function runDirName(startedAt: Date, scenarioName: string, runId: string): string {
  if (Number.isNaN(startedAt.getTime())) throw new EvidenceError('runDirName: startedAt is not a valid date');
  const stamp = startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '');
  // Scenario names are DNS labels once validated; this keeps a bad one from escaping the dir.
  const safeScenario = scenarioName.replace(/[^A-Za-z0-9-]/g, '-');
  const shortId = runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  return `${stamp}-${safeScenario}-${shortId}`;
}

/**
 * An append-only file whose writes are serialised (one chain of promises, so lines never
 * interleave) and whose fsyncs are batched.
 */
class DurableAppender {
  private queue: Promise<void> = Promise.resolve();
  private lastSyncAt = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private closed = false;

  constructor(private readonly handle: FileHandle, private readonly file: string) {}

  static async open(file: string): Promise<DurableAppender> {
    return new DurableAppender(await open(file, 'a'), file);
  }

  append(text: string): Promise<void> {
    if (this.closed) return Promise.reject(new EvidenceError(`${this.file} is already closed`));
    const write = this.queue.then(async () => {
      await this.handle.appendFile(text);
      this.dirty = true;
      if (Date.now() - this.lastSyncAt >= FSYNC_BATCH_MS) await this.sync();
      else this.scheduleSync();
    });
    // A failed write rejects its own caller but must not wedge the writes after it.
    this.queue = write.catch(() => undefined);
    return write;
  }

  async flush(): Promise<void> {
    await this.queue;
    if (this.dirty) await this.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearTimeout(this.syncTimer);
    await this.handle.close();
  }

  private scheduleSync(): void {
    if (this.syncTimer !== undefined) return;
    const delay = Math.max(0, FSYNC_BATCH_MS - (Date.now() - this.lastSyncAt));
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      // Runs through the queue so it never races a close(); errors surface on flush/close.
      this.queue = this.queue.then(() => (this.dirty && !this.closed ? this.sync() : undefined)).catch(() => undefined);
    }, delay);
    // A pending fsync must not keep the process alive; close() syncs anyway.
    this.syncTimer.unref();
  }

  private async sync(): Promise<void> {
    this.lastSyncAt = Date.now();
    await this.handle.sync();
    // Only after success: a failed fsync is retried, and reported, by the next flush().
    this.dirty = false;
  }
}

export class EvidenceBundle {
  private finalized = false;

  private constructor(
    readonly evidenceDir: string,
    readonly dir: string,
    private readonly timeline: DurableAppender,
    private readonly probes: DurableAppender,
    private readonly options: BundleOptions,
  ) {}

  /** Create `<evidenceDir>/<dirName>/` (which must not exist yet) with empty timeline and probes files. */
  static async create(evidenceDir: string, dirName: string, options: BundleOptions = {}): Promise<EvidenceBundle> {
    if (dirName === '' || dirName !== path.basename(dirName) || dirName.startsWith('.')) {
      throw new EvidenceError(`invalid run directory name "${dirName}"`);
    }
    await mkdir(evidenceDir, { recursive: true });
    const dir = path.join(evidenceDir, dirName);
    try {
      await mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new EvidenceError(`run directory ${dir} already exists; refusing to overwrite evidence`);
      }
      throw error;
    }
    await fsyncDirectory(evidenceDir);
    await writeFileAtomic(path.join(dir, TIMELINE_FILE), '');
    await writeFileAtomic(path.join(dir, PROBES_FILE), `${PROBES_CSV_HEADER}\n`);
    return EvidenceBundle.attach(evidenceDir, dir, options);
  }

  private static async attach(evidenceDir: string, dir: string, options: BundleOptions): Promise<EvidenceBundle> {
    const timeline = await DurableAppender.open(path.join(dir, TIMELINE_FILE));
    const probes = await DurableAppender.open(path.join(dir, PROBES_FILE));
    return new EvidenceBundle(evidenceDir, dir, timeline, probes, options);
  }

  /** Reopen a bundle whose run was killed; see {@link openExisting}. */
  static async reopen(runDir: string, options: BundleOptions = {}): Promise<EvidenceBundle> {
    const dir = path.resolve(runDir);
    return EvidenceBundle.attach(path.dirname(dir), dir, options);
  }

  appendTimeline(event: TimelineEvent): Promise<void> {
    return this.timeline.append(`${JSON.stringify(event)}\n`);
  }

  appendProbe(attempt: ProbeAttempt): Promise<void> {
    return this.probes.append(`${probeCsvLine(attempt)}\n`);
  }

  /** fsync everything appended so far, now. */
  async flush(): Promise<void> {
    await Promise.all([this.timeline.flush(), this.probes.flush()]);
  }

  /**
   * Store captured command output under `attachments/`. A name already taken gets a numeric
   * suffix rather than overwriting earlier output. Returns the path relative to the run dir.
   */
  async writeAttachment(name: string, content: string | Uint8Array): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 200) {
      throw new EvidenceError(`invalid attachment name "${name}": use letters, digits, '.', '_' and '-'`);
    }
    const attachmentsDir = path.join(this.dir, ATTACHMENTS_DIR);
    await mkdir(attachmentsDir, { recursive: true });
    const extension = path.extname(name);
    const stem = name.slice(0, name.length - extension.length);
    let candidate = name;
    for (let n = 2; await pathExists(path.join(attachmentsDir, candidate)); n++) candidate = `${stem}-${n}${extension}`;
    await writeFileAtomic(path.join(attachmentsDir, candidate), content);
    await fsyncDirectory(this.dir);
    return `${ATTACHMENTS_DIR}/${candidate}`;
  }

  /**
   * Close the bundle: run.json, the reports, manifest.json, then the ledger line. A failing
   * renderer leaves a report that says so instead of losing the run (run.json is written first).
   */
  async finalize(record: RunRecord): Promise<FinalizeResult> {
    if (this.finalized) throw new EvidenceError(`bundle ${this.dir} is already finalized`);
    this.finalized = true;
    await Promise.all([this.timeline.close(), this.probes.close()]);
    await removeTempFiles(this.dir);

    const runJson = `${JSON.stringify(record, null, 2)}\n`;
    await writeFileAtomic(path.join(this.dir, RUN_FILE), runJson);

    const probesText = await readFile(path.join(this.dir, PROBES_FILE), 'utf8');
    const renderOptions: RenderOptions = {
      probes: parseProbesCsv(probesText),
      integrity: {
        runJsonSha256: sha256Hex(runJson),
        timelineSha256: (await sha256File(path.join(this.dir, TIMELINE_FILE))).sha256,
        probesSha256: sha256Hex(probesText),
      },
    };
    const renderer = new ReportRenderer();
    const renderErrors: FinalizeResult['renderErrors'] = [];
    const renders: [string, () => string][] = [
      [HTML_REPORT_FILE, () => renderer.html(record, renderOptions)],
      [MARKDOWN_REPORT_FILE, () => renderer.markdown(record, renderOptions)],
    ];
    for (const [file, render] of renders) {
      let content: string;
      try {
        content = render();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        renderErrors.push({ file, message });
        content = `Rendering ${file} failed: ${message}\nThe run record is in ${RUN_FILE}; run \`drillbook report\` to retry.\n`;
      }
      await writeFileAtomic(path.join(this.dir, file), content);
    }

    const manifest = await buildManifest(this.dir, record.runId, this.now());
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFileAtomic(path.join(this.dir, MANIFEST_FILE), manifestText);
    const manifestSha256 = sha256Hex(manifestText);

    const ledgerEntry = await appendLedger(
      this.evidenceDir,
      { runId: record.runId, dir: path.basename(this.dir), manifestSha256 },
      { now: this.options.now, lockTimeoutMs: this.options.ledgerLockTimeoutMs },
    );
    return { dir: this.dir, manifestSha256, ledgerEntry, renderErrors };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

export interface ExistingBundle {
  bundle: EvidenceBundle;
  timeline: TimelineEvent[];
  probes: ProbeAttempt[];
  attachments: string[];
  /**
   * Incomplete last lines cut off by the kill (a write in flight), removed so appends can
   * continue. Worth a timeline event in the recovered record.
   */
  discardedFragments: { file: string; text: string }[];
}

/**
 * Reopen the bundle of a run that was killed, for `drillbook recover`: what was measured so
 * far, and a bundle to append to and finalize once the RunRecord is completed.
 */
export async function openExisting(runDir: string, options: BundleOptions = {}): Promise<ExistingBundle> {
  const dir = path.resolve(runDir);
  if (await pathExists(path.join(dir, MANIFEST_FILE))) {
    throw new EvidenceError(`${dir} is already finalized (it has a ${MANIFEST_FILE})`);
  }
  const timelineFile = path.join(dir, TIMELINE_FILE);
  const probesFile = path.join(dir, PROBES_FILE);
  if (!(await pathExists(timelineFile))) {
    throw new EvidenceError(`${timelineFile} not found: is ${dir} a drillbook run directory?`);
  }
  if (!(await pathExists(probesFile))) await writeFileAtomic(probesFile, `${PROBES_CSV_HEADER}\n`);
  await removeTempFiles(dir);

  const discardedFragments: ExistingBundle['discardedFragments'] = [];
  const timelineText = await cutIncompleteLastLine(timelineFile, discardedFragments);
  let probesText = await cutIncompleteLastLine(probesFile, discardedFragments);
  if (probesText === '') {
    // Killed before even the header reached the disk.
    await writeFileAtomic(probesFile, `${PROBES_CSV_HEADER}\n`);
    probesText = `${PROBES_CSV_HEADER}\n`;
  }
  const attachmentsDir = path.join(dir, ATTACHMENTS_DIR);
  const attachments = (await pathExists(attachmentsDir))
    ? (await listFilesRecursive(attachmentsDir)).map((name) => `${ATTACHMENTS_DIR}/${name}`)
    : [];
  return {
    bundle: await EvidenceBundle.reopen(dir, options),
    timeline: parseTimelineJsonl(timelineText, timelineFile),
    probes: parseProbesCsv(probesText, probesFile),
    attachments,
    discardedFragments,
  };
}

/** Returns the file's complete lines, truncating a torn last line (recorded in `discarded`). */
async function cutIncompleteLastLine(file: string, discarded: ExistingBundle['discardedFragments']): Promise<string> {
  const text = await readFile(file, 'utf8');
  if (text === '' || text.endsWith('\n')) return text;
  const keep = text.slice(0, text.lastIndexOf('\n') + 1);
  discarded.push({ file: path.basename(file), text: text.slice(keep.length) });
  await truncate(file, Buffer.byteLength(keep));
  return keep;
}

async function removeTempFiles(dir: string): Promise<void> {
  for (const file of await listFilesRecursive(dir)) {
    if (isTempFileName(path.posix.basename(file))) await rm(path.join(dir, file), { force: true });
  }
}

function coveredByManifest(relativePath: string): boolean {
  return (
    relativePath !== MANIFEST_FILE &&
    !relativePath.startsWith(`${EXPORTS_DIR}/`) &&
    !isTempFileName(path.posix.basename(relativePath))
  );
}

async function buildManifest(dir: string, runId: string, createdAt: Date): Promise<Manifest> {
  const files: ManifestEntry[] = [];
  for (const relativePath of (await listFilesRecursive(dir)).filter(coveredByManifest)) {
    files.push({ path: relativePath, ...(await sha256File(path.join(dir, relativePath))) });
  }
  return { schema: MANIFEST_SCHEMA, runId, createdAt: createdAt.toISOString(), files };
}

// ---------------------------------------------------------------------------------------
// Ledger

export interface LedgerAppendOptions {
  now?: (() => Date) | undefined;
  lockTimeoutMs?: number | undefined;
  /** Lock files of another host are considered abandoned after this long (pid cannot be checked). */
  foreignLockStaleMs?: number;
}

/**
 * Append one run to `<evidenceDir>/ledger.jsonl`, chained to the previous line by hash. Two
 * drills finishing together must not both chain to the same previous line, so the
 * read-last-line + append + fsync happens under an exclusive lock file.
 */
export async function appendLedger(
  evidenceDir: string,
  run: { runId: string; dir: string; manifestSha256: string },
  options: LedgerAppendOptions = {},
): Promise<LedgerEntry> {
  const release = await acquireLock(path.join(evidenceDir, LEDGER_LOCK_FILE), options);
  try {
    const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
    const last = await readLastLedgerLine(ledgerFile);
    let seq = 1;
    let prev = LEDGER_GENESIS;
    if (last !== undefined) {
      let lastEntry: Partial<LedgerEntry>;
      try {
        lastEntry = JSON.parse(last) as Partial<LedgerEntry>;
      } catch {
        throw new EvidenceError(`${ledgerFile}: the last line is not valid JSON; run \`drillbook verify\``);
      }
      if (typeof lastEntry.seq !== 'number') {
        throw new EvidenceError(`${ledgerFile}: the last line has no seq; run \`drillbook verify\``);
      }
      seq = lastEntry.seq + 1;
      prev = sha256Hex(last);
    }
    const entry: LedgerEntry = {
      seq,
      runId: run.runId,
      dir: run.dir,
      manifestSha256: run.manifestSha256,
      at: (options.now?.() ?? new Date()).toISOString(),
      prev,
    };
    const handle = await open(ledgerFile, 'a', 0o644);
    try {
      await handle.appendFile(`${JSON.stringify(entry)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(evidenceDir);
    return entry;
  } finally {
    await release();
  }
}

/** The last complete line of the ledger, or undefined when it is empty or absent. */
async function readLastLedgerLine(ledgerFile: string): Promise<string | undefined> {
  let text: string;
  try {
    // Ledger lines are ~250 bytes: thousands of runs are still a small read.
    text = await readFile(ledgerFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (text === '') return undefined;
  if (!text.endsWith('\n')) {
    throw new EvidenceError(`${ledgerFile} ends with an incomplete line; run \`drillbook verify\` before adding runs`);
  }
  const lines = text.slice(0, -1).split('\n');
  return lines[lines.length - 1];
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  at: string;
}

async function acquireLock(lockFile: string, options: LedgerAppendOptions): Promise<() => Promise<void>> {
  const timeoutMs = options.lockTimeoutMs ?? 10_000;
  const foreignStaleMs = options.foreignLockStaleMs ?? 60_000;
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), at: new Date().toISOString() };
  const ownerText = JSON.stringify(owner);
  const deadline = Date.now() + timeoutMs;
  let backoffMs = 5;
  for (;;) {
    try {
      const handle = await open(lockFile, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o644);
      try {
        await handle.writeFile(ownerText);
      } finally {
        await handle.close();
      }
      return async () => {
        // Only remove the lock if it is still ours: if it was (wrongly) broken as stale and
        // taken by another writer, deleting it would let a third one in.
        const current = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (current === ownerText) await rm(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await breakLockIfStale(lockFile, foreignStaleMs);
    if (Date.now() >= deadline) {
      throw new EvidenceError(`timed out after ${timeoutMs} ms waiting for ${lockFile}; if no drill is finishing, delete it`);
    }
    await sleep(backoffMs + Math.random() * backoffMs);
    backoffMs = Math.min(backoffMs * 2, 200);
  }
}

async function breakLockIfStale(lockFile: string, foreignStaleMs: number): Promise<void> {
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text === undefined) return; // released meanwhile
  let lockOwner: Partial<LockOwner>;
  try {
    lockOwner = JSON.parse(text) as Partial<LockOwner>;
  } catch {
    // Empty or partial: the owner is between O_EXCL create and write, or died there. Only
    // treat it as stale once it is clearly old.
    const { mtimeMs } = await stat(lockFile).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > foreignStaleMs) await removeLockIfUnchanged(lockFile, text);
    return;
  }
  const stale =
    lockOwner.host === os.hostname()
      ? typeof lockOwner.pid === 'number' && !isProcessAlive(lockOwner.pid)
      : Date.now() - Date.parse(lockOwner.at ?? '') > foreignStaleMs;
  if (stale) await removeLockIfUnchanged(lockFile, text);
}

/**
 * Remove a stale lock without removing a fresh one that replaced it since we read it: move
 * it aside atomically, then check we moved the one we judged stale; if not, put it back.
 */
async function removeLockIfUnchanged(lockFile: string, staleText: string): Promise<void> {
  const aside = `${lockFile}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockFile, aside);
  } catch {
    return; // someone else handled it
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== staleText) {
    // We took a live lock: restore it unless a new one exists already (link fails then).
    await link(aside, lockFile).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------
// Verification

export interface BundleVerification {
  ok: boolean;
  runDir: string;
  /** sha256 of manifest.json as it is now (compare with the ledger). */
  manifestSha256: string | null;
  changed: string[];
  missing: string[];
  unlisted: string[];
  /** Problems with the manifest itself (absent, unreadable, unsafe paths). */
  problems: string[];
}

/** Recompute every hash in the run's manifest; report changed, missing and unlisted files. */
export async function verifyBundle(runDir: string): Promise<BundleVerification> {
  const dir = path.resolve(runDir);
  const result: BundleVerification = { ok: false, runDir: dir, manifestSha256: null, changed: [], missing: [], unlisted: [], problems: [] };
  let manifestText: string;
  try {
    manifestText = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    result.problems.push(code === 'ENOENT' ? `${MANIFEST_FILE} is missing` : `cannot read ${MANIFEST_FILE}: ${(error as Error).message}`);
    return result;
  }
  result.manifestSha256 = sha256Hex(manifestText);
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(manifestText) as Partial<Manifest>;
  } catch {
    result.problems.push(`${MANIFEST_FILE} is not valid JSON`);
    return result;
  }
  if (manifest.schema !== MANIFEST_SCHEMA || !Array.isArray(manifest.files)) {
    result.problems.push(`${MANIFEST_FILE} is not a ${MANIFEST_SCHEMA} manifest`);
    return result;
  }
  const listed = new Set<string>();
  for (const entry of manifest.files as Partial<ManifestEntry>[]) {
    const relativePath = entry.path;
    if (typeof relativePath !== 'string' || !isSafeRelativePath(relativePath)) {
      result.problems.push(`${MANIFEST_FILE} lists an unsafe path ${JSON.stringify(relativePath)}`);
      continue;
    }
    listed.add(relativePath);
    try {
      const actual = await sha256File(path.join(dir, relativePath));
      if (actual.sha256 !== entry.sha256 || actual.bytes !== entry.bytes) result.changed.push(relativePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') result.missing.push(relativePath);
      else throw error;
    }
  }
  for (const relativePath of await listFilesRecursive(dir)) {
    if (relativePath === MANIFEST_FILE || relativePath.startsWith(`${EXPORTS_DIR}/`)) continue;
    if (!listed.has(relativePath)) result.unlisted.push(relativePath);
  }
  result.ok = result.changed.length + result.missing.length + result.unlisted.length + result.problems.length === 0;
  return result;
}

function isSafeRelativePath(relativePath: string): boolean {
  if (relativePath === '' || relativePath.includes('\\') || relativePath.includes('\0')) return false;
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) return false;
  return relativePath.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export interface LedgerProblem {
  /** 1-based line number of the line that is wrong (or that was changed). */
  line: number;
  message: string;
}

export interface LedgerVerification {
  ok: boolean;
  ledgerFile: string;
  entries: number;
  problems: LedgerProblem[];
}

/**
 * Check the ledger chain: every line parses, seq counts up from 1, `prev` is the hash of the
 * line before, and each listed run's manifest.json still has the recorded hash. Without
 * signatures, an edit of the very last line is only caught through its manifest hash.
 * `checkManifests: false` checks the chain alone (bundles archived elsewhere).
 */
export async function verifyLedger(evidenceDir: string, options: { checkManifests?: boolean } = {}): Promise<LedgerVerification> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  const result: LedgerVerification = { ok: false, ledgerFile, entries: 0, problems: [] };
  let text: string;
  try {
    text = await readFile(ledgerFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    result.problems.push({ line: 0, message: `${LEDGER_FILE} is missing` });
    return result;
  }
  if (text === '') {
    result.ok = true;
    return result;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else result.problems.push({ line: lines.length, message: 'the last line is incomplete (no newline)' });
  result.entries = lines.length;

  let expectedPrev = LEDGER_GENESIS;
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    let entry: Partial<LedgerEntry> | undefined;
    try {
      entry = JSON.parse(line) as Partial<LedgerEntry>;
    } catch {
      result.problems.push({ line: lineNumber, message: 'not valid JSON' });
    }
    if (entry !== undefined) {
      if (entry.seq !== lineNumber) {
        result.problems.push({ line: lineNumber, message: `seq is ${JSON.stringify(entry.seq)}, expected ${lineNumber}` });
      }
      if (entry.prev !== expectedPrev) {
        result.problems.push(
          lineNumber === 1
            ? { line: 1, message: 'the first line does not start the chain (prev is not all zeros)' }
            : {
                line: lineNumber - 1,
                message: `line ${lineNumber - 1} was changed, or lines after it were removed or reordered: its sha256 does not match the prev recorded in line ${lineNumber}`,
              },
        );
      }
    }
    expectedPrev = sha256Hex(line);
  });

  for (const [index, line] of options.checkManifests === false ? [] : lines.entries()) {
    let entry: Partial<LedgerEntry>;
    try {
      entry = JSON.parse(line) as Partial<LedgerEntry>;
    } catch {
      continue;
    }
    if (typeof entry.dir !== 'string' || !isSafeRelativePath(entry.dir)) {
      result.problems.push({ line: index + 1, message: `dir ${JSON.stringify(entry.dir)} is not a run directory name` });
      continue;
    }
    const manifestFile = path.join(evidenceDir, entry.dir, MANIFEST_FILE);
    try {
      const { sha256 } = await sha256File(manifestFile);
      if (sha256 !== entry.manifestSha256) {
        result.problems.push({ line: index + 1, message: `${entry.dir}/${MANIFEST_FILE} does not match the manifestSha256 recorded here` });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      result.problems.push({ line: index + 1, message: `${entry.dir}/${MANIFEST_FILE} is missing` });
    }
  }
  result.problems.sort((a, b) => a.line - b.line);
  result.ok = result.problems.length === 0;
  return result;
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
