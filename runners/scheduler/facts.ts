/** A finished scheduled drill in the shape notifications are built from. */
import type { DrillResultFacts } from '../notify/message.js';
import type { FinishedDrill } from './scheduler.js';

export function drillFacts(drill: FinishedDrill, host: string): DrillResultFacts {
  const { job, scenario, result } = drill;
  return {
    scenario: { name: job.scenario, file: job.file },
    system: { name: job.system, tier: scenario.tier },
    type: scenario.type,
    environment: scenario.environment,
    exitCode: result.exitCode,
    signal: result.signal,
    scheduledFor: new Date(job.scheduledFor).toISOString(),
    caughtUp: job.caughtUp,
    runDir: result.runDir ?? null,
    record: result.record ?? null,
    error: result.error ?? null,
    host,
  };
}
