/**
 * The faults of a PostgreSQL cluster whose leader moves (SPEC v1.1): `kill-leader`,
 * `pause-leader` and `switchover`. The leader is found at run time (target.cluster); the
 * modules are runners/faults/{kill-leader,pause-leader,switchover}.ts.
 */
import { z } from 'zod';
import { Timeout } from './primitives.js';

/** What a leader command template may name; anything else in braces is refused. */
export const LEADER_PLACEHOLDERS = ['leader', 'host', 'port', 'signal', 'dataDir'] as const;

const LeaderCommand = z
  .string()
  .min(1)
  .superRefine((template, ctx) => {
    for (const match of template.matchAll(/\{([^{}]*)\}/g)) {
      if (!(LEADER_PLACEHOLDERS as readonly string[]).includes(match[1]!))
        ctx.addIssue({ code: 'custom', message: `unknown placeholder {${match[1]}}: use ${LEADER_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` });
    }
  });

const RejoinWithin = Timeout.optional().describe('Also check that the old leader re-joined as a streaming replica within this long (Patroni: pg_rewind)');

export const KillLeaderFault = z.strictObject({
  type: z.literal('kill-leader'),
  signal: z.enum(['SIGKILL', 'SIGQUIT', 'SIGTERM']).default('SIGKILL'),
  command: LeaderCommand.optional().describe('For a leader on another host: e.g. `ssh {host} sudo pkill -{signal} -f "postgres -D {dataDir}"`; without it the leader must run here'),
  timeout: Timeout.default('60s').describe('How long the command may run'),
  rejoinWithin: RejoinWithin,
});

export const PauseLeaderFault = z
  .strictObject({
    type: z.literal('pause-leader'),
    duration: Timeout.describe('How long every process of the leader stays frozen (SIGSTOP … SIGCONT)'),
    command: LeaderCommand.optional().describe('For a leader on another host: the freeze, e.g. `ssh {host} sudo pkill -STOP -f "postgres -D {dataDir}"`'),
    resumeCommand: LeaderCommand.optional().describe('Its undo (registered before the freeze runs), e.g. `ssh {host} sudo pkill -CONT -f "postgres -D {dataDir}"`'),
    timeout: Timeout.default('60s'),
  })
  .refine((f) => (f.command === undefined) === (f.resumeCommand === undefined), {
    message: 'a remote pause needs both command and resumeCommand (the undo is registered before the freeze)',
    path: ['resumeCommand'],
  });

export const SwitchoverFault = z.strictObject({
  type: z.literal('switchover'),
  to: z.string().min(1).optional().describe('The member to promote; Patroni picks the healthiest replica when omitted'),
  timeout: Timeout.default('60s').describe('How long the REST call may block: Patroni answers once the new leader is in place'),
  rejoinWithin: RejoinWithin,
});

export const PatroniFaults = [KillLeaderFault, PauseLeaderFault, SwitchoverFault] as const;
