/**
 * `drillbook verify`: a run directory, or every run of an evidence directory, and the whole
 * ledger, with every problem named by its subject.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { EvidenceError, MANIFEST_FILE, RUN_FILE, TIMELINE_FILE, listRunDirs, pathExists, readTextIfPresent } from '../evidence-files.js';
import { CHECKSUMS_FILE, SIGNOFFS_FILE } from '../signing.js';
import { verifySignoffs } from '../signoff.js';
import { REMEDIATION_FILE, checkRegisterText } from '../remediation-events.js';
import { LEDGER_FILE } from './ledger.js';
import { verifyBundle, type SignatureStatus, type TimestampVerification, type VerifyOptions } from './verify-bundle.js';
import { verifyLedger, type LedgerVerification } from './verify-ledger.js';

/** One failure, named: `subject` is a run directory name, ledger.jsonl or remediation.jsonl. */
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
  /** The RFC 3161 timestamp of the manifest (absent for an unfinished run). */
  timestamp?: TimestampVerification;
}

export interface EvidenceVerification {
  ok: boolean;
  /** The evidence directory whose ledger was checked (null: a run on its own, no ledger beside it). */
  evidenceDir: string | null;
  runs: RunVerification[];
  ledger: LedgerVerification | null;
  /** The remediation register's chain (null: no remediation.jsonl). */
  register: RegisterVerification | null;
  /** Everything that failed, in order: runs first, then the ledger, then the register. */
  problems: VerificationProblem[];
  /** Facts worth printing that are not failures (e.g. a run checked without a ledger). */
  notes: string[];
}

export interface RegisterVerification {
  file: string;
  ok: boolean;
  /** Lines in the file, events read, lines before the first chained one. */
  lines: number;
  events: number;
  legacyLines: number;
  /** Lines torn by a crash mid-append (tolerated: the chain runs through them). */
  tornLines: number[];
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
  const result: EvidenceVerification = { ok: false, evidenceDir: hasLedger || !isRun ? evidenceDir : null, runs: [], ledger: null, register: null, problems: [], notes: [] };
  const signoffHashes = new Map<string, { line: number; sha256: string }[]>();

  const limit = pLimit(8);
  const verifyRun = async (runDir: string) => {
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
      timestamp: bundle.timestamp,
    };
    return { run, problems };
  };
  const perRun = await Promise.all(runDirs.map((runDir) => limit(() => verifyRun(runDir))));

  const ledgerProblems: VerificationProblem[] = [];
  if (hasLedger) {
    const ledger = await verifyLedger(evidenceDir, { checkManifests: true, ...(options.trust ? { trust: options.trust } : {}), ...(options.anchors ? { anchors: options.anchors } : {}) });
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

  const registerProblems = result.evidenceDir === null ? [] : await verifyRegister(result.evidenceDir, result);

  for (const { run, problems } of perRun) {
    result.runs.push(run);
    result.problems.push(...problems);
  }
  result.problems.push(...ledgerProblems, ...registerProblems);
  result.ok = result.problems.length === 0;
  return result;
}

/**
 * The remediation register: every line's checksum and the hash chain. A line torn by a crash
 * is a note, not a failure (the next line chains to it, so nothing is hidden there); an
 * edited or foreign line, or a break of the chain, is a failure.
 */
async function verifyRegister(evidenceDir: string, result: EvidenceVerification): Promise<VerificationProblem[]> {
  const file = path.join(evidenceDir, REMEDIATION_FILE);
  const text = await readTextIfPresent(file);
  if (text === undefined) return [];
  const check = checkRegisterText(text);
  const problems = [...check.damaged, ...check.chain]
    .sort((a, b) => a.line - b.line)
    .map((p): VerificationProblem => ({ subject: REMEDIATION_FILE, line: p.line, message: p.message }));
  result.register = {
    file,
    ok: problems.length === 0,
    lines: check.lines,
    events: check.events.length,
    legacyLines: check.legacyLines,
    tornLines: check.torn.map((p) => p.line),
  };
  for (const torn of check.torn) result.notes.push(`${REMEDIATION_FILE} ${torn.message} (a crash mid-append; tolerated, the chain runs through it)`);
  if (check.legacyLines > 0) {
    result.notes.push(`${REMEDIATION_FILE}: lines 1–${check.legacyLines} were written before the register was hash-chained; they are checked line by line only`);
  }
  return problems;
}
