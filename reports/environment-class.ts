/**
 * The environment class of a run record (SPEC v1.1 "Environments"): the class run.json
 * states, or for records made before it carried one, the class its name has by the default
 * rules. Kept out of run-record.ts so the contract module stays free of runtime imports.
 */
import { type EnvironmentClass, environmentClassOf } from '../scenarios/environments.js';
import type { RunRecord } from './run-record.js';

export function recordEnvironmentClass(record: Pick<RunRecord, 'environment' | 'environmentClass'>): EnvironmentClass {
  return record.environmentClass ?? environmentClassOf(undefined, record.environment);
}
