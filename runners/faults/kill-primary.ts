/** `kill-primary`: a signal (SIGKILL by default) to the primary's postmaster and backends. */
import type { Fault } from '../../scenarios/schema.js';
import { type PostgresFaultSettings, type PostgresFaultTarget, type PostgresPlanEnv, primaryProcessFault } from '../drivers/postgres/fault-target.js';
import { signal as sendSignal } from '../system.js';
import type { FaultModule } from './types.js';

type KillPrimaryFault = Extract<Fault, { type: 'kill-primary' }>;

export const killPrimaryFault: FaultModule<KillPrimaryFault, PostgresFaultTarget, PostgresPlanEnv, PostgresFaultSettings> = {
  ...primaryProcessFault('kill-primary'),
  // The processes are checked against the primary endpoint at steady state; inject re-checks the pid.
  prepare: async (_fault, target) => {
    await target.checkedPrimaryProcesses('kill-primary');
    return [];
  },
  plan: (fault, { primary }) => ({
    action: `${fault.signal} the primary's postmaster and its backends`,
    touches: primary,
    undo: 'none possible: the standby takes over; the sandbox is destroyed at teardown',
  }),
  async inject(fault, { markT0, target }) {
    // Checked before T0: these processes are the server behind the primary endpoint (not a
    // replica left behind by an earlier failover); refused with exit 2 otherwise.
    const pids = await target.checkedPrimaryProcesses('kill-primary');
    // No undo can revive a killed server: recovery is the standby's job, and the
    // sandbox (when used) is destroyed by its own registered undos.
    markT0(`${fault.signal} primary postmaster (pid ${pids[0]})`);
    for (const pid of pids) sendSignal(pid, fault.signal);
    return { description: `${fault.signal} sent to the primary's ${pids.length} processes` };
  },
};
