/**
 * The remediation register: `<evidence dir>/remediation.jsonl`, an append-only event log of
 * the items findings opened (`opened`), what people changed (`updated`), and how each was
 * closed (`closed`, with the run that verified it) or reopened. The current state of an item
 * is derived from its events; nothing is ever rewritten, so the history an auditor asks for
 * ("found when, fixed how, re-tested by which run") is the file itself.
 *
 * Crash and concurrency model: every append is one `write` of whole lines followed by fsync,
 * made under the same kind of exclusive lock file the ledger uses (`remediation.lock`), so
 * writers in several processes never interleave or lose events. Each line carries the sha256
 * of its own content: a line torn by a crash mid-append (or edited by hand) is detected,
 * skipped with a warning, and never hides the lines around it. An append that finds the file
 * ending without a newline starts on a fresh line, so a torn tail cannot swallow a new event.
 * Each line also chains to the line before it by hash (remediation-events.ts), so a line
 * removed or replaced later breaks the chain: `verify` fails and `list` warns.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock } from './evidence/lock.js';
import { fsyncDirectory, listRunDirs, pathExists, readRunRecord } from './evidence-files.js';
import {
  EDITABLE_FIELDS,
  REGISTER_EVENT_VERSION,
  REMEDIATION_LOCK_FILE,
  RegisterError,
  SEVERITIES,
  chainLines,
  dateProblem,
  encodeEvent,
  itemProblem,
  noteAndByProblems,
  readEvents,
  registerFile,
  singleLineProblem,
  textProblem,
  type ClosedEvent,
  type CloseResolution,
  type EditableField,
  type OpenedEvent,
  type RegisterEvent,
  type RegisterItem,
  type RegisterReadResult,
  type ReopenedEvent,
  type UpdatedEvent,
  type VerificationRecord,
} from './remediation-events.js';
import { comparePlanVersions } from '../scenarios/plan-version.js';
import type { RunRecord, Severity } from './run-record.js';
import { deriveItems, readRegister, verifiableText } from './remediation-items.js';
import { qualifyRun } from './remediation-verify.js';

export * from './remediation-events.js';
export * from './remediation-items.js';
export { TEST_TYPE_RIGOR } from './remediation-verify.js';


// ---------------------------------------------------------------------------------------
// Writing

/**
 * Append whole lines in one write + fsync under the register lock. `prepare` runs under the
 * lock with the events as they are now and returns the lines to write (or throws, and then
 * nothing is written).
 */
async function appendUnderLock<T>(
  evidenceDir: string,
  prepare: (events: RegisterEvent[]) => { lines: string[]; result: T },
): Promise<T> {
  const release = await acquireLock(path.join(evidenceDir, REMEDIATION_LOCK_FILE), {});
  try {
    const { events, head } = await readEvents(evidenceDir);
    const { lines, result } = prepare(events);
    if (lines.length === 0) return result;
    const file = registerFile(evidenceDir);
    const created = !(await pathExists(file));
    const handle = await open(file, 'a+', 0o644);
    try {
      // A crash mid-append can leave a last line without its newline: start on a fresh
      // line so the torn one stays alone (and skipped) instead of swallowing this event.
      const { size } = await handle.stat();
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      // Each line chains to the one before it; the first to the file's last line as it is
      // (a torn one included: it becomes a line of its own with the prefix).
      await handle.appendFile(prefix + chainLines(lines, head).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (created) await fsyncDirectory(evidenceDir);
    return result;
  } finally {
    await release();
  }
}

/**
 * Where `update`, `close` and `reopen` append: an evidence directory (the lock file and fsync
 * above) or an S3 store (`s3RegisterStore` in evidence/s3-append.ts: a conditional replace of
 * `remediation.jsonl`, chained to its last line in S3). `append` runs `prepare` on the events
 * as they stand at the write, and chains the lines it returns.
 */
export interface RegisterStore {
  /** The directory, or undefined for S3 (runs are then not looked up for --verified-by). */
  dir: string | undefined;
  read(opts: { now?: Date }): Promise<RegisterReadResult>;
  append<T>(prepare: (events: RegisterEvent[]) => { lines: string[]; result: T }): Promise<T>;
}

function storeOf(evidence: string | RegisterStore): RegisterStore {
  if (typeof evidence !== 'string') return evidence;
  return { dir: evidence, read: (opts) => readRegister(evidence, opts), append: (prepare) => appendUnderLock(evidence, prepare) };
}

/**
 * Open the remediation items of a run in the register. Idempotent: an item already opened
 * for this run (same run id and item id) is not opened again.
 */
export async function recordRunItems(evidenceDir: string, record: RunRecord, opts: { now?: Date } = {}): Promise<void> {
  if (record.remediation.length === 0) return;
  for (const item of record.remediation) {
    const problem = itemProblem(item);
    if (problem) throw new RegisterError(`run ${record.runId}: remediation item ${JSON.stringify(item.id)}: ${problem}`);
  }
  await mkdir(evidenceDir, { recursive: true });
  await appendUnderLock(evidenceDir, (events) => {
    const opened = events.filter((e): e is OpenedEvent => e.type === 'opened');
    const takenIds = new Set(opened.map((e) => e.id));
    const alreadyRecorded = new Set(opened.filter((e) => e.runId === record.runId).map((e) => e.item.id));
    const at = (opts.now ?? new Date()).toISOString();
    const lines: string[] = [];
    for (const item of record.remediation) {
      if (alreadyRecorded.has(item.id)) continue;
      // Ids are meant to be unique across runs; if one is not, qualify it with the run.
      let id = item.id;
      if (takenIds.has(id)) id = `${item.id}@${record.runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
      for (let n = 2; takenIds.has(id); n++) id = `${item.id}@${record.runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}-${n}`;
      takenIds.add(id);
      alreadyRecorded.add(item.id);
      const event: OpenedEvent = {
        v: REGISTER_EVENT_VERSION,
        type: 'opened',
        id,
        at,
        by: record.operator,
        item: { ...item },
        system: record.system.name,
        runId: record.runId,
        runStartedAt: record.startedAt,
        scenario: record.scenario.name,
        testType: record.type,
        environment: record.environment,
        planVersion: record.plan.version,
      };
      lines.push(encodeEvent(event));
    }
    return { lines, result: undefined };
  });
}

export interface ItemUpdate {
  owner?: string;
  due?: string;
  severity?: string;
  correctiveAction?: string;
  note: string;
  by: string;
}

/** Change owner, due date, severity or corrective action of an open item, with a note. */
export async function updateItem(evidence: string | RegisterStore, id: string, update: ItemUpdate, opts: { now?: Date } = {}): Promise<RegisterItem> {
  const changesAsked: Partial<Record<EditableField, string>> = {};
  const problems: string[] = [];
  if (update.owner !== undefined) {
    const owner = update.owner.trim();
    const p = singleLineProblem('owner', owner, 200);
    if (p) problems.push(p);
    else changesAsked.owner = owner;
  }
  if (update.due !== undefined) {
    const p = dateProblem(update.due.trim());
    if (p) problems.push(`due: ${p}`);
    else changesAsked.due = update.due.trim();
  }
  if (update.severity !== undefined) {
    const severity = update.severity.trim().toUpperCase();
    if (!SEVERITIES.includes(severity as Severity)) problems.push(`severity: ${JSON.stringify(update.severity)} is not one of ${SEVERITIES.join(', ')}`);
    else changesAsked.severity = severity;
  }
  if (update.correctiveAction !== undefined) {
    const action = update.correctiveAction.trim();
    const p = textProblem('corrective action', action, 2000);
    if (p) problems.push(p);
    else changesAsked.correctiveAction = action;
  }
  problems.push(...noteAndByProblems(update.note, update.by));
  if (Object.keys(changesAsked).length === 0 && problems.length === 0) {
    problems.push('nothing to change: give at least one of owner, due, severity or corrective action');
  }
  if (problems.length > 0) throw new RegisterError(problems.join('; '));

  return storeOf(evidence).append((events) => {
    const item = findItem(deriveItems(events, opts.now).items, id);
    if (item.status === 'closed') throw new RegisterError(`item ${item.id} is closed; reopen it before changing it`);
    const changes: Partial<Record<EditableField, string>> = {};
    const previous: Partial<Record<EditableField, string>> = {};
    for (const field of EDITABLE_FIELDS) {
      const value = changesAsked[field];
      if (value === undefined || value === item[field]) continue;
      changes[field] = value;
      previous[field] = item[field];
    }
    if (Object.keys(changes).length === 0) throw new RegisterError(`item ${item.id} already has these values; nothing to change`);
    const event: UpdatedEvent = {
      v: REGISTER_EVENT_VERSION,
      type: 'updated',
      id: item.id,
      at: (opts.now ?? new Date()).toISOString(),
      by: update.by.trim(),
      changes,
      previous,
      note: update.note.trim(),
    };
    return { lines: [encodeEvent(event)], result: deriveItems([...events, event], opts.now).items.find((i) => i.id === item.id)! };
  });
}

export interface ItemClose {
  note: string;
  by: string;
  /** A run id (or a unique prefix of one, at least 4 characters) from the evidence directory. */
  verifiedBy?: string;
  /** Close without verification: the risk is accepted, owned by `riskOwner`. */
  acceptRisk?: boolean;
  riskOwner?: string;
  /** The plan version that carries the fix (later than the one the item was found under). */
  planVersion?: string;
}

/**
 * Close an item, in one of three ways:
 * - verified (`verifiedBy`): by a later run that re-tests it ({@link qualifyRun}: same
 *   scenario or one that declares it `verifies` it, equal or higher rigor, same environment
 *   class, and the very target or check that failed passed at the same or a stricter
 *   threshold), checked here against its sealed record, not trusted;
 * - accepted risk (`acceptRisk` + `riskOwner`): closed without verification, shown as such
 *   everywhere;
 * - with a note only: for items no run can verify (a checklist item, an area for
 *   improvement); an item from a measured target or data check never closes this way.
 * `planVersion` names the plan revision that carries the fix; it must be later than the plan
 * version the item was found under.
 */
export async function closeItem(evidence: string | RegisterStore, id: string, close: ItemClose, opts: { now?: Date } = {}): Promise<RegisterItem> {
  const problems = noteAndByProblems(close.note, close.by);
  const verifiedByArg = close.verifiedBy?.trim();
  if (verifiedByArg !== undefined && verifiedByArg.length < 4) problems.push('verified-by: give the run id (at least its first 4 characters)');
  const riskOwner = close.riskOwner?.trim();
  if (close.acceptRisk) {
    if (verifiedByArg !== undefined) problems.push('--accept-risk and --verified-by exclude each other: an item is either re-tested or its risk accepted');
    const p = singleLineProblem('owner', riskOwner ?? '', 200);
    if (p) problems.push(p === 'owner must not be empty' ? '--accept-risk needs --owner: who owns the accepted risk' : p);
  } else if (riskOwner !== undefined) {
    problems.push('--owner names the owner of an accepted risk: use it with --accept-risk (to change the item owner, use remediation update)');
  }
  const planVersionArg = close.planVersion?.trim();
  if (planVersionArg !== undefined) {
    const p = singleLineProblem('plan version', planVersionArg, 100);
    if (p) problems.push(p);
  }
  if (problems.length > 0) throw new RegisterError(problems.join('; '));

  const store = storeOf(evidence);
  const evidenceDir = store.dir;
  const before = findItem((await store.read(opts)).items, id);
  if (before.status === 'closed') throw new RegisterError(`item ${before.id} is already closed`);
  const openedEvent = before.history[0] as OpenedEvent;
  // Registers written before v1.1 do not say which plan version found the item: its run does.
  const foundUnder = before.openedPlanVersion ?? (planVersionArg !== undefined && evidenceDir !== undefined ? await planVersionOfRun(evidenceDir, before.runId) : undefined);
  if (planVersionArg !== undefined && foundUnder !== undefined && comparePlanVersions(planVersionArg, foundUnder) <= 0) {
    throw new RegisterError(
      `cannot close ${before.id} with plan version ${planVersionArg}: the item was found under plan version ${foundUnder}; name the later version that carries the fix`,
    );
  }
  let verification: VerificationRecord | null = null;
  if (before.verifiable && verifiedByArg === undefined && !close.acceptRisk) {
    throw new RegisterError(
      `item ${before.id} closes only with --verified-by RUN_ID (a later re-test of ${before.scenario} showing ${verifiableText(before.verifiable)}) or, without verification, with --accept-risk --owner NAME`,
    );
  }
  if (verifiedByArg !== undefined) {
    if (evidenceDir === undefined) {
      throw new RegisterError(`--verified-by checks the re-test's bundle in an evidence directory: close ${before.id} with --evidence set to the staging directory that holds run ${verifiedByArg}, or with --accept-risk`);
    }
    verification = await qualifyRun(evidenceDir, verifiedByArg, before, openedEvent.runStartedAt);
  }
  const resolution: CloseResolution = verification ? 'verified' : close.acceptRisk ? 'accepted-risk' : 'note';

  return store.append((events) => {
    const item = findItem(deriveItems(events, opts.now).items, before.id);
    if (item.status === 'closed') throw new RegisterError(`item ${item.id} is already closed`);
    const event: ClosedEvent = {
      v: REGISTER_EVENT_VERSION,
      type: 'closed',
      id: item.id,
      at: (opts.now ?? new Date()).toISOString(),
      by: close.by.trim(),
      note: close.note.trim(),
      verifiedBy: verification?.runId ?? null,
      verification,
      resolution,
      ...(resolution === 'accepted-risk' && riskOwner ? { riskOwner } : {}),
      ...(planVersionArg !== undefined ? { planVersion: planVersionArg, ...(foundUnder !== undefined ? { planVersionBefore: foundUnder } : {}) } : {}),
    };
    return { lines: [encodeEvent(event)], result: deriveItems([...events, event], opts.now).items.find((i) => i.id === item.id)! };
  });
}

/** The plan version a run of the evidence directory tested, when its run.json can be read. */
async function planVersionOfRun(evidenceDir: string, runId: string): Promise<string | undefined> {
  for (const dir of (await pathExists(evidenceDir)) ? await listRunDirs(evidenceDir) : []) {
    const record = await readRunRecord(dir).catch(() => undefined);
    if (record?.runId === runId) return typeof record.plan?.version === 'string' ? record.plan.version : undefined;
  }
  return undefined;
}

/** Reopen a closed item (the fix did not hold), with a note. */
export async function reopenItem(evidence: string | RegisterStore, id: string, reopen: { note: string; by: string }, opts: { now?: Date } = {}): Promise<RegisterItem> {
  const problems = noteAndByProblems(reopen.note, reopen.by);
  if (problems.length > 0) throw new RegisterError(problems.join('; '));
  return storeOf(evidence).append((events) => {
    const item = findItem(deriveItems(events, opts.now).items, id);
    if (item.status !== 'closed') throw new RegisterError(`item ${item.id} is open; only a closed item can be reopened`);
    const event: ReopenedEvent = {
      v: REGISTER_EVENT_VERSION,
      type: 'reopened',
      id: item.id,
      at: (opts.now ?? new Date()).toISOString(),
      by: reopen.by.trim(),
      note: reopen.note.trim(),
    };
    return { lines: [encodeEvent(event)], result: deriveItems([...events, event], opts.now).items.find((i) => i.id === item.id)! };
  });
}


function findItem(items: RegisterItem[], id: string): RegisterItem {
  const wanted = id.trim();
  const item = items.find((i) => i.id === wanted) ?? items.find((i) => i.id.toLowerCase() === wanted.toLowerCase());
  if (item) return item;
  const near = items.filter((i) => i.id.toLowerCase().includes(wanted.toLowerCase())).slice(0, 3);
  const hint = near.length > 0 ? ` (did you mean ${near.map((i) => i.id).join(', ')}?)` : items.length === 0 ? ' (the register is empty)' : '';
  throw new RegisterError(`no remediation item ${JSON.stringify(wanted)} in the register${hint}`);
}
