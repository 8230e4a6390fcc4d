/** `pause-primary`: SIGSTOP every process of the primary for `duration`, SIGCONT after (the undo). */
import fs from 'node:fs';
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, primaryProcessFault } from '../drivers/postgres/fault-target.js';
import { signal as sendSignal } from '../system.js';
import { endAfter } from './timed-end.js';
import type { FaultModule } from './types.js';

type PausePrimaryFault = Extract<Fault, { type: 'pause-primary' }>;

export const pausePrimaryFault: FaultModule<PausePrimaryFault, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> = {
  ...primaryProcessFault('pause-primary'),
  // The processes are checked against the primary endpoint at steady state; inject re-checks the pid.
  prepare: async (_fault, target) => {
    await target.checkedPrimaryProcesses('pause-primary');
    return [];
  },
  plan: (fault, { primary }) => ({ action: `freeze every process of the primary (SIGSTOP) for ${fault.duration}`, touches: primary, undo: 'SIGCONT (registered before the pause)' }),
  async inject(fault, { ctx, markT0, target }) {
    const pids = await target.checkedPrimaryProcesses('pause-primary');
    const undoId = ctx.undo.push({ type: 'postgres.resume-server', params: { pids } }, `SIGCONT the paused primary (pids ${pids.join(', ')})`);
    const durationMs = parseDuration(fault.duration) ?? 0;
    const t0 = markT0(`SIGSTOP primary for ${fault.duration}`);
    for (const pid of pids) sendSignal(pid, 'SIGSTOP');
    let released: number | undefined;
    const ended = endAfter(durationMs, ctx.signal, () => {
      released = ctx.clock.elapsed();
      for (const pid of [...pids].reverse()) sendSignal(pid, 'SIGCONT');
      const end = ctx.record('fault ended: primary resumed (SIGCONT)', { pausedMs: ctx.clock.elapsed() - t0.mono });
      ctx.undo.settle(undoId, `resumed after ${Math.round(end.mono - t0.mono)} ms`);
    });
    // The fault's own observation of its effect (SPEC v1.1 "The outage must be seen"): a pause
    // shorter than the probe timeout shows the client only slow answers, never a failure.
    const stopped = await stoppedProcesses(pids);
    return {
      description: `SIGSTOP sent to the primary's ${pids.length} processes for ${fault.duration}`,
      ended,
      releasedMono: () => released,
      ...(stopped > 0 ? { observed: `${stopped} of the primary's ${pids.length} processes seen stopped (state T in /proc)` } : {}),
    };
  },
};

/** How many of `pids` the kernel shows stopped (state T), waiting up to 100 ms for delivery. */
async function stoppedProcesses(pids: number[]): Promise<number> {
  const stateOf = (pid: number): string | undefined => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return undefined; // no /proc (not Linux) or the process is gone
    }
  };
  for (let i = 0; i < 10; i++) {
    const stopped = pids.filter((pid) => stateOf(pid) === 'T').length;
    if (stopped === pids.length) return stopped;
    await new Promise((r) => setTimeout(r, 10));
  }
  return pids.filter((pid) => stateOf(pid) === 'T').length;
}
