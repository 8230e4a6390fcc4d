/** What an RDS fault may act on (runners/faults/rds-*.ts). */
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';
import type { RdsTarget } from '../../../scenarios/schema-rds.js';
import type { Recovery } from '../../../scenarios/schema.js';
import type { RdsDeps } from './api.js';

export interface RdsFaultTarget {
  deps: RdsDeps;
  kind: 'instance' | 'cluster';
  id: string;
  /** The source as described at steady state. */
  source: DBInstance | DBCluster | undefined;
  log(message: string): void;
}

export interface RdsPlanEnv {
  kind: 'instance' | 'cluster';
  id: string;
  /** How the plan names the resource (live facts when `plan` could read them). */
  resource: string;
}

/** What an RDS fault's `validate` sees: the target, and the drill settings a fault depends on. */
export type RdsFaultSettings = RdsTarget & {
  drill: { recovery: Recovery | undefined; probeEndpoint: string };
};
