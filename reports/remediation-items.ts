/**
 * The remediation register read: events folded into items (their current state and
 * history), the filters the CLI and the site use, and the words every view uses for how an
 * item was closed. Writing is in remediation.ts.
 */
import {
  EDITABLE_FIELDS,
  REMEDIATION_FILE,
  SEVERITIES,
  eventsOfRegisterText,
  readEvents,
  resolutionOf,
  type OpenedEvent,
  type RegisterEvent,
  type RegisterItem,
  type RegisterReadResult,
} from './remediation-events.js';
import type { EvidenceSource } from './evidence/source-type.js';
import type { EarlierItemRecord, RunRecord, Severity, VerifiableBy } from './run-record.js';

/** Fold events into items: the current state, with every event kept as history. */
export function deriveItems(events: RegisterEvent[], now: Date = new Date()): RegisterReadResult {
  const items = new Map<string, RegisterItem>();
  const warnings: string[] = [];
  const today = now.toISOString().slice(0, 10);
  for (const event of events) {
    if (event.type === 'opened') {
      if (items.has(event.id)) {
        warnings.push(`item ${event.id} is opened twice; the second opening (run ${event.runId}) was ignored`);
        continue;
      }
      const { item } = event;
      items.set(event.id, {
        id: event.id,
        itemId: item.id,
        findingId: typeof item.findingId === 'string' ? item.findingId : '',
        system: event.system,
        runId: event.runId,
        scenario: event.scenario,
        type: event.testType,
        environment: typeof event.environment === 'string' ? event.environment : '',
        title: item.title,
        correctiveAction: item.correctiveAction,
        severity: item.severity,
        owner: item.owner,
        due: item.due,
        status: item.status === 'closed' ? 'closed' : 'open',
        overdue: false,
        openedAt: event.at,
        ...(typeof event.planVersion === 'string' ? { openedPlanVersion: event.planVersion } : {}),
        ...(item.verifiable ? { verifiable: item.verifiable } : {}),
        ...(item.findingKind ? { findingKind: item.findingKind } : {}),
        history: [event],
      });
      continue;
    }
    const item = items.get(event.id);
    if (!item) {
      warnings.push(`a ${event.type} event at ${event.at} names item ${event.id}, which the register never opened; ignored`);
      continue;
    }
    item.history.push(event);
    if (event.type === 'updated') {
      for (const field of EDITABLE_FIELDS) {
        const value = event.changes[field];
        if (typeof value !== 'string') continue;
        if (field === 'severity') {
          if (SEVERITIES.includes(value as Severity)) item.severity = value as Severity;
        } else item[field] = value;
      }
    } else if (event.type === 'closed') {
      item.status = 'closed';
      item.closedAt = event.at;
      item.closeNote = event.note;
      item.verifiedBy = event.verifiedBy;
      item.verification = event.verification ?? null;
      item.resolution = resolutionOf(event);
      if (typeof event.riskOwner === 'string') item.riskOwner = event.riskOwner;
      else delete item.riskOwner;
      if (typeof event.planVersion === 'string') item.planVersion = event.planVersion;
      else delete item.planVersion;
      if (item.openedPlanVersion === undefined && typeof event.planVersionBefore === 'string') item.openedPlanVersion = event.planVersionBefore;
    } else {
      item.status = 'open';
      delete item.closedAt;
      delete item.closeNote;
      delete item.verifiedBy;
      delete item.verification;
      delete item.resolution;
      delete item.riskOwner;
      delete item.planVersion;
    }
  }
  const list = [...items.values()];
  for (const item of list) item.overdue = item.status === 'open' && item.due < today;
  return { items: list, warnings };
}

/** The register of an evidence source (a directory or S3) as it stands; a missing file is an empty register. */
export async function readRegisterFrom(source: EvidenceSource, opts: { now?: Date } = {}): Promise<RegisterReadResult> {
  if (source.kind === 'local') return readRegister(source.where, opts);
  return registerOfText((await source.read(REMEDIATION_FILE))?.toString('utf8'), source.locate(REMEDIATION_FILE), opts);
}

/** The register of `text` (undefined: there is none), however read; `file` names it in warnings. */
export function registerOfText(text: string | undefined, file: string, opts: { now?: Date } = {}): RegisterReadResult {
  const { events, warnings } = text === undefined ? { events: [], warnings: [] } : eventsOfRegisterText(text, file);
  const derived = deriveItems(events, opts.now);
  return { items: derived.items, warnings: [...warnings, ...derived.warnings] };
}

/** The register as it stands; a missing file is an empty register. */
export async function readRegister(evidenceDir: string, opts: { now?: Date } = {}): Promise<RegisterReadResult> {
  const { events, warnings } = await readEvents(evidenceDir);
  const derived = deriveItems(events, opts.now);
  return { items: derived.items, warnings: [...warnings, ...derived.warnings] };
}

/**
 * For a run's report (AAR/IP): the items opened by earlier runs of the same system, with
 * their status in the register now (closed and verified by which run, open, overdue).
 */
export async function earlierItemsFor(
  evidenceDir: string,
  record: Pick<RunRecord, 'runId' | 'startedAt' | 'system'>,
  opts: { now?: Date } = {},
): Promise<{ items: EarlierItemRecord[]; warnings: string[] }> {
  const { items, warnings } = await readRegister(evidenceDir, opts);
  return { items: earlierItemsIn(items, record), warnings };
}

/** The items of `items` opened by earlier runs of the record's system, as a report shows them. */
export function earlierItemsIn(items: RegisterItem[], record: Pick<RunRecord, 'runId' | 'startedAt' | 'system'>): EarlierItemRecord[] {
  const startedAt = Date.parse(record.startedAt);
  return items
    .filter((item) => {
      if (item.system !== record.system.name || item.runId === record.runId) return false;
      const opened = item.history[0] as OpenedEvent;
      return Date.parse(opened.runStartedAt) < startedAt;
    })
    .map((item) => ({
      id: item.id,
      runId: item.runId,
      title: item.title,
      severity: item.severity,
      owner: item.owner,
      due: item.due,
      status: item.status,
      overdue: item.overdue,
      verifiedBy: item.verifiedBy ?? null,
      closedAt: item.closedAt ?? null,
      resolution: item.resolution ?? null,
      riskOwner: item.riskOwner ?? null,
      openedPlanVersion: item.openedPlanVersion ?? null,
      planVersion: item.planVersion ?? null,
    }));
}

export interface RegisterFilter {
  system?: string;
  status?: 'open' | 'closed';
  overdue?: boolean;
}

export function filterItems(items: RegisterItem[], filter: RegisterFilter): RegisterItem[] {
  return items.filter(
    (item) =>
      (filter.system === undefined || item.system === filter.system) &&
      (filter.status === undefined || item.status === filter.status) &&
      (!filter.overdue || item.overdue),
  );
}

/**
 * How a closed item was closed, in words every view uses (CSV export, site): an accepted risk
 * is never worded as a fix.
 */
export function closedAsText(item: Pick<RegisterItem, 'resolution' | 'riskOwner' | 'verifiedBy'>): string {
  if (item.resolution === 'accepted-risk') return `accepted risk (not verified), owner ${item.riskOwner ?? 'not named'}`;
  if (item.verifiedBy) return `verified by run ${item.verifiedBy}`;
  return 'closed with a note (not re-tested)';
}

/** What a verifying run must show, in words. */
export function verifiableText(verifiable: VerifiableBy): string {
  return 'target' in verifiable ? `the ${verifiable.target.toUpperCase()} target met` : `the check \`${verifiable.check}\` passed`;
}
