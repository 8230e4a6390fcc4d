/**
 * Exports of the remediation register: CSV for spreadsheets (one row per item, a documented
 * header row, RFC 4180 quoting, formula injection neutralised) and JSON for scripts.
 * Column meanings are documented in docs/remediation.md; keep the two in step.
 */
import { csvLine, csvText } from './csv.js';
import { closedAsText, verifiableText, type RegisterItem } from './remediation.js';

export const REGISTER_EXPORT_SCHEMA = 'drillbook.dev/remediation-register/v1';

/** Header row of the CSV export, in order. */
export const REGISTER_CSV_COLUMNS = [
  'id',
  'system',
  'severity',
  'status',
  'overdue',
  'title',
  'corrective_action',
  'owner',
  'due',
  'opened_at',
  'closed_at',
  'close_note',
  'verified_by',
  'verification',
  'requires',
  'run_id',
  'scenario',
  'test_type',
  'environment',
  'finding_id',
  'resolution',
  'risk_owner',
  'plan_version',
] as const;

export type RegisterCsvColumn = (typeof REGISTER_CSV_COLUMNS)[number];

function columnsOf(item: RegisterItem): Record<RegisterCsvColumn, string> {
  return {
    id: item.id,
    system: item.system,
    severity: item.severity,
    status: item.status,
    overdue: item.overdue ? 'yes' : 'no',
    title: item.title,
    corrective_action: item.correctiveAction,
    owner: item.owner,
    due: item.due,
    opened_at: item.openedAt,
    closed_at: item.closedAt ?? '',
    close_note: item.closeNote ?? '',
    verified_by: item.verifiedBy ?? '',
    verification: item.verification?.shows ?? '',
    requires: item.verifiable ? `a later re-test with ${verifiableText(item.verifiable)}, or an accepted risk` : 'a note',
    run_id: item.runId,
    scenario: item.scenario,
    test_type: item.type,
    environment: item.environment,
    finding_id: item.findingId,
    resolution: item.status === 'closed' ? closedAsText(item) : '',
    risk_owner: item.riskOwner ?? '',
    plan_version: item.planVersion ?? '',
  };
}

/**
 * One CSV cell (reports/csv.ts): a cell a spreadsheet would run as a formula (starting with
 * = + - @, or a tab or carriage return that some strip before looking) gets a leading
 * apostrophe; then RFC 4180 quoting for commas, quotes and line breaks.
 */
export function csvCell(value: string): string {
  return csvLine([value]);
}

/** The register as CSV: the header row, then one row per item; CRLF line ends (RFC 4180). */
export function registerToCsv(items: RegisterItem[]): string {
  return csvText([[...REGISTER_CSV_COLUMNS], ...items.map((item) => {
    const columns = columnsOf(item);
    return REGISTER_CSV_COLUMNS.map((column) => columns[column]);
  })]);
}

/** The register as JSON: every item with its full history. */
export function registerToJson(items: RegisterItem[], now: Date = new Date()): string {
  return `${JSON.stringify({ schema: REGISTER_EXPORT_SCHEMA, exportedAt: now.toISOString(), items }, null, 2)}\n`;
}
