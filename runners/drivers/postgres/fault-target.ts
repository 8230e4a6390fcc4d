/** What a postgres fault may act on (runners/faults/*.ts with driver 'postgres'). */
import type { PostgresTarget } from '../../../scenarios/schema.js';
import { faultSchema } from '../../faults/schema.js';
import type { FaultValidateEnv } from '../../faults/types.js';

export interface PostgresFaultTarget {
  /** The primary's postmaster and its backends (throws when none runs). */
  primaryProcesses(): number[];
  /** Commands run here (the scenario's directory). */
  baseDir: string;
}

export interface PostgresPlanEnv {
  /** How the plan names the primary. */
  primary: string;
}

export type PostgresFaultSettings = PostgresTarget;

/** Process faults find the postmaster through the data directory on this host. */
export function requireDataDir(type: string, env: FaultValidateEnv<PostgresFaultSettings>): void {
  if (!env.settings.sandbox && !env.settings.primary?.dataDir)
    env.report(env.at('type'), `${type} needs target.primary.dataDir on this host to find the postmaster`, { hint: 'or use type: command with your own fault command' });
}

/** What every process fault of the primary shares: its type, driver, schema and the data-directory check. */
export function primaryProcessFault<T extends string>(type: T) {
  return {
    type,
    driver: 'postgres' as const,
    schema: faultSchema(type),
    validate: (_fault: unknown, env: FaultValidateEnv<PostgresFaultSettings>) => requireDataDir(type, env),
  };
}
