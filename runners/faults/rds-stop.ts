/** `rds-stop`: stop the instance or cluster; the undo (journaled first) starts it again. */
import type { RdsFault } from '../../scenarios/schema-rds.js';
import { call } from '../drivers/rds/api.js';
import type { RdsFaultSettings, RdsFaultTarget, RdsPlanEnv } from '../drivers/rds/fault-target.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type RdsStopFault = Extract<RdsFault, { type: 'rds-stop' }>;

export const rdsStopFault: FaultModule<RdsStopFault, RdsFaultTarget, RdsPlanEnv, RdsFaultSettings> = {
  type: 'rds-stop',
  driver: 'rds',
  schema: faultSchema('rds-stop'),
  iam: ['rds:StopDBInstance', 'rds:StartDBInstance', 'rds:StopDBCluster', 'rds:StartDBCluster'],
  /**
   * A stopped DB instance or cluster does not come back by itself for 7 days (then RDS starts
   * it): with `recovery: none` and the probe on the stopped database, nothing recovers within
   * any drill, and the start-again undo only runs at teardown, after the measurement.
   */
  validate(_fault, { settings, report }) {
    const { recovery, probeEndpoint } = settings.drill;
    if ((recovery?.action ?? 'none') === 'none' && probeEndpoint === 'primary')
      report(['spec', 'recovery', 'action'], 'rds-stop with recovery: none cannot recover: a stopped database starts again by itself only after 7 days', {
        hint: `recovery: { action: command, command: "aws rds start-db-${settings.cluster ? `cluster --db-cluster-identifier ${settings.cluster}` : `instance --db-instance-identifier ${settings.instance ?? '<id>'}`}" }, or probe the endpoint the service fails over to (probes.endpoint: standby)`,
      });
  },
  plan: (_fault, { kind, id, resource }) => ({
    action: `Stop${kind === 'instance' ? 'DBInstance' : 'DBCluster'} ${id}`,
    touches: resource,
    undo: `Start${kind === 'instance' ? 'DBInstance' : 'DBCluster'} ${id}, then wait until available (registered before the stop)`,
  }),
  async inject(_fault, { ctx, markT0, target: { deps: d, kind, id, log } }) {
    ctx.undo.push({ type: 'rds.start', params: { kind, id } }, `start DB ${kind} ${id} again and wait until it is available`);
    markT0(`Stop${kind === 'instance' ? 'DBInstance' : 'DBCluster'} ${id}`);
    if (kind === 'instance') await call(d, ctx.signal, (o) => d.client.send(new d.sdk.StopDBInstanceCommand({ DBInstanceIdentifier: id }), o), log);
    else await call(d, ctx.signal, (o) => d.client.send(new d.sdk.StopDBClusterCommand({ DBClusterIdentifier: id }), o), log);
    return { description: `stop of DB ${kind} ${id} requested` };
  },
};
