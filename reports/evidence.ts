/**
 * The evidence store: one directory per run (timeline, probes, captured output, run.json,
 * reports, manifest) and the hash-chained ledger beside them.
 *
 * Durability model: appends go to the OS with a `write` as soon as they are made, so a
 * SIGKILL of drillbook loses nothing already measured (the page cache outlives the process);
 * fsync, which protects against a power loss or kernel crash, is batched to at most one per
 * 200 ms per file. Every other file is written atomically (temp + fsync + rename + fsync dir).
 *
 * Integrity model: manifest.json lists the sha256 of every file of the run; SHA256SUMS repeats
 * them (plus manifest.json's) in `sha256sum -c` format; with a signing key, manifest.sig and
 * SHA256SUMS.sig are raw Ed25519 signatures over those two files' exact bytes and
 * signer.pub.pem (listed in the manifest) holds the public key. manifest.json is written
 * last: its presence marks a finished bundle. The ledger chains every run (and every
 * sign-off) by hash, each line signed when a key is configured.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, constants as fsConstants, readFileSync, readdirSync } from 'node:fs';
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
import {
  CHECKSUMS_FILE,
  CHECKSUMS_SIGNATURE_FILE,
  MANIFEST_SIGNATURE_FILE,
  SIGNATURE_ALGORITHM,
  SIGNER_PUBLIC_KEY_FILE,
  SIGNOFFS_FILE,
  keyIdOf,
  parsePublicKeyPem,
  publicKeyPem,
  signBytes,
  signJsonLine,
  splitSignedJsonLine,
  toSigningKey,
  verifyBytes,
  type TrustedKey,
} from './signing.js';

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

export interface ManifestSignature {
  algorithm: typeof SIGNATURE_ALGORITHM;
  keyId: string;
  /** The public key file, listed in `files`. */
  publicKey: typeof SIGNER_PUBLIC_KEY_FILE;
  /** Raw Ed25519 signatures over the exact bytes of manifest.json and SHA256SUMS. */
  signatures: [typeof MANIFEST_SIGNATURE_FILE, typeof CHECKSUMS_SIGNATURE_FILE];
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  runId: string;
  createdAt: string;
  /** `sha256sum -c` file of every listed file and manifest.json (absent in bundles written before it existed). */
  checksumsFile?: typeof CHECKSUMS_FILE;
  /** Present when the bundle is signed. */
  signature?: ManifestSignature;
  files: ManifestEntry[];
}

export interface LedgerEntry {
  seq: number;
  /** Absent on a run's line; `signoff` on a review record's line (see signoff.ts). */
  kind?: 'signoff';
  runId: string;
  /** The run directory, relative to the evidence directory. */
  dir: string;
  /** The run's manifest (for a sign-off: the manifest it reviewed). */
  manifestSha256: string;
  /** Sign-off lines: sha256 of the exact line of `<dir>/signoffs.jsonl` (without its newline). */
  signoffSha256?: string;
  at: string;
  /** sha256 of the previous line's exact text (without its newline). */
  prev: string;
  /** The key that signed this line (and, for a run, its bundle). */
  keyId?: string;
  /** base64 Ed25519 signature over the exact line without its `,"sig":"…"` member. */
  sig?: string;
}

export interface BundleOptions {
  /** Wall clock for manifest and ledger times; tests pass a fixed one. */
  now?: () => Date;
  /** How long to wait for the ledger lock before giving up. */
  ledgerLockTimeoutMs?: number;
  /**
   * Sign the bundle at finalize: an Ed25519 private KeyObject, or a reference
   * (`file:PATH`, `env:VARIABLE`; see signing.ts). A reference is resolved when the bundle is
   * created or reopened, so a bad one fails before the drill starts. Absent: unsigned.
   */
  signingKey?: KeyObject | string;
}

export interface FinalizeOptions {
  /** Overrides BundleOptions.signingKey for this finalize. */
  signingKey?: KeyObject | string;
}

export interface FinalizeResult {
  dir: string;
  manifestSha256: string;
  ledgerEntry: LedgerEntry;
  /** Renderers that failed; their report file holds the error instead, the run record is intact. */
  renderErrors: { file: string; message: string }[];
  /** The key id the bundle was signed with, or null when unsigned. */
  keyId: string | null;
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
  static async create(evidenceDir: string, dirName: string, given: BundleOptions = {}): Promise<EvidenceBundle> {
    if (dirName === '' || dirName !== path.basename(dirName) || dirName.startsWith('.')) {
      throw new EvidenceError(`invalid run directory name "${dirName}"`);
    }
    // Before anything is created: a bad key reference must not leave a half-begun run behind.
    const options = await resolveBundleOptions(given);
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

  private static async attach(evidenceDir: string, dir: string, given: BundleOptions): Promise<EvidenceBundle> {
    const options = await resolveBundleOptions(given);
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
  async finalize(record: RunRecord, options: FinalizeOptions = {}): Promise<FinalizeResult> {
    if (this.finalized) throw new EvidenceError(`bundle ${this.dir} is already finalized`);
    const keyOption = options.signingKey ?? this.options.signingKey;
    // Resolved before anything is closed, so a bad reference leaves the bundle open.
    const signingKey = keyOption === undefined ? undefined : await toSigningKey(keyOption);
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
    if (signingKey) renderOptions.signer = { keyId: keyIdOf(signingKey), publicKeyPem: publicKeyPem(signingKey), status: 'signed' };
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

    // Left by an earlier, interrupted finalize of this run (recover): never reuse them.
    for (const stale of [SIGNER_PUBLIC_KEY_FILE, CHECKSUMS_FILE, MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE]) {
      await rm(path.join(this.dir, stale), { force: true });
    }
    const keyId = signingKey ? keyIdOf(signingKey) : null;
    if (signingKey) await writeFileAtomic(path.join(this.dir, SIGNER_PUBLIC_KEY_FILE), publicKeyPem(signingKey));
    const manifest = await buildManifest(this.dir, record.runId, this.now(), keyId);
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    const manifestSha256 = sha256Hex(manifestText);
    const checksums = checksumsText([...manifest.files, { path: MANIFEST_FILE, sha256: manifestSha256 }]);
    await writeFileAtomic(path.join(this.dir, CHECKSUMS_FILE), checksums);
    if (signingKey) {
      await writeFileAtomic(path.join(this.dir, MANIFEST_SIGNATURE_FILE), signBytes(manifestText, signingKey));
      await writeFileAtomic(path.join(this.dir, CHECKSUMS_SIGNATURE_FILE), signBytes(checksums, signingKey));
    }
    // Last, atomically: a bundle without manifest.json is unfinished (recover completes it),
    // so a crash at any point before here never leaves a bundle that verifies.
    await writeFileAtomic(path.join(this.dir, MANIFEST_FILE), manifestText);

    const ledgerEntry = await appendLedger(
      this.evidenceDir,
      { runId: record.runId, dir: path.basename(this.dir), manifestSha256 },
      { now: this.options.now, lockTimeoutMs: this.options.ledgerLockTimeoutMs, signingKey },
    );
    return { dir: this.dir, manifestSha256, ledgerEntry, renderErrors, keyId };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

async function resolveBundleOptions(options: BundleOptions): Promise<BundleOptions> {
  return options.signingKey === undefined ? options : { ...options, signingKey: await toSigningKey(options.signingKey) };
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

/** Files of a run directory that are never listed in its manifest (they cover it, or come after it). */
const OUTSIDE_MANIFEST = new Set([MANIFEST_FILE, CHECKSUMS_FILE, MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE, SIGNOFFS_FILE]);

function coveredByManifest(relativePath: string): boolean {
  return (
    !OUTSIDE_MANIFEST.has(relativePath) &&
    !relativePath.startsWith(`${EXPORTS_DIR}/`) &&
    !isTempFileName(path.posix.basename(relativePath))
  );
}

async function buildManifest(dir: string, runId: string, createdAt: Date, keyId: string | null): Promise<Manifest> {
  const files: ManifestEntry[] = [];
  for (const relativePath of (await listFilesRecursive(dir)).filter(coveredByManifest)) {
    files.push({ path: relativePath, ...(await sha256File(path.join(dir, relativePath))) });
  }
  const signature: ManifestSignature | undefined =
    keyId === null
      ? undefined
      : { algorithm: SIGNATURE_ALGORITHM, keyId, publicKey: SIGNER_PUBLIC_KEY_FILE, signatures: [MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE] };
  // `files` last, so the short header stays at the top for a reader.
  return {
    schema: MANIFEST_SCHEMA,
    runId,
    createdAt: createdAt.toISOString(),
    checksumsFile: CHECKSUMS_FILE,
    ...(signature ? { signature } : {}),
    files,
  };
}

/**
 * SHA256SUMS content in GNU `sha256sum` format (two spaces: text mode), sorted by path. A
 * name holding a backslash or a line break is escaped the way sha256sum does: a leading
 * backslash, then `\\`, `\n`, `\r`.
 */
export function checksumsText(files: { path: string; sha256: string }[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(({ path: name, sha256 }) =>
      /[\\\n\r]/.test(name)
        ? `\\${sha256}  ${name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r')}\n`
        : `${sha256}  ${name}\n`,
    )
    .join('');
}

// ---------------------------------------------------------------------------------------
// Ledger

export interface LedgerAppendOptions {
  now?: (() => Date) | undefined;
  lockTimeoutMs?: number | undefined;
  /** Lock files of another host are considered abandoned after this long (pid cannot be checked). */
  foreignLockStaleMs?: number;
  /** Sign the line (its `keyId` and `sig` members). */
  signingKey?: KeyObject | undefined;
}

/** What a ledger line records besides its position in the chain. */
export interface LedgerFields {
  kind?: 'signoff';
  runId: string;
  dir: string;
  manifestSha256: string;
  signoffSha256?: string;
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
  return withLedgerLock(evidenceDir, options, () =>
    appendLedgerLineLocked(evidenceDir, { runId: run.runId, dir: run.dir, manifestSha256: run.manifestSha256 }, options),
  );
}

/**
 * For `recover`: a run whose bundle was sealed (manifest.json written) but whose process died
 * before its ledger line was appended. If the bundle verifies and no line records it, append
 * one (signed when a key is given). Returns the new line, or null when there was nothing to do.
 */
export async function appendMissingLedgerLine(runDir: string, options: LedgerAppendOptions = {}): Promise<LedgerEntry | null> {
  const dir = path.resolve(runDir);
  const evidenceDir = path.dirname(dir);
  const name = path.basename(dir);
  const bundle = await verifyBundle(dir);
  if (!bundle.ok || bundle.runId === null || bundle.manifestSha256 === null) {
    throw new EvidenceError(`${dir} does not verify, so it is not added to the ledger; run drillbook verify ${dir}`);
  }
  const { runId, manifestSha256 } = bundle;
  return withLedgerLock(evidenceDir, options, async () => {
    const text = (await readOptional(path.join(evidenceDir, LEDGER_FILE)))?.toString('utf8') ?? '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const entry = JSON.parse(line) as Partial<LedgerEntry>;
        if (entry.kind === undefined && entry.dir === name) return null;
      } catch {
        // a broken line is verify's to report
      }
    }
    return appendLedgerLineLocked(evidenceDir, { runId, dir: name, manifestSha256 }, options);
  });
}

/** Run `fn` holding the ledger lock (for a caller that must write something together with its line). */
export async function withLedgerLock<T>(evidenceDir: string, options: LedgerAppendOptions, fn: () => Promise<T>): Promise<T> {
  const release = await acquireLock(path.join(evidenceDir, LEDGER_LOCK_FILE), options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Append a line; the caller holds the ledger lock ({@link withLedgerLock}). */
export async function appendLedgerLineLocked(evidenceDir: string, fields: LedgerFields, options: LedgerAppendOptions = {}): Promise<LedgerEntry> {
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
  // Member order is fixed here: lines are hashed and signed as exact text.
  const entry: LedgerEntry = {
    seq,
    ...(fields.kind ? { kind: fields.kind } : {}),
    runId: fields.runId,
    dir: fields.dir,
    manifestSha256: fields.manifestSha256,
    ...(fields.signoffSha256 !== undefined ? { signoffSha256: fields.signoffSha256 } : {}),
    at: (options.now?.() ?? new Date()).toISOString(),
    prev,
  };
  let line: string;
  if (options.signingKey) {
    entry.keyId = keyIdOf(options.signingKey);
    line = signJsonLine(JSON.stringify(entry), options.signingKey);
    entry.sig = splitSignedJsonLine(line)!.signature.toString('base64');
  } else line = JSON.stringify(entry);
  const handle = await open(ledgerFile, 'a', 0o644);
  try {
    await handle.appendFile(`${line}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDirectory(evidenceDir);
  return entry;
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

/** Exclusive cross-process lock file (O_EXCL); also serialises the remediation register's appends. */
export async function acquireLock(lockFile: string, options: LedgerAppendOptions): Promise<() => Promise<void>> {
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

export type SignatureStatus = 'signed' | 'unsigned' | 'invalid' | 'untrusted';

export interface VerifyOptions {
  /**
   * Pinned public keys (`verify --trust`). When any are given, every run, ledger line and
   * sign-off must be signed by one of them: unsigned evidence or another key fails.
   */
  trust?: TrustedKey[];
}

export interface BundleVerification {
  ok: boolean;
  runDir: string;
  /** The runId the manifest names. */
  runId: string | null;
  /** sha256 of manifest.json as it is now (compare with the ledger). */
  manifestSha256: string | null;
  changed: string[];
  missing: string[];
  unlisted: string[];
  /** Problems with the manifest itself (absent, unreadable, unsafe paths) and with the signatures. */
  problems: string[];
  signature: { status: SignatureStatus; keyId: string | null };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The file's bytes, or undefined when it does not exist. */
/** Every file under `dir`, relative, sorted (synchronous, like readOptional). */
function listFilesRecursiveSync(dir: string): string[] {
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
async function readOptional(file: string): Promise<Buffer | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
}

/**
 * Recompute every hash in the run's manifest; report changed, missing and unlisted files, a
 * SHA256SUMS that disagrees with the manifest, and signatures that do not verify.
 */
export async function verifyBundle(runDir: string, options: VerifyOptions = {}): Promise<BundleVerification> {
  const dir = path.resolve(runDir);
  const result: BundleVerification = {
    ok: false,
    runDir: dir,
    runId: null,
    manifestSha256: null,
    changed: [],
    missing: [],
    unlisted: [],
    problems: [],
    signature: { status: 'unsigned', keyId: null },
  };
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(path.join(dir, MANIFEST_FILE));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    result.problems.push(code === 'ENOENT' ? `${MANIFEST_FILE} is missing` : `cannot read ${MANIFEST_FILE}: ${(error as Error).message}`);
    return result;
  }
  result.manifestSha256 = sha256Hex(manifestBytes);
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    result.problems.push(`${MANIFEST_FILE} is not valid JSON`);
    return result;
  }
  if (!isRecord(manifest) || manifest.schema !== MANIFEST_SCHEMA || !Array.isArray(manifest.files)) {
    result.problems.push(`${MANIFEST_FILE} is not a ${MANIFEST_SCHEMA} manifest`);
    return result;
  }
  result.runId = typeof manifest.runId === 'string' ? manifest.runId : null;
  /** path → the sha256 the manifest records */
  const listed = new Map<string, string>();
  for (const entry of manifest.files as unknown[]) {
    const relativePath = isRecord(entry) ? entry.path : undefined;
    if (!isRecord(entry) || typeof relativePath !== 'string' || !isSafeRelativePath(relativePath) || OUTSIDE_MANIFEST.has(relativePath)) {
      result.problems.push(`${MANIFEST_FILE} lists an unsafe path ${JSON.stringify(relativePath)}`);
      continue;
    }
    listed.set(relativePath, String(entry.sha256));
    try {
      const content = readFileSync(path.join(dir, relativePath)); // see readOptional: small files, read synchronously
      if (sha256Hex(content) !== entry.sha256 || content.byteLength !== entry.bytes) result.changed.push(relativePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') result.missing.push(relativePath);
      else throw error;
    }
  }

  const hasChecksums = manifest.checksumsFile !== undefined;
  if (hasChecksums && manifest.checksumsFile !== CHECKSUMS_FILE) {
    result.problems.push(`${MANIFEST_FILE} names checksumsFile ${JSON.stringify(manifest.checksumsFile)}, expected "${CHECKSUMS_FILE}"`);
  }
  const signed = manifest.signature !== undefined;
  const outside = new Set([MANIFEST_FILE, SIGNOFFS_FILE]);
  if (hasChecksums) outside.add(CHECKSUMS_FILE);
  if (signed) [MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE].forEach((file) => outside.add(file));
  for (const relativePath of listFilesRecursiveSync(dir)) {
    if (outside.has(relativePath) || relativePath.startsWith(`${EXPORTS_DIR}/`)) continue;
    if (!listed.has(relativePath)) result.unlisted.push(relativePath);
  }

  let checksumsBytes: Buffer | undefined;
  if (hasChecksums) {
    checksumsBytes = await readOptional(path.join(dir, CHECKSUMS_FILE));
    if (checksumsBytes === undefined) result.missing.push(CHECKSUMS_FILE);
    else {
      const expected = checksumsText([...[...listed].map(([file, sha256]) => ({ path: file, sha256 })), { path: MANIFEST_FILE, sha256: result.manifestSha256 }]);
      if (!Buffer.from(expected).equals(checksumsBytes)) result.changed.push(CHECKSUMS_FILE);
    }
  }

  const trust = options.trust ?? [];
  if (signed) await checkBundleSignature(dir, manifest.signature, listed, manifestBytes, checksumsBytes, trust, result);
  else if (trust.length > 0) {
    result.problems.push('unsigned: this run has no signature, and --trust requires every run to be signed by a trusted key');
  }
  result.ok = result.changed.length + result.missing.length + result.unlisted.length + result.problems.length === 0;
  return result;
}

async function checkBundleSignature(
  dir: string,
  declared: unknown,
  listed: Map<string, string>,
  manifestBytes: Buffer,
  checksumsBytes: Buffer | undefined,
  trust: TrustedKey[],
  result: BundleVerification,
): Promise<void> {
  const problemsBefore = result.problems.length;
  const missingBefore = result.missing.length;
  const block = isRecord(declared) ? declared : {};
  const keyId = typeof block.keyId === 'string' && /^[0-9a-f]{16}$/.test(block.keyId) ? block.keyId : null;
  result.signature = { status: 'invalid', keyId };
  if (keyId === null || block.algorithm !== SIGNATURE_ALGORITHM || block.publicKey !== SIGNER_PUBLIC_KEY_FILE) {
    result.problems.push(`${MANIFEST_FILE}: its signature block is not a drillbook ${SIGNATURE_ALGORITHM} signature`);
    return;
  }
  const pem = await readOptional(path.join(dir, SIGNER_PUBLIC_KEY_FILE));
  if (!listed.has(SIGNER_PUBLIC_KEY_FILE)) {
    result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} is not listed in ${MANIFEST_FILE}`);
    if (pem === undefined) result.missing.push(SIGNER_PUBLIC_KEY_FILE);
  }
  let key: KeyObject | undefined;
  if (pem !== undefined) {
    const embedded = parsePublicKeyPem(pem.toString('utf8'));
    if (!embedded) result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} is not an Ed25519 public key`);
    else if (keyIdOf(embedded) !== keyId) {
      result.problems.push(`${SIGNER_PUBLIC_KEY_FILE} holds key ${keyIdOf(embedded)}, but ${MANIFEST_FILE} names key ${keyId}`);
    } else key = embedded;
  }
  let untrusted = false;
  if (trust.length > 0) {
    const pinned = trust.find((candidate) => candidate.keyId === keyId);
    if (pinned) key = pinned.key;
    else {
      untrusted = true;
      result.problems.push(`signed by an unknown key ${keyId}: it is not among the --trust keys`);
    }
  }
  const signedFiles: [string, string, Buffer | undefined][] = [
    [MANIFEST_SIGNATURE_FILE, MANIFEST_FILE, manifestBytes],
    [CHECKSUMS_SIGNATURE_FILE, CHECKSUMS_FILE, checksumsBytes],
  ];
  for (const [signatureFile, dataFile, data] of signedFiles) {
    const signature = await readOptional(path.join(dir, signatureFile));
    if (signature === undefined) {
      result.missing.push(signatureFile);
      continue;
    }
    if (key === undefined || data === undefined) continue; // why is reported above
    if (!verifyBytes(data, signature, key)) {
      result.problems.push(`signature invalid: ${signatureFile} does not verify ${dataFile} with key ${keyId}`);
    }
  }
  const failed = result.problems.length > problemsBefore || result.missing.length > missingBefore || key === undefined;
  result.signature.status = untrusted ? 'untrusted' : failed ? 'invalid' : 'signed';
}

function isSafeRelativePath(relativePath: string): boolean {
  if (relativePath === '' || relativePath.includes('\\') || relativePath.includes('\0')) return false;
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) return false;
  return relativePath.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export interface LedgerProblem {
  /** 1-based line number of the line that is wrong (or that was changed); 0: the file as a whole. */
  line: number;
  message: string;
}

export interface LedgerRunLine {
  line: number;
  runId: string;
  dir: string;
  manifestSha256: string;
  keyId: string | null;
}

export interface LedgerSignoffLine {
  line: number;
  dir: string;
  signoffSha256: string;
  keyId: string | null;
}

export interface LedgerVerification {
  ok: boolean;
  ledgerFile: string;
  /** Lines in the ledger. */
  entries: number;
  problems: LedgerProblem[];
  runs: LedgerRunLine[];
  signoffs: LedgerSignoffLine[];
}

type LineSignature = 'valid' | 'invalid' | 'unsigned' | 'unchecked';

/** Reads run directories' public keys and sign-off files once per verification. */
class EvidenceReader {
  private readonly keys = new Map<string, Promise<KeyObject | undefined>>();
  private readonly signoffs = new Map<string, Promise<Map<string, string> | undefined>>();

  constructor(private readonly evidenceDir: string) {}

  runKey(dir: string): Promise<KeyObject | undefined> {
    let key = this.keys.get(dir);
    if (!key) {
      key = readOptional(path.join(this.evidenceDir, dir, SIGNER_PUBLIC_KEY_FILE)).then((pem) =>
        pem === undefined ? undefined : parsePublicKeyPem(pem.toString('utf8')),
      );
      this.keys.set(dir, key);
    }
    return key;
  }

  /** sha256 of each line of `<dir>/signoffs.jsonl` → the line. */
  signoffLines(dir: string): Promise<Map<string, string> | undefined> {
    let lines = this.signoffs.get(dir);
    if (!lines) {
      lines = readOptional(path.join(this.evidenceDir, dir, SIGNOFFS_FILE)).then((bytes) => {
        if (bytes === undefined) return undefined;
        const byHash = new Map<string, string>();
        for (const line of bytes.toString('utf8').split('\n')) if (line !== '') byHash.set(sha256Hex(line), line);
        return byHash;
      });
      this.signoffs.set(dir, lines);
    }
    return lines;
  }
}

/**
 * Check the ledger chain: every line parses, seq counts up from 1, `prev` is the hash of the
 * line before, signed lines verify, and (`checkManifests`, the default) each listed run's
 * manifest.json still has the recorded hash and key, and each recorded sign-off is still in
 * its run's signoffs.jsonl. Without signatures, an edit of the very last line is only caught
 * through its manifest hash. `checkManifests: false` checks the chain alone (bundles
 * archived elsewhere).
 */
export async function verifyLedger(
  evidenceDir: string,
  options: { checkManifests?: boolean; trust?: TrustedKey[] } = {},
): Promise<LedgerVerification> {
  const ledgerFile = path.join(evidenceDir, LEDGER_FILE);
  const result: LedgerVerification = { ok: false, ledgerFile, entries: 0, problems: [], runs: [], signoffs: [] };
  const checkManifests = options.checkManifests !== false;
  const trust = options.trust ?? [];
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
  else result.problems.push({ line: lines.length, message: `line ${lines.length} is incomplete (no newline at the end): the last line was cut or edited` });
  result.entries = lines.length;
  const entries: (Partial<LedgerEntry> | undefined)[] = lines.map((line, index) => {
    try {
      const parsed: unknown = JSON.parse(line);
      if (isRecord(parsed)) return parsed as Partial<LedgerEntry>;
    } catch {
      // reported below
    }
    result.problems.push({ line: index + 1, message: `line ${index + 1} is not a valid ledger line (not a JSON object)` });
    return undefined;
  });

  // Signatures first: with a verified line N-1, a prev mismatch in line N is a broken link
  // (lines removed, inserted or moved), not an edit of line N-1.
  const reader = new EvidenceReader(evidenceDir);
  const signatures: LineSignature[] = await mapLimit([...entries.entries()], 16, ([index, entry]) =>
    entry ? checkLedgerLineSignature(lines[index]!, entry, index + 1, reader, trust, checkManifests, result) : Promise.resolve<LineSignature>('invalid'),
  );

  let expectedPrev = LEDGER_GENESIS;
  entries.forEach((entry, index) => {
    const lineNumber = index + 1;
    if (entry !== undefined) {
      if (entry.seq !== lineNumber) {
        result.problems.push({ line: lineNumber, message: `seq is ${JSON.stringify(entry.seq)}, expected ${lineNumber}: lines were removed, inserted or reordered` });
      }
      if (entry.prev !== expectedPrev) {
        if (lineNumber === 1) result.problems.push({ line: 1, message: 'the first line does not start the chain (prev is not all zeros)' });
        else if (signatures[index - 1] === 'valid') {
          result.problems.push({
            line: lineNumber,
            message: `broken link at line ${lineNumber}: its prev is not the sha256 of line ${lineNumber - 1} (lines were removed, inserted or reordered, or this prev was edited)`,
          });
        } else {
          result.problems.push({
            line: lineNumber - 1,
            message: `line ${lineNumber - 1} was changed, or lines after it were removed or reordered: its sha256 does not match the prev recorded in line ${lineNumber}`,
          });
        }
      }
    }
    expectedPrev = sha256Hex(lines[index]!);
  });

  const seenDirs = new Map<string, number>();
  // First what each line is (in order: a repeated run is the later line), then the checks
  // against the run directories, concurrently.
  const checks: (() => Promise<void>)[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry === undefined) continue;
    const lineNumber = index + 1;
    if (typeof entry.dir !== 'string' || !isSafeRelativePath(entry.dir) || entry.dir.includes('/')) {
      result.problems.push({ line: lineNumber, message: `dir ${JSON.stringify(entry.dir)} is not a run directory name` });
      continue;
    }
    const keyId = typeof entry.keyId === 'string' ? entry.keyId : null;
    if (entry.kind === 'signoff') {
      if (typeof entry.signoffSha256 !== 'string') {
        result.problems.push({ line: lineNumber, message: 'a sign-off line without signoffSha256' });
        continue;
      }
      result.signoffs.push({ line: lineNumber, dir: entry.dir, signoffSha256: entry.signoffSha256, keyId });
      const { dir, signoffSha256 } = { dir: entry.dir, signoffSha256: entry.signoffSha256 };
      if (checkManifests) {
        checks.push(async () => {
          const signoffLines = await reader.signoffLines(dir);
          if (!signoffLines?.has(signoffSha256)) {
            result.problems.push({
              line: lineNumber,
              message: `the sign-off it records is missing from ${dir}/${SIGNOFFS_FILE} (${signoffLines ? 'that line was changed or removed' : 'the file is missing'})`,
            });
          }
        });
      }
      continue;
    }
    if (entry.kind !== undefined) {
      result.problems.push({ line: lineNumber, message: `unknown kind ${JSON.stringify(entry.kind)}` });
      continue;
    }
    if (typeof entry.runId !== 'string' || typeof entry.manifestSha256 !== 'string') {
      result.problems.push({ line: lineNumber, message: 'a run line needs runId and manifestSha256' });
      continue;
    }
    const firstLine = seenDirs.get(entry.dir);
    if (firstLine !== undefined) {
      result.problems.push({ line: lineNumber, message: `run ${entry.dir} is recorded again (first at line ${firstLine})` });
      continue;
    }
    seenDirs.set(entry.dir, lineNumber);
    result.runs.push({ line: lineNumber, runId: entry.runId, dir: entry.dir, manifestSha256: entry.manifestSha256, keyId });
    if (checkManifests) {
      const { dir, manifestSha256 } = { dir: entry.dir, manifestSha256: entry.manifestSha256 };
      checks.push(() => checkLedgerRun(evidenceDir, dir, manifestSha256, keyId, lineNumber, result));
    }
  }
  await mapLimit(checks, 16, (check) => check());
  result.problems.sort((a, b) => a.line - b.line);
  result.ok = result.problems.length === 0;
  return result;
}

/** A run line against its run directory: the manifest hash, and the key it was signed with. */
async function checkLedgerRun(
  evidenceDir: string,
  dir: string,
  manifestSha256: string,
  keyId: string | null,
  lineNumber: number,
  result: LedgerVerification,
): Promise<void> {
  const manifestBytes = await readOptional(path.join(evidenceDir, dir, MANIFEST_FILE));
  if (manifestBytes === undefined) {
    result.problems.push({ line: lineNumber, message: `${dir}/${MANIFEST_FILE} is missing` });
    return;
  }
  if (sha256Hex(manifestBytes) !== manifestSha256) {
    result.problems.push({ line: lineNumber, message: `${dir}/${MANIFEST_FILE} does not match the manifestSha256 recorded here` });
    return;
  }
  let manifestKeyId: string | null = null;
  try {
    const manifest: unknown = JSON.parse(manifestBytes.toString('utf8'));
    if (isRecord(manifest) && isRecord(manifest.signature) && typeof manifest.signature.keyId === 'string') manifestKeyId = manifest.signature.keyId;
  } catch {
    // verifyBundle names an unreadable manifest
  }
  if (manifestKeyId !== keyId) {
    result.problems.push({
      line: lineNumber,
      message: `line ${lineNumber} records ${keyId ? `key ${keyId}` : 'an unsigned run'}, but ${dir}/${MANIFEST_FILE} is ${manifestKeyId ? `signed by key ${manifestKeyId}` : 'unsigned'}`,
    });
  }
}

async function checkLedgerLineSignature(
  line: string,
  entry: Partial<LedgerEntry>,
  lineNumber: number,
  reader: EvidenceReader,
  trust: TrustedKey[],
  checkManifests: boolean,
  result: LedgerVerification,
): Promise<LineSignature> {
  const problem = (message: string) => result.problems.push({ line: lineNumber, message });
  if (entry.keyId === undefined && entry.sig === undefined && !line.includes('"sig":')) {
    if (trust.length > 0) problem(`line ${lineNumber} is unsigned, and --trust requires signed evidence`);
    return 'unsigned';
  }
  const split = splitSignedJsonLine(line);
  if (typeof entry.keyId !== 'string' || split === undefined) {
    problem(`line ${lineNumber} was changed: its signature or key id is missing or malformed`);
    return 'invalid';
  }
  let key: KeyObject | undefined;
  if (trust.length > 0) {
    key = trust.find((candidate) => candidate.keyId === entry.keyId)?.key;
    if (!key) {
      problem(`line ${lineNumber} is signed by an unknown key ${entry.keyId}: it is not among the --trust keys`);
      return 'unchecked';
    }
  } else if (typeof entry.dir === 'string' && isSafeRelativePath(entry.dir) && !entry.dir.includes('/')) {
    if (entry.kind === 'signoff') {
      const record = typeof entry.signoffSha256 === 'string' ? (await reader.signoffLines(entry.dir))?.get(entry.signoffSha256) : undefined;
      const pem = record === undefined ? undefined : publicKeyOfRecord(record);
      key = pem === undefined ? undefined : parsePublicKeyPem(pem);
    } else key = await reader.runKey(entry.dir);
    if (key && keyIdOf(key) !== entry.keyId) key = undefined;
  }
  if (!key) {
    if (checkManifests) problem(`line ${lineNumber}: cannot check its signature: key ${entry.keyId} is not available (its run's ${SIGNER_PUBLIC_KEY_FILE} is missing or changed; pin it with --trust)`);
    return 'unchecked';
  }
  if (!verifyBytes(split.message, split.signature, key)) {
    problem(`line ${lineNumber} was changed: its signature (key ${entry.keyId}) does not verify`);
    return 'invalid';
  }
  return 'valid';
}

function publicKeyOfRecord(line: string): string | undefined {
  try {
    const record: unknown = JSON.parse(line);
    return isRecord(record) && typeof record.publicKey === 'string' ? record.publicKey : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Whole evidence directory (drillbook verify)

/** One failure, named: `subject` is a run directory name or ledger.jsonl. */
export interface VerificationProblem {
  subject: string;
  line?: number;
  message: string;
}

export interface RunVerification {
  runDir: string;
  name: string;
  status: 'intact' | 'not-intact' | 'unfinished';
  runId: string | null;
  manifestSha256: string | null;
  signature: { status: SignatureStatus; keyId: string | null };
  signoffs: number;
}

export interface EvidenceVerification {
  ok: boolean;
  /** The evidence directory whose ledger was checked (null: a run on its own, no ledger beside it). */
  evidenceDir: string | null;
  runs: RunVerification[];
  ledger: LedgerVerification | null;
  /** Everything that failed, in order: runs first, then the ledger. */
  problems: VerificationProblem[];
  /** Facts worth printing that are not failures (e.g. a run checked without a ledger). */
  notes: string[];
}

export function formatProblem(problem: VerificationProblem): string {
  return `${problem.subject}${problem.line ? ` line ${problem.line}` : ''}: ${problem.message}`;
}

/**
 * `drillbook verify`: check a run directory, or every run of an evidence directory, and the
 * whole ledger: every file hash, SHA256SUMS, every signature (bundles, ledger lines,
 * sign-offs), every run in the ledger present with its manifest hash, every run and sign-off
 * present in the ledger. Throws EvidenceError when `target` is not something to verify.
 */
export async function verifyEvidence(target: string, options: VerifyOptions = {}): Promise<EvidenceVerification> {
  const resolved = path.resolve(target);
  let targetStat;
  try {
    targetStat = await stat(resolved);
  } catch {
    throw new EvidenceError(`${target}: no such directory`);
  }
  if (!targetStat.isDirectory()) throw new EvidenceError(`${target}: not a directory (give an evidence directory or a run directory)`);
  const isRun = [MANIFEST_FILE, RUN_FILE, TIMELINE_FILE].some((file) => existsSync(path.join(resolved, file)));
  const evidenceDir = isRun ? path.dirname(resolved) : resolved;
  const runDirs = isRun ? [resolved] : await listRunDirs(resolved);
  const hasLedger = await pathExists(path.join(evidenceDir, LEDGER_FILE));
  if (!isRun && runDirs.length === 0 && !hasLedger) {
    throw new EvidenceError(`${target}: no drillbook runs and no ${LEDGER_FILE} here; give an evidence directory or a run directory`);
  }
  const { verifySignoffs } = await import('./signoff.js');
  const result: EvidenceVerification = { ok: false, evidenceDir: hasLedger || !isRun ? evidenceDir : null, runs: [], ledger: null, problems: [], notes: [] };
  const signoffHashes = new Map<string, { line: number; sha256: string }[]>();

  const perRun = await mapLimit(runDirs, 8, async (runDir) => {
    const name = path.basename(runDir);
    const problems: VerificationProblem[] = [];
    if (!existsSync(path.join(runDir, MANIFEST_FILE))) {
      problems.push({ subject: name, message: `unfinished run (no ${MANIFEST_FILE} yet): run drillbook recover` });
      const run: RunVerification = { runDir, name, status: 'unfinished', runId: null, manifestSha256: null, signature: { status: 'unsigned', keyId: null }, signoffs: 0 };
      return { run, problems };
    }
    const bundle = await verifyBundle(runDir, options);
    for (const message of bundle.problems) problems.push({ subject: name, message });
    for (const file of bundle.changed) problems.push({ subject: name, message: `changed: ${file} (its sha256 differs from the one ${file === CHECKSUMS_FILE ? 'derived from' : 'recorded in'} ${MANIFEST_FILE})` });
    for (const file of bundle.missing) problems.push({ subject: name, message: `missing: ${file}` });
    for (const file of bundle.unlisted) problems.push({ subject: name, message: `unlisted: ${file} (not in ${MANIFEST_FILE})` });
    const signoffs = await verifySignoffs(runDir, { manifestSha256: bundle.manifestSha256, runId: bundle.runId, trust: options.trust ?? [] });
    for (const message of signoffs.problems) problems.push({ subject: name, message });
    signoffHashes.set(name, signoffs.lineHashes);
    const run: RunVerification = {
      runDir,
      name,
      status: problems.length === 0 ? 'intact' : 'not-intact',
      runId: bundle.runId,
      manifestSha256: bundle.manifestSha256,
      signature: bundle.signature,
      signoffs: signoffs.count,
    };
    return { run, problems };
  });

  const ledgerProblems: VerificationProblem[] = [];
  if (hasLedger) {
    const ledger = await verifyLedger(evidenceDir, { checkManifests: true, ...(options.trust ? { trust: options.trust } : {}) });
    result.ledger = ledger;
    for (const problem of ledger.problems) ledgerProblems.push({ subject: LEDGER_FILE, ...(problem.line > 0 ? { line: problem.line } : {}), message: problem.message });
    const ledgerRuns = new Set(ledger.runs.map((run) => run.dir));
    const ledgerSignoffs = new Set(ledger.signoffs.map((signoff) => `${signoff.dir}\n${signoff.signoffSha256}`));
    for (const { run, problems } of perRun) {
      if (run.status === 'unfinished') continue;
      if (!ledgerRuns.has(run.name)) problems.push({ subject: run.name, message: `not in the ledger: no line of ${LEDGER_FILE} records this run` });
      for (const signoff of signoffHashes.get(run.name) ?? []) {
        if (!ledgerSignoffs.has(`${run.name}\n${signoff.sha256}`)) {
          problems.push({ subject: run.name, message: `${SIGNOFFS_FILE} line ${signoff.line} is not recorded in ${LEDGER_FILE} (added or changed after the fact)` });
        }
      }
      if (problems.length > 0) run.status = 'not-intact';
    }
  } else if (isRun) {
    result.notes.push(`no ${LEDGER_FILE} beside this run: its bundle was checked on its own, not its place in a chain`);
  } else if (perRun.some(({ run }) => run.status !== 'unfinished')) {
    ledgerProblems.push({ subject: LEDGER_FILE, message: `${LEDGER_FILE} is missing: the runs here are not chained` });
  }

  for (const { run, problems } of perRun) {
    result.runs.push(run);
    result.problems.push(...problems);
  }
  result.problems.push(...ledgerProblems);
  result.ok = result.problems.length === 0;
  return result;
}

/** `fn` over `items` with at most `limit` in flight, results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
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
