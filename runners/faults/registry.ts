/**
 * Every fault drillbook can inject, looked up by `spec.faults[].type`. Adding a fault is one
 * module in this directory and one entry here; drivers, plans and infra/ permissions read
 * the list.
 */
import type { KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import type { PostgresFaultSettings, PostgresFaultTarget, PostgresPlanEnv } from '../drivers/postgres/fault-target.js';
import type { RdsFaultSettings, RdsFaultTarget, RdsPlanEnv } from '../drivers/rds/fault-target.js';
import { commandFault } from './command.js';
import { deploymentScaleFault } from './deployment-scale.js';
import { killLeaderFault } from './kill-leader.js';
import { killPrimaryFault } from './kill-primary.js';
import { networkPartitionFault } from './network-partition.js';
import { nodeDrainFault } from './node-drain.js';
import { pauseLeaderFault } from './pause-leader.js';
import { pausePrimaryFault } from './pause-primary.js';
import { podDeleteFault } from './pod-delete.js';
import { rdsFailoverFault } from './rds-failover.js';
import { rdsRebootFault } from './rds-reboot.js';
import { rdsStopFault } from './rds-stop.js';
import { switchoverFault } from './switchover.js';
import type { DriverName, FaultModule } from './types.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- each module narrows its own fault type */
type PostgresFaultModule = FaultModule<any, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> & { driver: 'postgres' };
type RdsFaultModule = FaultModule<any, RdsFaultTarget, RdsPlanEnv, RdsFaultSettings> & { driver: 'rds'; iam: readonly string[] };
type AnyKubernetesFaultModule = KubernetesFaultModule<any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface FaultModulesByDriver {
  postgres: PostgresFaultModule;
  rds: RdsFaultModule;
  kubernetes: AnyKubernetesFaultModule;
}

export type AnyFaultModule = FaultModulesByDriver[DriverName];

export const faultModules: readonly AnyFaultModule[] = [
  commandFault as PostgresFaultModule,
  killPrimaryFault as PostgresFaultModule,
  pausePrimaryFault as PostgresFaultModule,
  killLeaderFault as PostgresFaultModule,
  pauseLeaderFault as PostgresFaultModule,
  switchoverFault as PostgresFaultModule,
  rdsFailoverFault as RdsFaultModule,
  rdsRebootFault as RdsFaultModule,
  rdsStopFault as RdsFaultModule,
  podDeleteFault,
  deploymentScaleFault,
  nodeDrainFault,
  networkPartitionFault,
];

export class UnknownFaultError extends Error {}

/** The fault module of a type; an unknown type is an error that lists the known ones. */
export function faultModule(type: string): AnyFaultModule {
  const found = faultModules.find((m) => m.type === type);
  if (!found) throw new UnknownFaultError(`unknown fault type ${type}: known faults are ${faultModules.map((m) => `${m.type} (${m.driver})`).join(', ')}`);
  return found;
}

/** The faults one driver injects, in registry order. */
export function faultsOf<D extends DriverName>(driver: D): FaultModulesByDriver[D][] {
  return faultModules.filter((m): m is FaultModulesByDriver[D] => m.driver === driver);
}

/** The module of `type` when it belongs to `driver`; undefined otherwise (validate reports it). */
export function driverFault<D extends DriverName>(driver: D, type: string): FaultModulesByDriver[D] | undefined {
  return faultsOf(driver).find((m) => m.type === type);
}
