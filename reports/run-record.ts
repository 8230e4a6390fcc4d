/**
 * The RunRecord (`run.json`): the one contract between runners and reports. Field names
 * that SPEC fixes keep their names; everything else is additive. Renderers read only this.
 */

export const RUN_RECORD_SCHEMA = 'drillbook.dev/run/v1';

export type Outcome = 'passed' | 'failed' | 'aborted' | 'rollback-incomplete';
export type Verdict = 'met' | 'missed' | 'not-measured';

export interface TimelineEvent {
  /** UTC wall time, ISO 8601 with milliseconds and `Z`. */
  at: string;
  /** Milliseconds on the monotonic clock since the run started; durations come from this. */
  mono: number;
  event: string;
  phase?: Phase;
  detail?: Record<string, unknown>;
}

export type Phase = 'prepare' | 'steady-state' | 'disrupt' | 'recover' | 'verify' | 'teardown';

export interface ProbeAttempt {
  /** Which probe: the recovery probe or a steady-state probe. */
  probe: string;
  startedAt: string;
  /** Monotonic ms since run start when the attempt began and ended. */
  startMono: number;
  endMono: number;
  ok: boolean;
  latencyMs: number;
  error?: string;
  /** The attempt was cut at the probe timeout (no answer), rather than refused or answered with an error. */
  timedOut?: boolean;
}

export interface Measurement {
  seconds: number;
  errorSeconds: number;
}

export interface RtoMeasurement extends Measurement {
  /** How T_recovered was established, e.g. "first of 3 consecutive successful writes on standby". */
  method: string;
  recoveredAt: string;
  probeInterval: number;
  stableFor: number;
  phases: { name: string; at: string; secondsAfterT0: number }[];
}

export interface RpoMeasurement extends Measurement {
  lostWrites: number;
  method: string;
  heartbeatInterval: number;
  acknowledged: number;
  newestPresentSeq: number | null;
  newestPresentAt: string | null;
  missingSeqs: number[];
  /**
   * True when no acknowledged heartbeat survived: the loss window began before the first
   * heartbeat, so `seconds` is only a lower bound and no verdict of "met" can follow from it.
   */
  lowerBoundOnly: boolean;
}

export interface CheckResult {
  name: string;
  type: string;
  passed: boolean;
  expected: string;
  actual: string;
  detail?: string;
}

export type Severity = 'P1' | 'P2' | 'P3' | 'P4';

export type FindingKind =
  | 'missed-target'
  | 'failed-check'
  | 'failed-step'
  | 'aborted'
  | 'teardown'
  | 'checklist-item'
  | 'objective-rating'
  | 'improvement';

/**
 * What a later run of the same system must show before an item from this finding may be
 * closed as verified: that target met, or that check passed. Absent for findings a person
 * closes with a note (a tabletop checklist item, an area for improvement).
 */
export type VerifiableBy = { target: 'rto' | 'rpo' } | { check: string };

export interface Finding {
  id: string;
  title: string;
  kind: FindingKind;
  severity: Severity;
  detail: string;
  verifiable?: VerifiableBy;
}

export interface RemediationItem {
  id: string;
  findingId: string;
  title: string;
  /** The corrective action proposed (editable in the register). */
  correctiveAction: string;
  severity: Severity;
  owner: string;
  /** YYYY-MM-DD, from the severity's SLA in the plan. */
  due: string;
  status: 'open' | 'closed';
  verifiable?: VerifiableBy;
}

export interface UndoRecord {
  id: number;
  description: string;
  /** `deferred`: a declared keep (restore.keep); `drillbook recover` runs it once the keep has passed. */
  status: 'done' | 'failed' | 'pending' | 'deferred';
  at?: string;
  error?: string;
  /** `run` when the drill undid it itself, `recover` when `drillbook recover` did. */
  by: 'run' | 'recover';
}

export interface DeletionRecord {
  what: string;
  location: string;
  destroyedAt: string;
  verification: { check: string; passed: boolean }[];
}

export interface RestoredCopyRecord {
  location: string;
  port: number;
  access: string;
  masking: string;
  restorePoint: string;
  baseBackup: string;
  kept: string | null;
  deletion?: DeletionRecord;
}

export interface RunRecord {
  schema: typeof RUN_RECORD_SCHEMA;
  runId: string;
  outcome: Outcome;
  scenario: { name: string; file: string; sha256: string; description?: string };
  plan: { name: string; version: string; file: string; sha256: string };
  system: { name: string; tier: number; owner: string };
  environment: string;
  type: string;
  objective: string;
  scope: string;
  startedAt: string;
  endedAt: string;
  timeSource: string;
  operator: string;
  approver: string | null;
  tool: { name: 'drillbook'; version: string; node: string };
  host: string;
  participants: { name: string; role: string; present: boolean }[];
  targets: { rtoSeconds: number | null; rpoSeconds: number | null; source: 'plan' | 'scenario' };
  measured: { rto: RtoMeasurement | null; rpo: RpoMeasurement | null };
  verdict: { rto: Verdict; rpo: Verdict; rtoMarginSeconds: number | null; rpoMarginSeconds: number | null };
  t0: { at: string; mono: number; action: string } | null;
  target: { driver: string; description: string; endpoints: Record<string, string> };
  faults: { type: string; description: string }[];
  timeline: TimelineEvent[];
  probeSummary: { attempts: number; failures: number; file: string };
  checks: CheckResult[];
  dataIntegrity: { restorePoint: string | null; backup: string | null; notes: string[] };
  restoredCopy: RestoredCopyRecord | null;
  observations: { strengths: string[]; improvements: string[] };
  findings: Finding[];
  remediation: RemediationItem[];
  teardown: { complete: boolean; undos: UndoRecord[]; deletions: DeletionRecord[]; recoveredBy: string | null };
  abort: { reason: string; at: string } | null;
  error: string | null;
  attachments: string[];
  signoff: { status: 'pending'; reviewer: null; decision: null };
}
