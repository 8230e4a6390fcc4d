/**
 * The measured drills (failover, parallel restore) share one shape:
 *   prepare → steady state confirmed → disrupt (T0) → measure recovery → verify data.
 * Teardown is the engine's: it unwinds the undo stack whatever happened here.
 */
import type { CheckResult, ExerciseRecord, ProbeAttempt, RestoredCopyRecord, RpoMeasurement, RtoMeasurement, TopologyRecord, WalkthroughRecord } from '../reports/run-record.js';
import { parseDuration } from '../scenarios/duration.js';
import type { ScenarioSpec } from '../scenarios/schema.js';
import { type Instant, sleep } from './clock.js';
import type { RunContext } from './context.js';
import type { Driver, DriverSession, EndpointName } from './drivers/types.js';
import { measureRpo, measureRto } from './measure.js';
import { HeartbeatWriter } from './probes/heartbeat.js';
import { type ProbeLoopResult, runProbeLoop } from './probes/probe-loop.js';

export interface DrillResult {
  t0: (Instant & { action: string }) | null;
  rto: RtoMeasurement | null;
  rpo: RpoMeasurement | null;
  checks: CheckResult[];
  faults: { type: string; description: string }[];
  strengths: string[];
  improvements: string[];
  /** A step that failed without aborting the drill (recovery never came, checks errored). */
  failure: string | null;
  endpoints: Record<string, string>;
  targetDescription: string;
  integrity: { backup: string | null; notes: string[]; restorePoint: string | null };
  restoredCopy: RestoredCopyRecord | null;
  /** Tabletop: the facilitated session. */
  exercise: ExerciseRecord | null;
  /** Simulation: the runbook walked through. */
  walkthrough: WalkthroughRecord | null;
  /** Attendance taken at the start of an exercise (participant name: present). */
  attendance: Record<string, boolean> | null;
  /** Cluster targets: the leader before and after, and the changes seen (session.topology()). */
  topology?: TopologyRecord | null;
}

const ms = (text: string) => parseDuration(text) ?? 0;

export class SteadyStateError extends Error {}

export function emptyDrillResult(): DrillResult {
  return {
    t0: null,
    rto: null,
    rpo: null,
    checks: [],
    faults: [],
    strengths: [],
    improvements: [],
    failure: null,
    endpoints: {},
    targetDescription: '',
    integrity: { backup: null, notes: [], restorePoint: null },
    restoredCopy: null,
    exercise: null,
    walkthrough: null,
    attendance: null,
  };
}

/** Runs the drill, filling `result` as it goes so an abort still leaves what was measured. */
export async function runMeasuredDrill(ctx: RunContext, driver: Driver, result: DrillResult): Promise<void> {
  const spec = ctx.loaded.scenario.spec;
  const probes = spec.probes;
  const interval = ms(probes.interval);

  ctx.enterPhase('prepare');
  const session = await driver.open(ctx);
  const probeNoun = session.probeNoun ?? 'write';
  try {
    result.targetDescription = session.description;
    result.endpoints = { ...session.endpoints() };
    ctx.record('target prepared', { target: session.description });

    ctx.enterPhase('steady-state');
    const steady = await probeLoop(ctx, session, 'primary', 'steady-state', { maxWaitMs: 30_000 });
    if (!steady.recovered) throw new SteadyStateError('the primary never answered the write probe: steady state not reached, nothing was disrupted');
    for (const fact of await session.confirmSteadyState(ctx)) ctx.record(`steady state: ${fact}`);
    // A stateless target (Kubernetes workloads) has no heartbeat sink: no heartbeat, no RPO.
    const sink = session.heartbeatSink ? await session.heartbeatSink('primary') : null;
    const heartbeat = new HeartbeatWriter(sink ?? { write: async () => undefined }, ctx.clock, ms(probes.heartbeat.interval));
    if (sink) {
      heartbeat.start(ctx.signal);
      await sleep(ms(probes.heartbeat.warmup), ctx.signal).finally(() => heartbeat.stop());
    }
    ctx.record('steady state confirmed', sink ? { heartbeatsAcknowledged: heartbeat.acked.length } : { heartbeat: 'none (stateless target: no RPO measured)' });

    ctx.enterPhase('disrupt');
    let t0: (Instant & { action: string }) | null = null;
    const markT0 = (action: string): Instant => {
      if (t0) return t0;
      const instant = ctx.clock.now();
      t0 = { ...instant, action };
      result.t0 = t0;
      ctx.markT0(t0);
      ctx.record(`T0: ${action}`, { t0: true });
      return instant;
    };
    const recoveryEndpoint = await disrupt(ctx, session, spec, markT0, result);
    if (!t0) throw new Error('no disruptive action was issued');
    const t0Mono = (t0 as Instant).mono;

    ctx.enterPhase('recover');
    const phases: { name: string; mono: number }[] = [{ name: 'T0: disruptive action issued', mono: t0Mono }];
    let recoveryAction: Promise<void> = Promise.resolve();
    if (spec.type === 'failover' && spec.recovery && spec.recovery.action !== 'none') {
      const detection = await probeLoop(ctx, session, 'primary', 'detection', { stopOnFailure: true, maxWaitMs: ms(probes.maxWait) });
      const firstFailure = detection.attempts.find((a) => !a.ok);
      if (!firstFailure) throw new Error(`the primary never failed after the fault within ${probes.maxWait}: the fault did not take effect`);
      phases.push({ name: 'outage detected (first failed probe of the primary)', mono: firstFailure.endMono });
      ctx.record('outage detected', { probe: 'primary', error: firstFailure.error });
      await sleep(ms(spec.recovery.after), ctx.signal);
      const issued = ctx.record(`recovery action issued: ${spec.recovery.action}`);
      phases.push({ name: `recovery action issued (${spec.recovery.action})`, mono: issued.mono });
      recoveryAction = session.recover(spec.recovery, ctx).then(
        (text) => void ctx.record(`recovery action completed: ${text}`),
        (error: unknown) => {
          result.failure = `recovery action failed: ${error instanceof Error ? error.message : String(error)}`;
          ctx.record(result.failure);
        },
      );
    }
    // A restored copy is confirmed by its data checks, which start at its first success;
    // the `stableFor` confirming writes follow them (below) instead of delaying them.
    const restoring = spec.type === 'parallel-restore';
    const recovery = await probeLoop(ctx, session, recoveryEndpoint, 'recovery', { maxWaitMs: ms(probes.maxWait), ...(restoring ? { stableFor: 0 } : {}) });
    await recoveryAction;
    if (!recovery.recovered) {
      result.failure ??= `${recoveryEndpoint} did not accept the write probe within ${probes.maxWait} of T0`;
      ctx.record(result.failure);
      result.improvements.push(`Recovery did not complete within ${probes.maxWait}: the runbook or automation needs work before the RTO can be met.`);
      return;
    }
    phases.push({
      name: restoring ? `endpoint ready (${recoveryEndpoint} answered a ${probeNoun})` : `endpoint ready (${recoveryEndpoint} answered ${probes.stableFor + 1} consecutive ${probeNoun}s)`,
      mono: recovery.recovered.endMono,
    });
    ctx.record('endpoint ready', { endpoint: recoveryEndpoint, latencyMs: Math.round(recovery.recovered.latencyMs) });

    ctx.enterPhase('verify');
    const pointInTime = restoring && spec.restore && spec.restore.restoreTo !== 'latest';
    // A driver with no heartbeat writer on production (RDS without a production endpoint)
    // measures the RPO from the copy's restore point instead.
    const restorePointRpo = restoring ? (session.restorePointRpo?.(t0) ?? null) : null;
    // The heartbeat read and the data checks are independent reads: run them side by side.
    const [present, checks] = await Promise.all([
      pointInTime || restorePointRpo || !sink || !session.presentHeartbeats ? Promise.resolve(undefined) : session.presentHeartbeats(recoveryEndpoint),
      session.runChecks(spec.checks, recoveryEndpoint, ctx),
    ]);
    if (restorePointRpo) {
      result.rpo = restorePointRpo;
      ctx.record('RPO from the restore point', { seconds: restorePointRpo.seconds, method: restorePointRpo.method });
    } else if (present === undefined && !sink) {
      ctx.record('RPO not measured: the target writes no heartbeat (stateless workload)');
    } else if (present === undefined) {
      // Data after the requested time is left out on purpose: there is no loss to measure.
      ctx.record(`RPO not measured: the restore targets ${spec.restore!.restoreTo} on purpose`);
    } else {
      result.rpo = measureRpo({
        t0Mono,
        acked: heartbeat.acked,
        present,
        intervalMs: ms(probes.heartbeat.interval),
        method: `heartbeat rows (every ${probes.heartbeat.interval}, acknowledged before T0) present on the ${recoveryEndpoint} after recovery`,
      });
      ctx.record('heartbeats read', { acknowledged: result.rpo.acknowledged, lost: result.rpo.lostWrites });
    }
    result.checks = checks;
    const checksPassed = result.checks.every((c) => c.passed);
    const checked = ctx.record(checksPassed ? 'data checks passed' : 'data checks failed', { passed: result.checks.filter((c) => c.passed).length, total: result.checks.length });
    if (checksPassed && result.checks.length > 0) phases.push({ name: 'data checks passed', mono: checked.mono });

    if (restoring && probes.stableFor > 0) {
      const confirmation = await probeLoop(ctx, session, recoveryEndpoint, 'confirmation', {
        maxWaitMs: probes.stableFor * (interval + ms(probes.timeout)),
        stableFor: probes.stableFor - 1,
      });
      if (confirmation.attempts.some((a) => !a.ok)) result.failure ??= `the restored copy failed a write after its checks: it did not stay up`;
      else ctx.record('restored copy stable', { confirmingWrites: confirmation.attempts.length });
    }

    // Parallel restore: the copy counts as recovered once it both answers and holds good data.
    const restoreNeedsChecks = restoring;
    result.rto = measureRto({
      t0Mono,
      recovered: recovery.recovered,
      lastFailureBefore: recovery.lastFailureBefore,
      completedMono: restoreNeedsChecks && checksPassed ? checked.mono : undefined,
      intervalMs: interval,
      stableFor: probes.stableFor,
      method: restoreNeedsChecks
        ? `restore request → restored copy answered a ${probeNoun} probe (every ${probes.interval}) and passed ${result.checks.length} data checks; ${probes.stableFor} more confirmed it afterwards`
        : `fault → first of ${probes.stableFor + 1} consecutive successful ${probeNoun}s on the ${recoveryEndpoint} (fresh connection every ${probes.interval})`,
      wallOf: (mono) => ctx.clock.wallOf(mono),
      phases,
    });
    if (restoreNeedsChecks && !checksPassed) result.failure ??= 'the restored copy failed its data checks: it is not a usable recovery';
    const integrity = session.integrityNotes();
    result.integrity = { ...integrity, restorePoint: result.restoredCopy?.restorePoint ?? null };
  } finally {
    await session.close();
    result.topology = session.topology?.() ?? null;
  }
}

async function disrupt(
  ctx: RunContext,
  session: DriverSession,
  spec: ScenarioSpec,
  markT0: (action: string) => Instant,
  result: DrillResult,
): Promise<EndpointName> {
  if (spec.type === 'parallel-restore') {
    const copy = await session.requestRestore(spec.restore ?? { restoreTo: 'latest' }, ctx, markT0);
    result.restoredCopy = copy.record;
    result.endpoints = { ...session.endpoints() };
    return copy.endpoint;
  }
  for (const fault of spec.faults) {
    const effect = await session.injectFault(fault, ctx, markT0);
    result.faults.push({ type: fault.type, description: effect.description });
    ctx.record(`fault injected: ${effect.description}`);
  }
  return spec.probes.endpoint ?? (spec.recovery?.action === 'promote' ? 'standby' : 'primary');
}

function probeLoop(
  ctx: RunContext,
  session: DriverSession,
  endpoint: EndpointName,
  name: string,
  options: { maxWaitMs: number; stopOnFailure?: boolean; stableFor?: number },
): Promise<ProbeLoopResult> {
  const probes = ctx.loaded.scenario.spec.probes;
  return runProbeLoop({
    name: `${name}:${endpoint}`,
    probe: session.writeProbe(endpoint),
    clock: ctx.clock,
    intervalMs: ms(probes.interval),
    timeoutMs: ms(probes.timeout),
    stableFor: options.stopOnFailure ? Number.MAX_SAFE_INTEGER : (options.stableFor ?? probes.stableFor),
    maxWaitMs: options.maxWaitMs,
    signal: ctx.signal,
    onAttempt: (attempt: ProbeAttempt) => ctx.probeAttempt(attempt),
    stopWhen: options.stopOnFailure ? (attempt) => !attempt.ok : undefined,
  });
}
