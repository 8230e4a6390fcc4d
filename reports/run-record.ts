/**
 * The RunRecord (`run.json`): the one contract between runners and reports. Field names
 * that SPEC fixes keep their names; everything else is additive. Renderers read only this.
 */

import type { EnvironmentClass } from '../scenarios/environments.js';
import type { RunCoordination } from './coordination-record.js';

export const RUN_RECORD_SCHEMA = 'drillbook.dev/run/v1';

export type Outcome = 'passed' | 'failed' | 'inconclusive' | 'aborted' | 'rollback-incomplete';
/** `inconclusive`: the fault had no observable effect, so nothing was recovered from (SPEC v1.1). */
export type Verdict = 'met' | 'missed' | 'not-measured' | 'inconclusive';

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
  /** Attempt number in its probe's start order (attempts overlap, so they end out of order). */
  attempt?: number;
  /**
   * One of the extra attempts started at once after the first success that followed a failure
   * (ProbeStream): it can break that candidate recovery, never confirm it.
   */
  confirming?: boolean;
  /** The server that answered a successful SQL probe. */
  server?: ServerFacts;
}

/** Which server answered: a recovery holds only while this stays the same. */
export interface ServerFacts {
  /** pg_control_system().system_identifier as text; null when the user may not read it. */
  systemIdentifier: string | null;
  /** The WAL insert timeline of the server that took the write. */
  timeline: number | null;
  inRecovery: boolean;
  /** inet_server_addr():inet_server_port(), the server itself (also behind a proxy). */
  server?: string;
}

/** The client-visible outage as the probes of the disrupted endpoint saw it (UTC times). */
export interface ObservedOutage {
  /** End of the last successful attempt before the first failure after T0. */
  lastSuccessBefore: string | null;
  /** Start of the first attempt after T0 that failed. */
  firstFailure: string;
  /** lastSuccessBefore → the recovery (T_recovered); null when either is unknown. */
  seconds: number | null;
}

/** A change of the server answering a probe: a failover, a demotion, a new timeline. */
export interface IdentityChange {
  at: string;
  mono: number;
  probe: string;
  from: ServerFacts;
  to: ServerFacts;
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
  /** stableFor as written when it was a duration (the recovery had to hold that long). */
  stableForDuration?: string;
  phases: { name: string; at: string; secondsAfterT0: number }[];
  /** SPEC v1.1: the outage as the probes saw it; null when no probe failed after T0. */
  observedOutage?: ObservedOutage | null;
  /** Every change of the answering server seen during the drill. */
  identityChanges?: IdentityChange[];
  /** Recoveries that had been confirmed and were broken again (the measurement continued). */
  reopened?: { at: string; probe: string; reason: string }[];
  /**
   * The lower end of the error bound: the true recovery lies after `at` (and before
   * `recoveredAt`), for the reason given — the last attempt that showed the outage, or the
   * fault's own release of the server that then answered (a pause's SIGCONT).
   */
  truthAfter?: { at: string; evidence: string };
}

export interface RpoMeasurement extends Measurement {
  lostWrites: number;
  method: string;
  heartbeatInterval: number;
  acknowledged: number;
  /** SPEC v1.1: acknowledged heartbeats (up to the cut) whose acknowledgement came after T0. */
  acknowledgedAfterT0?: number;
  /** SPEC v1.1: the cut instant (failover: client time of the last heartbeat the old primary acknowledged; parallel restore: T0). */
  cutAt?: string | null;
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
  | 'backup-too-old'
  | 'no-effect';

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
  /** The kind of the finding it came from (absent in records made before v1.1). */
  findingKind?: FindingKind;
  /** Re-rendered reports only: how the register says the item was closed (verified, accepted risk, a note). */
  closedAs?: string;
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
  /** The backup restored (SPEC v1.1 `backup`); also at the record's top level. */
  backup?: BackupRecord;
  /** PostgreSQL copies: the binaries used and how they were chosen. */
  binaries?: { dir: string; major: number; where: string };
  /** PostgreSQL copies: what kept the copy from touching production, and the check after the drill. */
  safety?: CopySafetyRecord;
  /** Masking rules applied to the copy and their verification (restore.masking rules). */
  maskingApplied?: MaskingRecord;
}

/** What the run record says about the backup's age against the policy. */
export interface BackupAgeRecord {
  tier: number;
  /** The policy as written (`26h`), or null when the tier sets none. */
  maxBackupAge: string | null;
  maxBackupAgeSeconds: number | null;
  ageAtT0Seconds: number | null;
  /** null when there is no policy, or the age is unknown. */
  withinPolicy: boolean | null;
}

/** The backup a drill restored (SPEC v1.1 "Backups people have": `backup`). */
export interface BackupRecord {
  /** pgbackrest, basebackup, command or baseBackupDir: where it came from. */
  source: string;
  /** The backup's label (pgBackRest set, backup_label's LABEL, …). */
  label: string;
  /** ISO 8601: when the backup started and stopped; the backup is consistent as of its stop. */
  startedAt: string | null;
  stoppedAt: string | null;
  /** Seconds from the backup's stop to T0; null when it could not be established. */
  ageAtT0Seconds: number | null;
  sizeBytes: number | null;
}

export interface CopySafetyRecord {
  /** Settings on the copy's command line (they win over its configuration files and ALTER SYSTEM). */
  settings: Record<string, string>;
  restoreCommand: string;
  /** How recovery was held to the WAL archived by T0. */
  walLimit: string;
  listen: string;
  dataDirMode: string;
  owner: string;
  /** Files drillbook had to add because the backup lacked them. */
  added: string[];
  /** After the drill: the archive/repository listed again; new timeline history or segments on a new timeline. */
  archiveCheck: { checked: boolean; newTimelineFiles: string[]; detail: string } | null;
}

export interface MaskingRecord {
  applied: { rules: { table: string; column: string; method: string; rowsAffected: number }[]; hash: string | null; rewritten: boolean; durationMs: number } | null;
  verification: { verdict: 'verified' | 'failed'; sampleSize: number; matches: number; unmaskedRows: number; method: string; rules: unknown[] } | null;
  error: string | null;
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
  /** How it was closed (v1.1): verified by a run, accepted risk, or a note. */
  resolution?: 'verified' | 'accepted-risk' | 'note' | null;
  riskOwner?: string | null;
  /** The plan version the item was found under, and the one that carries its fix (`--plan-version`). */
  openedPlanVersion?: string | null;
  planVersion?: string | null;
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
  /**
   * The class of `environment` under the plan when the run started (SPEC v1.1). Absent in
   * records made before it existed: readers derive it from the name by the default rules
   * (`recordEnvironmentClass` in environment-class.ts).
   */
  environmentClass?: EnvironmentClass;
  type: string;
  objective: string;
  scope: string;
  /** Why this drill (scenario `spec.rationale`): SOC 2 A1.3 asks that scenarios consider threat likelihood and magnitude. */
  rationale?: { threat: string; likelihood: string; impact: string; notes?: string } | null;
  /** Other scenarios this drill re-tests (scenario `spec.verifies`). */
  verifies?: string[];
  /**
   * When the test took place, UTC. For a replayed tabletop or walkthrough (`run --answers`):
   * when the session was conducted, from its answers file (`conductedAt`, answer `at` times);
   * the replay itself is `replayedAt` → `replayEndedAt`.
   */
  startedAt: string;
  endedAt: string;
  /** Set when the run replayed a recorded session: when the replay started (the timeline's clock). */
  replayedAt?: string;
  replayEndedAt?: string;
  timeSource: string;
  operator: string;
  approver: string | null;
  tool: { name: 'drillbook'; version: string; node: string };
  host: string;
  participants: { name: string; role: string; present: boolean }[];
  targets: { rtoSeconds: number | null; rpoSeconds: number | null; source: 'plan' | 'scenario' };
  measured: { rto: RtoMeasurement | null; rpo: RpoMeasurement | null };
  verdict: { rto: Verdict; rpo: Verdict; rtoMarginSeconds: number | null; rpoMarginSeconds: number | null };
  /**
   * Failover drills: whether the fault was seen to have an effect (a failed attempt of the
   * disrupted endpoint after T0, another server answering, or an effect the fault reported).
   * Not observed → outcome and verdict.rto `inconclusive` (SPEC v1.1). Absent: not a failover.
   */
  disruption?: { observed: boolean; evidence: string } | null;
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
  /** Parallel restores: the backup restored (SPEC v1.1); absent for other drills. */
  backup?: BackupRecord | null;
  /** The backup's age at T0 against the tier's maxBackupAge. */
  backupAge?: BackupAgeRecord | null;
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
  /** The per-system lock shared across runners, and whether the run waited for it or skipped (issue 16). */
  coordination?: RunCoordination;
}
