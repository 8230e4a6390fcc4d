/**
 * The RunContext travels down the call chain of one drill: clock, abort signal, undo stack,
 * evidence sinks and progress hooks. No module keeps run state in globals.
 */
import type { ProbeAttempt, Phase, TimelineEvent } from '../reports/run-record.js';
import type { LoadedScenario } from '../scenarios/load.js';
import type { Instant, RunClock } from './clock.js';
import type { Facilitator } from './exercise/facilitator.js';
import type { UndoStack } from './undo.js';

/** Hooks for people watching (terminal progress) and for tests; all optional. */
export interface ProgressListener {
  phase?(phase: Phase, at: Instant): void;
  event?(event: TimelineEvent): void;
  probe?(attempt: ProbeAttempt): void;
  log?(message: string): void;
}

export interface RunContext {
  runId: string;
  loaded: LoadedScenario;
  clock: RunClock;
  /** Aborts on Ctrl+C, a tripped guardrail, maxDuration or `fail`; reaches every loop and client call. */
  signal: AbortSignal;
  /**
   * Stops the drill now because it cannot go on (the restored copy's postmaster exited): the
   * signal aborts, so every loop and client call ends at once, and the engine records a failed
   * step with this message, not an abort. Teardown still runs. Absent in contexts built by hand.
   */
  fail?(error: Error): void;
  undo: UndoStack;
  /**
   * Records a timeline event (UTC + monotonic) in the evidence and tells listeners. `at` is
   * the instant the event happened when it was measured earlier (a probe's end, an undo's
   * time): one moment has one stamp, which every table and chart of the report reuses.
   */
  record(event: string, detail?: Record<string, unknown>, at?: Instant): Instant;
  enterPhase(phase: Phase): void;
  /** Journals T0 (fsynced) the instant it is taken. */
  markT0(t0: Instant & { action: string }): void;
  probeAttempt(attempt: ProbeAttempt): void;
  /** Writes captured output into the bundle; returns the file name. */
  attach(name: string, content: string): Promise<string>;
  log(message: string): void;
  /** Declares a secret value resolved during the run: it is masked in everything recorded. */
  addSecret(value: string | undefined): void;
  /** The text with every declared secret value masked. */
  redact(text: string): string;
  /** Directory for drill-owned scratch data (sandboxes, restored copies). */
  scratchRoot: string;
  /** Exercises (tabletop, walkthrough): where answers come from; journaled, resumable. */
  facilitator?: Facilitator;
}

/** The abort reason `RunContext.fail` gives: a failure seen by a driver, not an operator's or guardrail's abort. */
export class DrillStopped extends Error {}

export class AbortReason extends Error {
  constructor(
    readonly kind: 'interrupted' | 'max-duration' | 'guardrail',
    message: string,
  ) {
    super(message);
  }
}
