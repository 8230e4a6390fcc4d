/**
 * The evidence of a run, as the rest of drillbook uses it: the evidence store (reports/evidence/:
 * appender, bundle seal, reopen, manifest + SHA256SUMS, ledger, lock, verification) and
 * EvidenceBundle, the bundle whose finalize renders the reports (reports/render.ts) and then
 * has the store seal them. This module only composes; nothing under evidence/ imports it.
 *
 * A caller that renders by itself (an output multiplexer) uses RunBundle and hands finalize
 * the rendered files: `bundle.closeAppenders()`, `renderBundleReports(bundle.dir, record, key)`,
 * then `bundle.finalize(record, { reports })`. The reports are part of the seal (the manifest
 * lists and hashes them), so they are rendered before finalize, never after.
 */
import { EvidenceError } from './evidence-files.js';
import { RunBundle, type BundleOptions, type SealOptions, type SealResult } from './evidence/bundle.js';
import { openExistingBundle, type ExistingBundle } from './evidence/reopen.js';
import { renderBundleReports, type RenderError } from './render.js';

export { EvidenceError, listRunDirs } from './evidence-files.js';
export { RunBundle, runDirName, runJsonText, type BundleClass, type BundleOptions, type ReportFile, type SealOptions, type SealResult } from './evidence/bundle.js';
export { openExistingBundle, type ExistingBundle } from './evidence/reopen.js';
export { MANIFEST_SCHEMA, checksumsText, type Manifest, type ManifestEntry, type ManifestSignature } from './evidence/manifest.js';
export {
  KEY_ROTATION_KIND,
  LEDGER_FILE,
  LEDGER_GENESIS,
  LEDGER_LOCK_FILE,
  UNSIGNED_KEY_ID,
  appendKeyRotation,
  appendLedger,
  appendLedgerLineLocked,
  appendMissingLedgerLine,
  currentRunSigner,
  signerOf,
  withLedgerLock,
  type LedgerAppendOptions,
  type LedgerEntry,
  type LedgerFields,
  type LedgerRotationEntry,
} from './evidence/ledger.js';
export { acquireLock, type LockOptions } from './evidence/lock.js';
export { verifyBundle, type BundleVerification, type SignatureStatus, type TimestampVerification, type VerifyOptions } from './evidence/verify-bundle.js';
export { verifyLedger, type LedgerProblem, type LedgerRotationLine, type LedgerRunLine, type LedgerSignoffLine, type LedgerVerification } from './evidence/verify-ledger.js';
export { formatProblem, verifyEvidence, type EvidenceVerification, type RunVerification, type VerificationProblem } from './evidence/verify-evidence.js';

export type FinalizeOptions = SealOptions;

export interface FinalizeResult extends SealResult {
  /** Renderers that failed; their report file holds the error instead, the run record is intact. */
  renderErrors: RenderError[];
}

/** A run's bundle whose finalize renders report.html and report.md, then seals them with the rest. */
export class EvidenceBundle extends RunBundle {
  override async finalize(record: Parameters<RunBundle['finalize']>[0], options: FinalizeOptions = {}): Promise<FinalizeResult> {
    if (this.finalized) throw new EvidenceError(`bundle ${this.dir} is already finalized`);
    // Resolved before anything is closed, so a bad reference leaves the bundle open.
    const signingKey = await this.signingKeyFor(options.signingKey);
    await this.closeAppenders();
    const { reports, renderErrors } = await renderBundleReports(this.dir, record, signingKey);
    const sealed = await super.finalize(record, {
      ...(signingKey ? { signingKey } : {}),
      reports: [...reports, ...(options.reports ?? [])],
    });
    return { ...sealed, renderErrors };
  }
}

/** {@link openExistingBundle} with an EvidenceBundle (its finalize renders). */
export function openExisting(runDir: string, options: BundleOptions = {}): Promise<ExistingBundle<EvidenceBundle>> {
  return openExistingBundle(runDir, options, EvidenceBundle);
}
