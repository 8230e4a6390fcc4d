/**
 * The driver contract: what a runner needs from a target, whatever the technology. A driver
 * is looked up by `spec.target.driver`; RDS and Kubernetes drivers implement the same shape.
 */
import type { CheckResult, RestoredCopyRecord, RpoMeasurement, TopologyRecord } from '../../reports/run-record.js';
import type { Check, Fault, Recovery, Scenario } from '../../scenarios/schema.js';
import type { LoadedScenario, Reporter } from '../../scenarios/load.js';
import type { Instant } from '../clock.js';
import type { RunContext } from '../context.js';
import type { HeartbeatSink } from '../probes/heartbeat.js';
import type { ProbeFn } from '../probes/probe-loop.js';
import type { UndoRegistry } from '../undo.js';

export type EndpointName = 'primary' | 'standby' | 'restored';

export interface PlanItem {
  action: string;
  touches: string;
  undo: string;
}

export interface FaultEffect {
  description: string;
  /** An effect the fault itself observed (e.g. "the leader changed"): the outage counts as seen. */
  observed?: string;
  /** Resolves when a timed fault has ended by itself (e.g. a pause); absent otherwise. */
  ended?: Promise<void>;
  /**
   * The fault's own evidence that it took effect (SPEC v1.1 "the outage must be seen"): when
   * and how it was observed, e.g. the first failed client write after an RDS failover plus the
   * status RDS reported. Absent: the fault reports no effect of its own.
   */
  observedEffect?: { at: string; how: string };
  /**
   * A fault that froze the very server behind the endpoint (its processes checked against the
   * endpoint before T0) and lets it go itself (a pause): the run-clock instant just before it
   * did, once it has. That server cannot have answered anyone before then, so a recovery it
   * answers is no earlier — a lower bound the probes cannot give after a freeze, whose held
   * attempts all return at once.
   */
  releasedMono?(): number | undefined;
}

export interface RestoredCopy {
  record: RestoredCopyRecord;
  endpoint: EndpointName;
}

export interface DriverSession {
  description: string;
  /** What one recovery probe attempt is, for the evidence (default "write"; e.g. "HTTP request"). */
  probeNoun?: string;
  endpoints(): Partial<Record<EndpointName, string>>;
  /** Drill-specific preconditions (e.g. the standby streams) before anything is disrupted. */
  confirmSteadyState(ctx: RunContext): Promise<string[]>;
  /** A real write through the endpoint (a fresh connection each attempt). */
  writeProbe(endpoint: EndpointName): ProbeFn;
  /** Absent for a stateless target (e.g. Kubernetes workloads): no heartbeat is written and no RPO measured. */
  heartbeatSink?(endpoint: EndpointName): Promise<HeartbeatSink>;
  /** The heartbeat seqs of this run present at the endpoint. */
  presentHeartbeats?(endpoint: EndpointName): Promise<Set<number>>;
  /** Registers the fault's undo, then injects it, calling `markT0` at the disruptive instant. */
  injectFault(fault: Fault, ctx: RunContext, markT0: (action: string) => Instant): Promise<FaultEffect>;
  recover(recovery: Recovery, ctx: RunContext): Promise<string>;
  /** Parallel restore: registers the copy's destruction, then requests the restore. */
  requestRestore(restore: NonNullable<Scenario['spec']['restore']>, ctx: RunContext, markT0: (action: string) => Instant): Promise<RestoredCopy>;
  runChecks(checks: Check[], endpoint: EndpointName, ctx: RunContext): Promise<CheckResult[]>;
  /** Facts for the report's data-integrity section. */
  integrityNotes(): { backup: string | null; notes: string[] };
  /** Stops in-process activity (workload, connections); undos handle everything else. */
  close(): Promise<void>;
  /**
   * Parallel restore without a heartbeat writer on production (RDS with no production SQL
   * endpoint): the RPO as T0 − the copy's restore point, its method saying so. Absent or
   * null: the heartbeat method applies.
   */
  restorePointRpo?(t0: Instant): RpoMeasurement | null;
  /** A cluster whose leader moves: the leader before T0, after recovery, and every change seen. */
  topology?(): TopologyRecord | null;
}

/** What `drillbook recover` reports of a driver's orphan sweep. */
export interface SweepResult {
  /** Stands in for a run id in recover's list (`<driver>-orphan-sweep`). */
  runId: string;
  removed: number;
  failed: { description: string; error: string }[];
  /** The line recover prints. */
  summary: string;
}

export interface Driver {
  name: string;
  /** How long teardown may take before it is reported incomplete (default 5 minutes). */
  teardownTimeoutMs?: number;
  /** Registers the undos this driver journals (each validates its params). */
  registerUndos?(registry: UndoRegistry): void;
  /**
   * `drillbook recover`: what finished runs of this evidence directory left behind outside
   * any journal (found by tag), removed and recorded. Null: nothing to report. `options` are
   * this driver's own (tests pass fakes).
   */
  sweep?(evidenceDir: string, options: { log: (message: string) => void } & Record<string, unknown>): Promise<SweepResult | null>;
  validate(loaded: LoadedScenario, report: Reporter): void;
  plan(loaded: LoadedScenario): PlanItem[];
  /** The same plan resolved against the live target with read-only calls (what exactly each action would touch). */
  planLive?(loaded: LoadedScenario, signal?: AbortSignal): Promise<PlanItem[]>;
  /**
   * Checks on this machine before anything runs (`plan` and `run` refuse with exit 2 on an
   * error; `validate` shows them as warnings, since it may run away from the backup's host):
   * e.g. the backup exists, is a backup, and binaries of its PostgreSQL major are installed.
   */
  preflight?(loaded: LoadedScenario, report: Reporter): void;
  open(ctx: RunContext): Promise<DriverSession>;
}

/** A path inside the scenario's `spec`, for a driver's validation reports. */
export function specAt(...p: (string | number)[]): (string | number)[] {
  return ['spec', ...p];
}
