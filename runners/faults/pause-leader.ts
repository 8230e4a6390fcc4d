/**
 * `pause-leader`: SIGSTOP every process of the member leading at T0 for `duration`, SIGCONT
 * after (the undo, journaled first). Local leaders are checked against the endpoint before T0
 * like kill-leader; a remote one is frozen by `command` and thawed by `resumeCommand`.
 */
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, fillLeaderCommand, requireCluster } from '../drivers/postgres/fault-target.js';
import { RefusedBeforeT0 } from '../refusal.js';
import { commandSucceeded, formatCommandResult, runCommand } from '../shell.js';
import { signal as sendSignal } from '../system.js';
import { faultSchema } from './schema.js';
import { endAfter } from './timed-end.js';
import type { FaultModule } from './types.js';

type PauseLeaderFault = Extract<Fault, { type: 'pause-leader' }>;

export const pauseLeaderFault: FaultModule<PauseLeaderFault, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> = {
  type: 'pause-leader',
  driver: 'postgres',
  schema: faultSchema('pause-leader'),
  validate: (_fault, env) => requireCluster('pause-leader', env),
  // A local leader's processes are checked against the endpoint at steady state; inject re-checks the pid.
  prepare: async (fault, target) => (fault.command || !target.cluster ? [] : (await target.cluster.leaderProcesses('pause-leader')).facts.map((f) => `pause-leader: ${f}`)),
  plan: (fault, { primary }) => ({
    action: `freeze every process of the member leading at T0 for ${fault.duration}${fault.command ? ` through: ${fault.command}` : ' (SIGSTOP, on this host, checked against the endpoint)'}`,
    touches: `the leader of the cluster behind ${primary}`,
    undo: fault.resumeCommand ? `run: ${fault.resumeCommand} (registered before the freeze)` : 'SIGCONT (registered before the pause)',
  }),
  async inject(fault, { ctx, markT0, target }) {
    const cluster = target.cluster;
    if (!cluster) throw new RefusedBeforeT0('pause-leader needs target.cluster');
    const durationMs = parseDuration(fault.duration) ?? 0;
    const timeoutMs = parseDuration(fault.timeout) ?? 60_000;
    let undoId: number;
    let resume: () => Promise<void>;
    let name: string;
    // Known only for a local leader: a resume command's thaw lands at some unknown point of its run.
    let released: number | undefined;
    if (fault.command && fault.resumeCommand) {
      const leader = await cluster.resolveLeader();
      name = leader.name;
      const values = { leader: leader.name, host: leader.host, port: leader.port, signal: 'STOP', dataDir: leader.dataDir };
      const thaw = fillLeaderCommand(fault.resumeCommand, { ...values, signal: 'CONT' });
      undoId = ctx.undo.push({ type: 'shell.command', params: { command: thaw, cwd: target.baseDir, timeoutMs } }, `resume leader ${leader.name}: ${thaw}`);
      const freeze = fillLeaderCommand(fault.command, values);
      markT0(`freeze leader ${leader.name} for ${fault.duration} through: ${freeze}`);
      const result = await runCommand(freeze, { cwd: target.baseDir, timeoutMs, signal: ctx.signal });
      await ctx.attach('fault-command.txt', formatCommandResult(result));
      if (!commandSucceeded(result)) throw new Error(`pause-leader command failed (exit ${result.exitCode ?? result.signal})`);
      resume = async () => {
        const done = await runCommand(thaw, { cwd: target.baseDir, timeoutMs, signal: ctx.signal });
        if (!commandSucceeded(done)) throw new Error(`resume command exited ${done.exitCode ?? done.signal}`);
      };
    } else {
      const { leader, pids, facts } = await cluster.leaderProcesses('pause-leader');
      name = leader.name;
      for (const fact of facts) ctx.record(`checked before T0: ${fact}`);
      undoId = ctx.undo.push({ type: 'postgres.resume-server', params: { pids } }, `SIGCONT the paused leader ${leader.name} (pids ${pids.join(', ')})`);
      markT0(`SIGSTOP leader ${leader.name} (${leader.host}:${leader.port}) for ${fault.duration}`);
      for (const pid of pids) sendSignal(pid, 'SIGSTOP');
      resume = async () => {
        released = ctx.clock.elapsed();
        for (const pid of [...pids].reverse()) sendSignal(pid, 'SIGCONT');
      };
    }
    const t0 = ctx.clock.elapsed();
    const ended = endAfter(durationMs, ctx.signal, () =>
      resume().then(
        () => {
          const end = ctx.record(`fault ended: leader ${name} resumed`, { pausedMs: Math.round(ctx.clock.elapsed() - t0) });
          ctx.undo.settle(undoId, `resumed after ${Math.round(end.mono - t0)} ms`);
        },
        (error: unknown) => {
          ctx.record(`resuming leader ${name} failed: ${error instanceof Error ? error.message : String(error)}; teardown retries it`);
        },
      ),
    );
    return { description: `leader ${name} frozen for ${fault.duration}`, ended, releasedMono: () => released };
  },
};
