/**
 * `kill-leader`: a signal (SIGKILL by default) to the postmaster and backends of whichever
 * member leads the cluster at T0 (target.cluster). A local leader is found through its data
 * directory and checked to be the server behind the endpoint before T0 (else refused, exit 2);
 * a leader on another host is reached through `command`, given its name, host and port.
 */
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, fillLeaderCommand, requireCluster } from '../drivers/postgres/fault-target.js';
import { RefusedBeforeT0 } from '../refusal.js';
import { commandSucceeded, formatCommandResult, runCommand } from '../shell.js';
import { signal as sendSignal } from '../system.js';
import { faultSchema } from './schema.js';
import type { FaultModule } from './types.js';

type KillLeaderFault = Extract<Fault, { type: 'kill-leader' }>;

export const killLeaderFault: FaultModule<KillLeaderFault, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> = {
  type: 'kill-leader',
  driver: 'postgres',
  schema: faultSchema('kill-leader'),
  validate: (_fault, env) => requireCluster('kill-leader', env),
  // A local leader's processes are checked against the endpoint at steady state; inject re-checks the pid.
  prepare: async (fault, target) => (fault.command || !target.cluster ? [] : (await target.cluster.leaderProcesses('kill-leader')).facts.map((f) => `kill-leader: ${f}`)),
  plan: (fault, { primary }) => ({
    action: `${fault.signal} the postmaster and backends of the member leading at T0 (${fault.command ? `through: ${fault.command}` : 'on this host, found through its data directory and checked against the endpoint'})${fault.rejoinWithin ? `; then check the old leader re-joins as a replica within ${fault.rejoinWithin}` : ''}`,
    touches: `the leader of the cluster behind ${primary}`,
    undo: 'none possible: the cluster elects another leader; Patroni re-joins the old one as a replica',
  }),
  async inject(fault, { ctx, markT0, target }) {
    const cluster = target.cluster;
    if (!cluster) throw new RefusedBeforeT0('kill-leader needs target.cluster');
    if (fault.command) {
      const leader = await cluster.resolveLeader();
      const command = fillLeaderCommand(fault.command, { leader: leader.name, host: leader.host, port: leader.port, signal: fault.signal.replace(/^SIG/, ''), dataDir: leader.dataDir });
      markT0(`${fault.signal} leader ${leader.name} (${leader.host}:${leader.port}) through: ${command}`);
      const result = await runCommand(command, { cwd: target.baseDir, timeoutMs: parseDuration(fault.timeout) ?? 60_000, signal: ctx.signal });
      const file = await ctx.attach('fault-command.txt', formatCommandResult(result));
      if (!commandSucceeded(result)) throw new Error(`kill-leader command failed (exit ${result.exitCode ?? result.signal}); output in ${file}`);
      return { description: `${fault.signal} sent to leader ${leader.name} through its command (output in ${file})` };
    }
    const { leader, pids, facts } = await cluster.leaderProcesses('kill-leader');
    for (const fact of facts) ctx.record(`checked before T0: ${fact}`);
    // No undo can revive a killed server: the cluster's failover is what is measured.
    markT0(`${fault.signal} leader ${leader.name} postmaster (pid ${pids[0]}, ${leader.host}:${leader.port})`);
    for (const pid of pids) sendSignal(pid, fault.signal);
    return { description: `${fault.signal} sent to the ${pids.length} processes of leader ${leader.name} (${leader.host}:${leader.port})` };
  },
};
