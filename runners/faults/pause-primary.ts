/** `pause-primary`: SIGSTOP every process of the primary for `duration`, SIGCONT after (the undo). */
import { parseDuration } from '../../scenarios/duration.js';
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, primaryProcessFault } from '../drivers/postgres/fault-target.js';
import { signal as sendSignal } from '../system.js';
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
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const pid of [...pids].reverse()) sendSignal(pid, 'SIGCONT');
        const end = ctx.record('fault ended: primary resumed (SIGCONT)', { pausedMs: ctx.clock.elapsed() - t0.mono });
        ctx.undo.settle(undoId, `resumed after ${Math.round(end.mono - t0.mono)} ms`);
        resolve();
      }, durationMs);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    return { description: `SIGSTOP sent to the primary's ${pids.length} processes for ${fault.duration}`, ended };
  },
};
