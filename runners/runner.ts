/**
 * The runner contract: one per `spec.type`. A runner returns what it measured; when it
 * fails part-way it throws a RunnerFailure carrying what it had measured by then, so an
 * abort still leaves its measurements in the evidence.
 */
import type { LoadedScenario, Reporter } from '../scenarios/load.js';
import type { TestType } from '../scenarios/schema.js';
import type { RunContext } from './context.js';
import type { Driver } from './drivers/types.js';
import { type DrillResult, emptyDrillResult } from './measured-drill.js';

export interface RunnerEnv {
  /** The drivers by `spec.target.driver` (RunOptions.drivers, or the built-in ones). */
  drivers: Readonly<Record<string, Driver>>;
}

export interface Runner {
  type: TestType;
  /** What this runner needs beyond the schema (drivers validate their own settings). */
  validate(loaded: LoadedScenario, report: Reporter): void;
  run(ctx: RunContext, env: RunnerEnv): Promise<DrillResult>;
}

export class RunnerFailure extends Error {
  constructor(
    readonly result: DrillResult,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Runs `step` on a fresh result and returns it; a failure carries the partial result. */
export async function measuring(step: (result: DrillResult) => Promise<void>): Promise<DrillResult> {
  const result = emptyDrillResult();
  try {
    await step(result);
  } catch (error) {
    throw new RunnerFailure(result, error);
  }
  return result;
}
