/**
 * `rds-reboot`: reboot the instance, or the Aurora cluster's writer, without failover; a
 * Multi-AZ DB cluster (non-Aurora) is rebooted as a whole with RebootDBCluster, the only
 * reboot RDS allows for it.
 */
import type { DBCluster } from '@aws-sdk/client-rds';
import type { RdsFault } from '../../scenarios/schema-rds.js';
import { call, isMultiAzCluster } from '../drivers/rds/api.js';
import type { RdsFaultTarget, RdsPlanEnv } from '../drivers/rds/fault-target.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type RdsRebootFault = Extract<RdsFault, { type: 'rds-reboot' }>;

export const rdsRebootFault: FaultModule<RdsRebootFault, RdsFaultTarget, RdsPlanEnv> = {
  type: 'rds-reboot',
  driver: 'rds',
  schema: faultSchema('rds-reboot'),
  iam: ['rds:RebootDBInstance', 'rds:RebootDBCluster'],
  plan: (_fault, { kind, id, resource }) => ({
    action: kind === 'instance' ? `RebootDBInstance ${id} without failover` : `RebootDBInstance (the writer of Aurora cluster ${id}) without failover, or RebootDBCluster ${id} for a Multi-AZ DB cluster`,
    touches: resource,
    undo: 'teardown waits until it is available',
  }),
  async inject(_fault, { ctx, markT0, target: { deps: d, kind, id, source, log } }) {
    if (kind === 'cluster' && isMultiAzCluster(source as DBCluster)) {
      ctx.undo.push({ type: 'rds.wait-available', params: { kind: 'cluster', id } }, `wait until DB cluster ${id} is available after the reboot`);
      markT0(`RebootDBCluster ${id}`);
      await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RebootDBClusterCommand({ DBClusterIdentifier: id }), o), log);
      return { description: `reboot of Multi-AZ DB cluster ${id} requested (RebootDBCluster)` };
    }
    const instance = kind === 'instance' ? id : (((source as DBCluster).DBClusterMembers ?? []).find((m) => m.IsClusterWriter)?.DBInstanceIdentifier ?? '');
    if (!instance) throw new Error(`DB cluster ${id} has no writer to reboot`);
    ctx.undo.push({ type: 'rds.wait-available', params: { kind: 'instance', id: instance } }, `wait until DB instance ${instance} is available after the reboot`);
    markT0(`RebootDBInstance ${instance}`);
    await call(d, ctx.signal, (o) => d.client.send(new d.sdk.RebootDBInstanceCommand({ DBInstanceIdentifier: instance, ForceFailover: false }), o), log);
    return { description: `reboot of DB instance ${instance} requested (no failover)` };
  },
};
