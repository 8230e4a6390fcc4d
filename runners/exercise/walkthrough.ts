/**
 * The walkthrough (simulation) runner: the runbook's steps in order. A command step runs
 * through the shell with its timeout (its undo, when declared, is journaled first) and its
 * exit code and output go into the bundle; a manual step is confirmed by the operator with
 * a note. The end-to-end elapsed time is an *estimate* of recovery time from a walkthrough,
 * compared with the RTO, and never reported as a measured RTO.
 */
import path from 'node:path';
import type { WalkthroughRecord, WalkthroughStepRecord } from '../../reports/run-record.js';
import { parseDuration } from '../../scenarios/duration.js';
import type { RunContext } from '../context.js';
import type { DrillResult } from '../measured-drill.js';
import { formatCommandResult, runCommand } from '../shell.js';

const ms = (text: string) => parseDuration(text) ?? 0;

export async function runWalkthrough(ctx: RunContext, result: DrillResult, rtoTargetSeconds: number | null): Promise<void> {
  const spec = ctx.loaded.scenario.spec;
  const facilitator = ctx.facilitator;
  const cwd = path.dirname(ctx.loaded.file);
  if (facilitator) {
    ctx.enterPhase('prepare');
    result.attendance = await facilitator.attendance(spec.participants.map((p) => ({ name: p.name, role: p.role })));
    ctx.record(`attendance: ${Object.values(result.attendance).filter(Boolean).length} of ${spec.participants.length} present`);
  }
  ctx.enterPhase('exercise');
  const steps: WalkthroughStepRecord[] = spec.steps.map((s) => ({
    id: s.id,
    title: s.title,
    owner: s.owner,
    kind: s.command ? 'command' : 'manual',
    instruction: s.command ?? s.manual ?? '',
    expectedSeconds: ms(s.expected) / 1000,
    elapsedSeconds: null,
    status: 'not-reached',
    exitCode: null,
    output: null,
    note: null,
    startedAt: null,
  }));
  const walkthrough: WalkthroughRecord = { steps, elapsedSeconds: 0, expectedSeconds: steps.reduce((sum, s) => sum + s.expectedSeconds, 0), estimate: { label: '', seconds: 0, rtoTargetSeconds, withinRto: null } };
  result.walkthrough = walkthrough;

  let stopped = false;
  for (const [index, step] of spec.steps.entries()) {
    if (stopped) break;
    const record = steps[index]!;
    ctx.signal.throwIfAborted();
    const started = ctx.record(`step ${index + 1}/${spec.steps.length}: ${step.title} (${step.owner}, expected ${step.expected})`, { step: step.id });
    record.startedAt = started.at;
    facilitator?.say(`\nStep ${index + 1}/${spec.steps.length}: ${step.title}  [owner: ${step.owner}, expected ${step.expected}]`);
    if (step.command) {
      if (step.undo) {
        ctx.undo.push({ type: 'shell.command', params: { command: step.undo, cwd, timeoutMs: ms(step.timeout) } }, `undo of step ${step.id}: ${step.undo}`);
      }
      const run = await runCommand(step.command, { cwd, timeoutMs: ms(step.timeout), signal: ctx.signal, clock: ctx.clock });
      ctx.signal.throwIfAborted();
      record.exitCode = run.exitCode;
      record.elapsedSeconds = Math.round(run.durationMs) / 1000;
      record.output = await ctx.attach(`step-${String(index + 1).padStart(2, '0')}-${step.id}.log`, formatCommandResult(run));
      record.status = run.exitCode === 0 ? 'done' : 'failed';
      facilitator?.say(`  ${record.status === 'done' ? 'done' : 'FAILED'} (exit ${run.exitCode ?? run.signal}) in ${record.elapsedSeconds.toFixed(1)} s`);
    } else {
      if (!facilitator) throw new Error(`step ${step.id} is a manual action: run the walkthrough at a terminal or with --answers FILE`);
      const answer = await facilitator.manualStep(step);
      const took = answer.took ? ms(answer.took) / 1000 : null;
      record.elapsedSeconds = took ?? (facilitator.mode === 'live' ? Math.round((ctx.clock.now().mono - started.mono)) / 1000 : null);
      record.status = answer.status;
      record.note = answer.note ?? null;
    }
    ctx.record(`step ${step.id} ${record.status}${record.elapsedSeconds !== null ? ` in ${record.elapsedSeconds} s` : ''} (expected ${record.expectedSeconds} s)`, { step: step.id });
    if (record.status === 'failed' && !step.continueOnFailure) stopped = true;
  }

  const timed = steps.filter((s) => s.elapsedSeconds !== null).length;
  walkthrough.elapsedSeconds = round(steps.reduce((sum, s) => sum + (s.elapsedSeconds ?? 0), 0));
  const estimateSeconds = round(steps.reduce((sum, s) => sum + (s.elapsedSeconds ?? s.expectedSeconds), 0));
  walkthrough.estimate = {
    label:
      timed === steps.length
        ? 'estimate from a walkthrough: the sum of every step as performed (not a measured RTO)'
        : `estimate from a walkthrough: ${timed} of ${steps.length} steps as performed, the rest at their expected duration (not a measured RTO)`,
    seconds: estimateSeconds,
    rtoTargetSeconds,
    withinRto: rtoTargetSeconds === null ? null : estimateSeconds <= rtoTargetSeconds,
  };
  const failed = steps.filter((s) => s.status === 'failed');
  if (failed.length > 0) result.failure = `runbook step${failed.length === 1 ? '' : 's'} failed: ${failed.map((s) => s.id).join(', ')}`;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
