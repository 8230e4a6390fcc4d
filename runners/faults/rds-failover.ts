/** `rds-failover`: a Multi-AZ instance failover (RebootDBInstance ForceFailover) or FailoverDBCluster (Aurora and Multi-AZ DB clusters alike). */
import type { DBCluster, DBInstance } from '@aws-sdk/client-rds';
import type { RdsFault } from '../../scenarios/schema-rds.js';
import { call } from '../drivers/rds/api.js';
import type { RdsFaultSettings, RdsFaultTarget, RdsPlanEnv } from '../drivers/rds/fault-target.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type RdsFailoverFault = Extract<RdsFault, { type: 'rds-failover' }>;

export const rdsFailoverFault: FaultModule<RdsFailoverFault, RdsFaultTarget, RdsPlanEnv, RdsFaultSettings> = {
  type: 'rds-failover',
  driver: 'rds',
  schema: faultSchema('rds-failover'),
  iam: ['rds:RebootDBInstance', 'rds:FailoverDBCluster'],
  validate(fault, { settings, report, at }) {
    if (fault.targetInstance && !settings.cluster) report(at('targetInstance'), 'targetInstance applies to cluster failover only');
  },
  plan: (fault, { kind, id, resource }) =>
    kind === 'instance'
      ? { action: `RebootDBInstance ${id} with ForceFailover: true (Multi-AZ failover)`, touches: resource, undo: 'none possible: the standby becomes the primary; teardown waits until the instance is available' }
      : { action: `FailoverDBCluster ${id}${fault.targetInstance ? ` to ${fault.targetInstance}` : ''}`, touches: resource, undo: 'none possible: a reader becomes the writer; teardown waits until the cluster is available' },
  preconditions(_fault, { kind, id, source }) {
    if (kind === 'instance') {
      const instance = source as DBInstance;
      if (!instance.MultiAZ) throw new Error(`DB instance ${id} is not Multi-AZ: a forced failover needs a standby (nothing was disrupted)`);
      return [`Multi-AZ: primary in ${instance.AvailabilityZone}, standby in ${instance.SecondaryAvailabilityZone ?? 'another AZ'}`];
    }
    const members = (source as DBCluster).DBClusterMembers ?? [];
    if (members.length < 2) throw new Error(`DB cluster ${id} has fewer than two members: there is nothing to fail over to (nothing was disrupted)`);
    return [`cluster members: ${members.map((m) => m.DBInstanceIdentifier).join(', ')}`];
  },
  async inject(fault, { ctx, markT0, target: { deps: d, kind, id, log } }) {
    ctx.undo.push({ type: 'rds.wait-available', params: { kind, id } }, `wait until DB ${kind} ${id} is available after the failover`);
    if (kind === 'instance') {
      markT0(`RebootDBInstance ${id} ForceFailover=true`);
      await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RebootDBInstanceCommand({ DBInstanceIdentifier: id, ForceFailover: true }), o), log);
      return { description: `Multi-AZ failover of DB instance ${id} requested (RebootDBInstance ForceFailover)` };
    }
    markT0(`FailoverDBCluster ${id}${fault.targetInstance ? ` → ${fault.targetInstance}` : ''}`);
    await call(d, ctx.signal, (o) => d.client.send(new d.sdk.FailoverDBClusterCommand({ DBClusterIdentifier: id, ...(fault.targetInstance ? { TargetDBInstanceIdentifier: fault.targetInstance } : {}) }), o), log);
    return { description: `failover of DB cluster ${id} requested (FailoverDBCluster${fault.targetInstance ? ` to ${fault.targetInstance}` : ''})` };
  },
};
