/**
 * `switchover`: a planned leader change through Patroni's REST API (POST /switchover), to
 * `to` or the replica Patroni picks. T0 is the moment the request is sent; the call blocks
 * until Patroni answers (seconds), and the new leader is what the evidence records after.
 */
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, requireCluster } from '../drivers/postgres/fault-target.js';
import { RefusedBeforeT0 } from '../refusal.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type SwitchoverFault = Extract<Fault, { type: 'switchover' }>;

export const switchoverFault: FaultModule<SwitchoverFault, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> = {
  type: 'switchover',
  driver: 'postgres',
  schema: faultSchema('switchover'),
  validate: (_fault, env) => requireCluster('switchover', env, { patroni: true }),
  plan: (fault, { primary }) => ({
    action: `Patroni switchover (POST /switchover) from the leader at T0 to ${fault.to ?? 'the replica Patroni picks'}${fault.rejoinWithin ? `; then check the old leader re-joins as a replica within ${fault.rejoinWithin}` : ''}`,
    touches: `the leader and the promoted replica of the cluster behind ${primary}`,
    undo: 'none automatic: the cluster keeps the new leader (a switchover back is a planned change of its own)',
  }),
  async inject(fault, { markT0, target }) {
    const cluster = target.cluster;
    if (!cluster) throw new RefusedBeforeT0('switchover needs target.cluster.patroni');
    let issued = false;
    const result = await cluster.switchover(fault.to, parseDuration(fault.timeout) ?? 60_000, (leader) => {
      issued = true;
      markT0(`POST /switchover: leader ${leader}${fault.to ? ` → ${fault.to}` : ''}`);
    });
    if (!issued) throw new Error('switchover was not sent');
    return { description: `Patroni switched over from ${result.from}${result.newLeader ? ` to ${result.newLeader}` : ''}: ${result.message}` };
  },
};
