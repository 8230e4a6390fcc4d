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

export type Phase = 'prepare' | 'steady-state' | 'disrupt' | 'recover' | 'verify' | 'exercise' | 'hotwash' | 'teardown';

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
  | 'improvement'
  | 'backup-too-old';

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
  /** Proposed in the hot wash, when it was. */
  correctiveAction?: string;
  owner?: string;
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

export type ItemStatus = 'done' | 'partial' | 'missed';
export type Rating = 'P' | 'S' | 'M' | 'U';

export interface ExerciseItemRecord {
  id: string;
  action: string;
  role: string;
  /** Set when the role was unavailable (key person unavailable inject): who covered it. */
  coveredBy: string | null;
  roleUnavailable: boolean;
  timeLimitSeconds: number | null;
  tookSeconds: number | null;
  status: ItemStatus;
  note: string | null;
  answeredAt: string;
}

export interface ExerciseInjectRecord {
  id: string;
  module: string;
  title: string;
  plannedAtSeconds: number;
  situation: string;
  questions: string[];
  discussion: string | null;
  presentedAt: string;
  keyPersonUnavailable: { role: string; reason: string | null } | null;
  items: ExerciseItemRecord[];
}

export interface ImprovementRecord {
  observation: string;
  analysis: string | null;
  correctiveAction: string | null;
  owner: string | null;
  severity: Severity | null;
}

/** A tabletop exercise as facilitated: the basis of the AAR/IP. */
export interface ExerciseRecord {
  mode: 'live' | 'answers';
  facilitator: string;
  /** The answers file replayed (mode answers), with its hash. */
  answersFile: { file: string; sha256: string } | null;
  conductedAt: string | null;
  modules: { id: string; title: string }[];
  objectives: { id: string; text: string; capability: string | null; rating: Rating; note: string | null; ratedAt: string }[];
  injects: ExerciseInjectRecord[];
  unavailableRoles: { role: string; sinceInject: string; reason: string | null }[];
  hotwash: { strengths: string[]; improvements: ImprovementRecord[] };
  /** Set when the session was interrupted and resumed: when each part happened. */
  sessions: { startedAt: string; endedAt: string | null }[];
}

export interface WalkthroughStepRecord {
  id: string;
  title: string;
  owner: string;
  kind: 'command' | 'manual';
  instruction: string;
  expectedSeconds: number;
  elapsedSeconds: number | null;
  status: 'done' | 'failed' | 'not-reached';
  exitCode: number | null;
  output: string | null;
  note: string | null;
  startedAt: string | null;
}

/** A walkthrough: elapsed vs expected per step, and an end-to-end *estimate* (never a measured RTO). */
export interface WalkthroughRecord {
  steps: WalkthroughStepRecord[];
  elapsedSeconds: number;
  expectedSeconds: number;
  estimate: { label: string; seconds: number; rtoTargetSeconds: number | null; withinRto: boolean | null };
}

/** Items opened by earlier runs of the same system, as the register shows them when this run ended. */
export interface EarlierItemRecord {
  id: string;
  runId: string;
  title: string;
  severity: Severity;
  owner: string;
  due: string;
  status: 'open' | 'closed';
  overdue: boolean;
  verifiedBy: string | null;
  closedAt: string | null;
}

/** One leader of a cluster as the evidence names it (SPEC v1.1 `topology.before` / `topology.after`). */
export interface TopologyMember {
  name: string;
  host: string;
  port: number;
  /** From the server itself when it answered (Patroni's /cluster lags a promotion); null when unknown. */
  timeline: number | null;
}

/** A cluster whose leader moves: who led before T0, after recovery, and every change seen in between. */
export interface TopologyRecord {
  /** How the leader was found: Patroni's REST API (`/cluster`) or the members (the one not in recovery). */
  source: 'patroni' | 'members';
  before: TopologyMember | null;
  after: TopologyMember | null;
  /** Every leader change the drill saw while it watched (polling the same source). */
  leaderChanges: { at: string; from: string | null; to: string | null; timeline: number | null }[];
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
  /** PostgreSQL cluster targets (target.cluster): the leader before and after, and the changes seen. */
  topology?: TopologyRecord | null;
  /** Tabletop only. */
  exercise?: ExerciseRecord | null;
  /** Simulation (walkthrough) only. */
  walkthrough?: WalkthroughRecord | null;
  /** Remediation items of earlier runs of the same system, with their status at the end of this run. */
  earlierItems?: EarlierItemRecord[];
  /** Set on re-rendered reports: when the register was read for `earlierItems`. */
  earlierItemsAsOf?: string;
}
