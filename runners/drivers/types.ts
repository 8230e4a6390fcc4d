/**
 * The driver contract: what a runner needs from a target, whatever the technology. A driver
 * is looked up by `spec.target.driver`; RDS and Kubernetes drivers implement the same shape.
 */
import type { CheckResult, RestoredCopyRecord } from '../../reports/run-record.js';
import type { Check, Fault, Recovery, Scenario } from '../../scenarios/schema.js';
import type { LoadedScenario, Reporter } from '../../scenarios/load.js';
import type { Instant } from '../clock.js';
import type { RunContext } from '../context.js';
import type { HeartbeatSink } from '../probes/heartbeat.js';
import type { ProbeFn } from '../probes/probe-loop.js';

export type EndpointName = 'primary' | 'standby' | 'restored';

export interface PlanItem {
  action: string;
  touches: string;
  undo: string;
}

export interface FaultEffect {
  description: string;
  /** Resolves when a timed fault has ended by itself (e.g. a pause); absent otherwise. */
  ended?: Promise<void>;
}

export interface RestoredCopy {
  record: RestoredCopyRecord;
  endpoint: EndpointName;
}

export interface DriverSession {
  description: string;
  endpoints(): Partial<Record<EndpointName, string>>;
  /** Drill-specific preconditions (e.g. the standby streams) before anything is disrupted. */
  confirmSteadyState(ctx: RunContext): Promise<string[]>;
  /** A real write through the endpoint (a fresh connection each attempt). */
  writeProbe(endpoint: EndpointName): ProbeFn;
  heartbeatSink(endpoint: EndpointName): Promise<HeartbeatSink>;
  /** The heartbeat seqs of this run present at the endpoint. */
  presentHeartbeats(endpoint: EndpointName): Promise<Set<number>>;
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
}

export interface Driver {
  name: string;
  validate(loaded: LoadedScenario, report: Reporter): void;
  plan(loaded: LoadedScenario): PlanItem[];
  open(ctx: RunContext): Promise<DriverSession>;
}

