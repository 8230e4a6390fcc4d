/**
 * The remediation register's file format: `<evidence dir>/remediation.jsonl`, one event a
 * line, each carrying the sha256 of its own JSON; the event types, their schema (zod), the
 * codec, reading the file back, and the checks of what people type into an item.
 *
 * Hash chain: every line also carries `prev`, the sha256 of the exact text of the line
 * before it (all zeros for the first line), inside the part its own `sha256` covers. So a
 * removed, inserted, reordered or replaced line breaks the chain at the line after it.
 * Chaining is over physical lines: a line torn by a crash mid-append stays in the file (the
 * next append starts on a fresh line) and the next line chains to the torn text as it is, so
 * a crash never breaks the chain, while a torn-looking fragment put in place of a real line
 * does. Files written before the chain existed: their lines without `prev` are read as
 * legacy, up to the first chained line; after it, every line must be chained.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { isObject, sha256Hex } from './evidence-files.js';
import type { RemediationItem, Severity, VerifiableBy } from './run-record.js';

export const REMEDIATION_FILE = 'remediation.jsonl';
export const REMEDIATION_LOCK_FILE = 'remediation.lock';
export const REGISTER_EVENT_VERSION = 1;
export const SEVERITIES: readonly Severity[] = ['P1', 'P2', 'P3', 'P4'];

/** Invalid input to the register (unknown id, bad date, unqualified run…); nothing was written. */
export class RegisterError extends Error {
  override readonly name = 'RegisterError';
}

// ---------------------------------------------------------------------------------------
// Events

interface EventBase {
  v: typeof REGISTER_EVENT_VERSION;
  /** The register id of the item the event is about. */
  id: string;
  /** UTC, ISO 8601 with milliseconds. */
  at: string;
  by: string;
}

export interface OpenedEvent extends EventBase {
  type: 'opened';
  /** The item as the run recorded it (its `id` is the run's; the register id is `id` above). */
  item: RemediationItem;
  system: string;
  runId: string;
  runStartedAt: string;
  scenario: string;
  testType: string;
  environment: string;
  /** The plan version the opening run tested (added in v1.1; absent in older registers). */
  planVersion?: string;
}

export type EditableField = 'owner' | 'due' | 'severity' | 'correctiveAction';
export const EDITABLE_FIELDS: readonly EditableField[] = ['owner', 'due', 'severity', 'correctiveAction'];

export interface UpdatedEvent extends EventBase {
  type: 'updated';
  changes: Partial<Record<EditableField, string>>;
  previous: Partial<Record<EditableField, string>>;
  note: string;
}

/** What the verifying run showed, recorded with the close so the check can be repeated. */
export interface VerificationRecord {
  runId: string;
  /** The run directory, relative to the evidence directory. */
  dir: string;
  startedAt: string;
  manifestSha256: string;
  /** e.g. "RTO met: 12.3 s against a target of 900 s", "check `orders row count` passed". */
  shows: string;
}

/**
 * How an item was closed: `verified` by a qualifying later run; `accepted-risk`: closed
 * without verification, the risk accepted by a named owner; `note`: an item no run can
 * verify (a checklist item, an area for improvement) closed with what was done. Events
 * written before v1.1 carry no resolution: `verified` when `verifiedBy` is set, else `note`.
 */
export type CloseResolution = 'verified' | 'accepted-risk' | 'note';

export interface ClosedEvent extends EventBase {
  type: 'closed';
  note: string;
  /** The full run id of the run that verified the fix, or null when closed with a note only. */
  verifiedBy: string | null;
  verification: VerificationRecord | null;
  /** Added in v1.1 (optional in the file format). */
  resolution?: CloseResolution;
  /** Accepted risk: who owns the risk now. */
  riskOwner?: string;
  /** The plan version that carries the fix (`--plan-version`). */
  planVersion?: string;
  /** With planVersion: the version the item was found under, when known. */
  planVersionBefore?: string;
}

/** The resolution of a closed event, also for events written before resolutions existed. */
export function resolutionOf(event: Pick<ClosedEvent, 'resolution' | 'verifiedBy'>): CloseResolution {
  return event.resolution ?? (event.verifiedBy ? 'verified' : 'note');
}

export interface ReopenedEvent extends EventBase {
  type: 'reopened';
  note: string;
}

export type RegisterEvent = OpenedEvent | UpdatedEvent | ClosedEvent | ReopenedEvent;

/** An item as the register holds it now: the run's RemediationItem fields, where it came from, and its history. */
export interface RegisterItem extends Omit<RemediationItem, 'id'> {
  id: string;
  /** The item id inside its run's run.json (equal to `id` unless two runs used the same one). */
  itemId: string;
  system: string;
  runId: string;
  scenario: string;
  type: string;
  environment: string;
  /** The plan version the opening run tested, when the register knows it. */
  openedPlanVersion?: string;
  /** Open and due before today (UTC). */
  overdue: boolean;
  openedAt: string;
  closedAt?: string;
  closeNote?: string;
  verifiedBy?: string | null;
  verification?: VerificationRecord | null;
  resolution?: CloseResolution;
  riskOwner?: string;
  /** The plan version that carries the fix, when the close named one. */
  planVersion?: string;
  history: RegisterEvent[];
}

export interface RegisterReadResult {
  items: RegisterItem[];
  /** Damaged or out-of-place lines that were skipped; the other lines were read. */
  warnings: string[];
}

export function registerFile(evidenceDir: string): string {
  return path.join(evidenceDir, REMEDIATION_FILE);
}

/** `prev` of the register's first line. */
export const REGISTER_GENESIS = '0'.repeat(64);

/**
 * `line` of the register: the event, then (when given) `prev`, the sha256 of the line before
 * it, then the sha256 of all that JSON. The writer chains its lines with {@link chainLines}.
 */
export function encodeEvent(event: RegisterEvent, prev?: string): string {
  const body = prev === undefined ? { ...event } : { ...event, prev };
  return `${JSON.stringify({ ...body, sha256: sha256Hex(JSON.stringify(body)) })}\n`;
}

/**
 * Chain encoded lines (from {@link encodeEvent}, each ending with a newline) onto `head`,
 * the sha256 of the register's last line as it is now ({@link readEvents}).
 */
export function chainLines(lines: string[], head: string): string[] {
  const events = lines.map((line) => {
    const decoded = decodeEvent(line.endsWith('\n') ? line.slice(0, -1) : line);
    if (!('event' in decoded)) throw new RegisterError(`internal: cannot chain a line that does not decode (${decoded.problem})`);
    return decoded.event;
  });
  return chainEvents(events, head);
}

/** Encode `events` as register lines (each ending with a newline), chained in order onto `head`. */
export function chainEvents(events: RegisterEvent[], head: string): string[] {
  let prev = head;
  return events.map((event) => {
    const line = encodeEvent(event, prev);
    prev = sha256Hex(line.slice(0, -1));
    return line;
  });
}

type DecodeResult = { event: RegisterEvent; prev?: string } | { problem: string; torn?: true };

/** Parse one line and check its checksum and shape; `prev` is its chain link (absent on a legacy line). */
export function decodeEvent(line: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { problem: 'not valid JSON (torn by a crash mid-append?)', torn: true };
  }
  if (!isObject(parsed) || typeof parsed.sha256 !== 'string') return { problem: 'no checksum' };
  // The checksum was computed over the event's JSON without it; rest keeps the key order.
  const { sha256, ...rest } = parsed;
  if (sha256Hex(JSON.stringify(rest)) !== sha256) return { problem: 'checksum mismatch (the line was damaged or edited)' };
  const { prev, ...event } = rest;
  if (prev !== undefined && (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev))) return { problem: 'prev is not a sha256' };
  const shapeProblem = eventShapeProblem(event);
  if (shapeProblem) return { problem: shapeProblem };
  return prev === undefined ? { event: event as unknown as RegisterEvent } : { event: event as unknown as RegisterEvent, prev };
}

const str = (message: string) => z.string({ error: message });
const EventBaseShape = {
  v: z.literal(REGISTER_EVENT_VERSION, { error: (issue) => `unsupported event version ${JSON.stringify(issue.input)}` }),
  id: str('id must be a string'),
  at: str('at must be a string'),
  by: str('by must be a string'),
};

/**
 * The register's events as read back: one schema per event type. Only what the register
 * relies on is required; the messages name what is wrong with a damaged or foreign line.
 */
export const RegisterEventSchema = z.discriminatedUnion(
  'type',
  [
    z.looseObject({
      ...EventBaseShape,
      type: z.literal('opened'),
      item: z.looseObject(
        {
          id: str('opened: item.id must be a string'),
          title: str('opened: item.title must be a string'),
          correctiveAction: str('opened: item.correctiveAction must be a string'),
          owner: str('opened: item.owner must be a string'),
          due: str('opened: item.due must be a string'),
          severity: z.enum(SEVERITIES as [Severity, ...Severity[]], { error: 'opened: item.severity must be P1–P4' }),
        },
        { error: 'opened: item must be an object' },
      ),
      system: str('opened: system must be a string'),
      runId: str('opened: runId must be a string'),
      runStartedAt: str('opened: runStartedAt must be a string'),
      scenario: str('opened: scenario must be a string'),
      testType: str('opened: testType must be a string'),
    }),
    z.looseObject({
      ...EventBaseShape,
      type: z.literal('updated'),
      changes: z.looseObject({}, { error: 'updated: changes, previous and note are required' }),
      previous: z.looseObject({}, { error: 'updated: changes, previous and note are required' }),
      note: str('updated: changes, previous and note are required'),
    }),
    z.looseObject({
      ...EventBaseShape,
      type: z.literal('closed'),
      note: str('closed: note and verifiedBy are required'),
      verifiedBy: z.string({ error: 'closed: note and verifiedBy are required' }).nullable(),
    }),
    z.looseObject({ ...EventBaseShape, type: z.literal('reopened'), note: str('reopened: note is required') }),
  ],
  { error: (issue) => `unknown event type ${JSON.stringify((issue.input as { type?: unknown } | undefined)?.type)}` },
);

function eventShapeProblem(value: Record<string, unknown>): string | undefined {
  // Version and base fields first, as before: an event of a newer version is named as such.
  if (value.v !== REGISTER_EVENT_VERSION) return `unsupported event version ${JSON.stringify(value.v)}`;
  const parsed = RegisterEventSchema.safeParse(value);
  return parsed.success ? undefined : parsed.error.issues[0]!.message;
}
export interface RegisterLineProblem {
  /** 1-based line number. */
  line: number;
  message: string;
}

export interface RegisterCheck {
  events: RegisterEvent[];
  /** Lines that are not events: edited, damaged, or of a shape the register does not know. */
  damaged: RegisterLineProblem[];
  /** Lines torn by a crash mid-append (not JSON); the chain runs through them, so they hide nothing. */
  torn: RegisterLineProblem[];
  /** Where the hash chain does not hold: a line removed, inserted, reordered or replaced before it. */
  chain: RegisterLineProblem[];
  /** Lines before the first chained one (a register written before the chain existed). */
  legacyLines: number;
  /** Lines in the file. */
  lines: number;
  /** sha256 of the last line: the `prev` of the next line to append. */
  head: string;
}

/** Check the register's text: each line's checksum and shape, and the hash chain. */
export function checkRegisterText(text: string): RegisterCheck {
  const result: RegisterCheck = { events: [], damaged: [], torn: [], chain: [], legacyLines: 0, lines: 0, head: REGISTER_GENESIS };
  if (text === '') return result;
  const lines = text.split('\n');
  const endsWithNewline = lines[lines.length - 1] === '';
  if (endsWithNewline) lines.pop();
  result.lines = lines.length;
  let expectedPrev = REGISTER_GENESIS;
  let chained = false;
  // An edited line is reported as damaged; the broken link after it is the same fact.
  let previousDamaged = false;
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    const decoded = line.trim() === '' ? undefined : decodeEvent(line);
    let damaged = false;
    if (decoded === undefined) {
      // A blank line: not an event, but a link of the chain like any other line.
    } else if ('event' in decoded) {
      result.events.push(decoded.event);
      if (decoded.prev === undefined) {
        if (chained) {
          result.chain.push({ line: lineNumber, message: `line ${lineNumber} has no prev, but the lines before it are chained: it was added by hand or by another tool` });
        } else result.legacyLines = lineNumber;
      } else {
        chained = true;
        if (decoded.prev !== expectedPrev && !previousDamaged) {
          result.chain.push({
            line: lineNumber,
            message:
              lineNumber === 1
                ? `line 1 does not start the chain (its prev is not all zeros): lines were removed before it`
                : `line ${lineNumber} does not chain to line ${lineNumber - 1}: a line was removed, inserted, reordered or replaced just before it`,
          });
        }
      }
    } else if (decoded.torn) {
      const last = index === lines.length - 1;
      result.torn.push({ line: lineNumber, message: `line ${lineNumber}: ${decoded.problem}${last && !endsWithNewline ? '; the last line is incomplete' : ''}` });
    } else {
      damaged = true;
      result.damaged.push({ line: lineNumber, message: `line ${lineNumber}: ${decoded.problem}` });
    }
    previousDamaged = damaged;
    expectedPrev = sha256Hex(line);
  });
  result.head = expectedPrev;
  return result;
}

/**
 * The register's events, in file order, with a warning per skipped line and per break of
 * the hash chain; `head` is what the next appended line chains to.
 */
export async function readEvents(evidenceDir: string): Promise<{ events: RegisterEvent[]; warnings: string[]; head: string }> {
  const file = registerFile(evidenceDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], warnings: [], head: REGISTER_GENESIS };
    throw new RegisterError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return eventsOfRegisterText(text, file);
}

/** {@link readEvents} of a register's text however read; `file` names it in the warnings. */
export function eventsOfRegisterText(text: string, file: string): { events: RegisterEvent[]; warnings: string[]; head: string } {
  const check = checkRegisterText(text);
  const warnings = [
    ...[...check.torn, ...check.damaged].map((p) => ({ line: p.line, text: `${file}:${p.line}: skipped a damaged line: ${p.message.replace(/^line \d+: /, '')}` })),
    ...check.chain.map((p) => ({ line: p.line, text: `${file}:${p.line}: the register's hash chain is broken: ${p.message.replace(/^line \d+ /, 'this line ')}; run drillbook verify` })),
  ]
    .sort((a, b) => a.line - b.line)
    .map((w) => w.text);
  return { events: check.events, warnings, head: check.head };
}

export const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export function singleLineProblem(what: string, value: string, max: number): string | undefined {
  if (value === '') return `${what} must not be empty`;
  if (value.length > max) return `${what} is longer than ${max} characters`;
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${what} must be one line of text without control characters`;
  return undefined;
}

export function textProblem(what: string, value: string, max: number): string | undefined {
  if (value === '') return `${what} must not be empty`;
  if (value.length > max) return `${what} is longer than ${max} characters`;
  if (CONTROL_CHARS.test(value)) return `${what} must not contain control characters`;
  return undefined;
}

export function noteAndByProblems(note: string | undefined, by: string | undefined): string[] {
  const problems: string[] = [];
  const noteProblem = textProblem('note', (note ?? '').trim(), 4000);
  if (noteProblem) problems.push(noteProblem === 'note must not be empty' ? 'a note is required: say what was done and why' : noteProblem);
  const byProblem = singleLineProblem('by', (by ?? '').trim(), 200);
  if (byProblem) problems.push(byProblem);
  return problems;
}

/** Undefined when `value` is a real calendar date written YYYY-MM-DD. */
export function dateProblem(value: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return `${JSON.stringify(value)} is not a date: write YYYY-MM-DD, e.g. 2027-01-31`;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return `${value} is not a calendar date`;
  }
  return undefined;
}

export function itemProblem(item: RemediationItem): string | undefined {
  if (typeof item.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/.test(item.id)) return 'id must be letters, digits, ".", "_", "-" (at most 100)';
  if (typeof item.title !== 'string' || item.title.trim() === '') return 'title is required';
  if (!SEVERITIES.includes(item.severity)) return `severity must be one of ${SEVERITIES.join(', ')}`;
  const due = dateProblem(item.due);
  if (due) return `due: ${due}`;
  return undefined;
}

