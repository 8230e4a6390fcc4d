/**
 * The run's bundle as the evidence store sees it: a directory with its appended timeline and
 * probes, attachments, and the seal (finalize): run.json, the already-rendered report files it
 * is handed, manifest.json + SHA256SUMS (+ signatures), then the ledger line. It renders
 * nothing: reports are rendered by reports/render.ts (see EvidenceBundle in reports/evidence.ts,
 * which renders and then seals).
 *
 * Durability model: appends go to the OS with a `write` as soon as they are made, so a
 * SIGKILL of drillbook loses nothing already measured (the page cache outlives the process);
 * fsync, which protects against a power loss or kernel crash, is batched (appender.ts). Every
 * other file is written atomically (temp + fsync + rename + fsync dir).
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ATTACHMENTS_DIR,
  EvidenceError,
  MANIFEST_FILE,
  PROBES_CSV_HEADER,
  PROBES_FILE,
  RUN_FILE,
  TIMELINE_FILE,
  fsyncDirectory,
  isTempFileName,
  listFilesRecursive,
  pathExists,
  probeCsvLine,
  sha256Hex,
  writeFileAtomic,
} from '../evidence-files.js';
import type { ProbeAttempt, RunRecord, TimelineEvent } from '../run-record.js';
import {
  CHECKSUMS_FILE,
  CHECKSUMS_SIGNATURE_FILE,
  MANIFEST_SIGNATURE_FILE,
  SIGNER_PUBLIC_KEY_FILE,
  keyIdOf,
  publicKeyPem,
  signBytes,
  toSigningKey,
} from '../signing.js';
import { DurableAppender } from './appender.js';
import { appendLedger, type LedgerEntry } from './ledger.js';
import { TIMESTAMP_TOKEN_FILE, type TimestampRequestOptions, checkTsaUrl, requestTimestamp } from '../timestamp.js';
import { type Manifest, buildManifest, checksumsText, isOutsideManifest } from './manifest.js';

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
  /**
   * Ask this RFC 3161 TSA to stamp manifest.json's sha256 at seal (`run --tsa`); the token is
   * kept as manifest.tsr. A TSA that fails does not stop the seal: the manifest records why.
   */
  timestamp?: { tsaUrl: string; request?: TimestampRequestOptions };
}

/** A report already rendered, to be written into the bundle and listed in its manifest. */
export interface ReportFile {
  /** A plain file name in the run directory (report.html, report.md, …). */
  file: string;
  content: string | Uint8Array;
}

export interface SealOptions {
  /** Overrides BundleOptions.signingKey for this finalize. */
  signingKey?: KeyObject | string;
  /** Rendered reports, written after run.json and before the manifest, which lists them. */
  reports?: readonly ReportFile[];
}

export interface SealResult {
  dir: string;
  manifestSha256: string;
  ledgerEntry: LedgerEntry;
  /** The key id the bundle was signed with, or null when unsigned. */
  keyId: string | null;
  /** The RFC 3161 timestamp asked for (null: none was): its genTime, or why none was obtained. */
  timestamp: { tsa: string; genTime: string | null; error: string | null } | null;
}

/** run.json's exact text (its sha256 is printed in the reports before the manifest exists). */
export function runJsonText(record: RunRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
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

/** What a bundle class is built from (a subclass such as EvidenceBundle keeps this signature). */
export type BundleClass<B extends RunBundle> = new (
  evidenceDir: string,
  dir: string,
  timeline: DurableAppender,
  probes: DurableAppender,
  options: BundleOptions,
) => B;

export class RunBundle {
  private sealed = false;

  /** Use create() or reopen(); the appenders are opened there. */
  constructor(
    readonly evidenceDir: string,
    readonly dir: string,
    private readonly timeline: DurableAppender,
    private readonly probes: DurableAppender,
    protected readonly options: BundleOptions,
  ) {}

  /** Create `<evidenceDir>/<dirName>/` (which must not exist yet) with empty timeline and probes files. */
  static async create<B extends RunBundle>(this: BundleClass<B>, evidenceDir: string, dirName: string, given: BundleOptions = {}): Promise<B> {
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
    return attachBundle(this, evidenceDir, dir, options);
  }

  /** Reopen a bundle whose run was killed; see {@link openExisting}. */
  static async reopen<B extends RunBundle>(this: BundleClass<B>, runDir: string, options: BundleOptions = {}): Promise<B> {
    const dir = path.resolve(runDir);
    return attachBundle(this, path.dirname(dir), dir, options);
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

  /** True once finalize has begun (a second finalize is refused). */
  get finalized(): boolean {
    return this.sealed;
  }

  /** The key finalize would sign with: `option`, else the bundle's; resolved (a bad reference throws). */
  async signingKeyFor(option?: KeyObject | string): Promise<KeyObject | undefined> {
    const keyOption = option ?? this.options.signingKey;
    return keyOption === undefined ? undefined : toSigningKey(keyOption);
  }

  /** Stop appending: flush, fsync and close timeline and probes (finalize does it too). Idempotent. */
  async closeAppenders(): Promise<void> {
    await Promise.all([this.timeline.close(), this.probes.close()]);
  }

  /**
   * Seal the bundle: run.json, the given (already rendered) reports, SHA256SUMS, signatures,
   * manifest.json last, then the ledger line. Renders nothing.
   */
  async finalize(record: RunRecord, options: SealOptions = {}): Promise<SealResult> {
    if (this.sealed) throw new EvidenceError(`bundle ${this.dir} is already finalized`);
    // Resolved before anything is closed, so a bad reference leaves the bundle open.
    const signingKey = await this.signingKeyFor(options.signingKey);
    const reports = options.reports ?? [];
    for (const { file } of reports) {
      if (file !== path.basename(file) || file.startsWith('.') || file === RUN_FILE || isOutsideManifest(file) || [TIMELINE_FILE, PROBES_FILE, SIGNER_PUBLIC_KEY_FILE].includes(file)) {
        throw new EvidenceError(`invalid report file name "${file}"`);
      }
    }
    this.sealed = true;
    await this.closeAppenders();
    await removeTempFiles(this.dir);
    await writeFileAtomic(path.join(this.dir, RUN_FILE), runJsonText(record));
    for (const { file, content } of reports) await writeFileAtomic(path.join(this.dir, file), content);

    // Left by an earlier, interrupted finalize of this run (recover): never reuse them.
    for (const stale of [SIGNER_PUBLIC_KEY_FILE, CHECKSUMS_FILE, MANIFEST_SIGNATURE_FILE, CHECKSUMS_SIGNATURE_FILE, TIMESTAMP_TOKEN_FILE]) {
      await rm(path.join(this.dir, stale), { force: true });
    }
    const keyId = signingKey ? keyIdOf(signingKey) : null;
    if (signingKey) await writeFileAtomic(path.join(this.dir, SIGNER_PUBLIC_KEY_FILE), publicKeyPem(signingKey));
    let manifest: Manifest = await buildManifest(this.dir, record.runId, this.now(), keyId);
    let manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    let manifestSha256 = sha256Hex(manifestText);
    // The token stamps manifest.json's sha256, so the manifest says beforehand that one was
    // asked for (a deleted token is then detected); a TSA that fails leaves its reason instead.
    let timestamp: SealResult['timestamp'] = null;
    let token: Uint8Array | undefined;
    const tsa = this.options.timestamp;
    if (tsa) {
      let shown = tsa.tsaUrl;
      try {
        shown = checkTsaUrl(tsa.tsaUrl);
        manifest = { ...manifest, timestamp: { tsa: shown, token: TIMESTAMP_TOKEN_FILE } };
        manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
        manifestSha256 = sha256Hex(manifestText);
        const stamped = await requestTimestamp(tsa.tsaUrl, Buffer.from(manifestSha256, 'hex'), tsa.request);
        token = stamped.token;
        timestamp = { tsa: shown, genTime: stamped.genTime.toISOString(), error: null };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        manifest = { ...manifest, timestamp: { tsa: shown, error: reason } };
        manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
        manifestSha256 = sha256Hex(manifestText);
        timestamp = { tsa: shown, genTime: null, error: reason };
      }
    }
    const checksums = checksumsText([...manifest.files, { path: MANIFEST_FILE, sha256: manifestSha256 }]);
    await writeFileAtomic(path.join(this.dir, CHECKSUMS_FILE), checksums);
    if (signingKey) {
      await writeFileAtomic(path.join(this.dir, MANIFEST_SIGNATURE_FILE), signBytes(manifestText, signingKey));
      await writeFileAtomic(path.join(this.dir, CHECKSUMS_SIGNATURE_FILE), signBytes(checksums, signingKey));
    }
    if (token) await writeFileAtomic(path.join(this.dir, TIMESTAMP_TOKEN_FILE), token);
    // Last, atomically: a bundle without manifest.json is unfinished (recover completes it),
    // so a crash at any point before here never leaves a bundle that verifies.
    await writeFileAtomic(path.join(this.dir, MANIFEST_FILE), manifestText);

    const ledgerEntry = await appendLedger(
      this.evidenceDir,
      { runId: record.runId, dir: path.basename(this.dir), manifestSha256 },
      { now: this.options.now, lockTimeoutMs: this.options.ledgerLockTimeoutMs, signingKey },
    );
    return { dir: this.dir, manifestSha256, ledgerEntry, keyId, timestamp };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** Open the appenders of an existing run directory and build a `bundleClass` bundle on them. */
export async function attachBundle<B extends RunBundle>(bundleClass: BundleClass<B>, evidenceDir: string, dir: string, given: BundleOptions): Promise<B> {
  const options = await resolveBundleOptions(given);
  const timeline = await DurableAppender.open(path.join(dir, TIMELINE_FILE));
  const probes = await DurableAppender.open(path.join(dir, PROBES_FILE));
  return new bundleClass(evidenceDir, dir, timeline, probes, options);
}

async function resolveBundleOptions(options: BundleOptions): Promise<BundleOptions> {
  return options.signingKey === undefined ? options : { ...options, signingKey: await toSigningKey(options.signingKey) };
}

/** Remove temp files left by an interrupted atomic write. */
export async function removeTempFiles(dir: string): Promise<void> {
  for (const file of await listFilesRecursive(dir)) {
    if (isTempFileName(path.posix.basename(file))) await rm(path.join(dir, file), { force: true });
  }
}

