/**
 * The measured drills (failover, parallel restore) share one shape:
 *   prepare → steady state confirmed → disrupt (T0) → measure recovery → verify data.
 * Teardown is the engine's: it unwinds the undo stack whatever happened here.
 */
import type { CheckResult, ExerciseRecord, IdentityChange, ProbeAttempt, RestoredCopyRecord, RpoMeasurement, RtoMeasurement, ServerFacts, TopologyRecord, WalkthroughRecord } from '../reports/run-record.js';
import { parseDuration } from '../scenarios/duration.js';
import type { ScenarioSpec } from '../scenarios/schema.js';
import { type Instant, sleep } from './clock.js';
import type { RunContext } from './context.js';
import type { Driver, DriverSession, EndpointName } from './drivers/types.js';
import { describeServer, disruptionObserved, findRecovery, identityChanges, measureRpo, measureRto, observedOutage, type RecoveryRule, sameServer } from './measure.js';
import { HeartbeatWriter } from './probes/heartbeat.js';
import { ProbeStream, type ProbeLoopResult, runProbeLoop } from './probes/probe-loop.js';

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
  /** Failover: whether the fault was seen to have an effect (SPEC v1.1 "The outage must be seen"). */
  disruption?: { observed: boolean; evidence: string } | null;
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
  const timeout = ms(probes.timeout);
  const rule = stableRule(probes);
  const restoring = spec.type === 'parallel-restore';

  ctx.enterPhase('prepare');
  const session = await driver.open(ctx);
  const probeNoun = session.probeNoun ?? 'write';
  const streams: ProbeStream[] = [];
  let heartbeat: HeartbeatWriter | undefined;
  try {
    result.targetDescription = session.description;
    result.endpoints = { ...session.endpoints() };
    ctx.record('target prepared', { target: session.description });

    ctx.enterPhase('steady-state');
    // One stream on the primary from steady state on, without a gap through the fault and
    // while a fault command still runs (SPEC v1.1 "Probes overlap"): it sees the outage begin.
    const observer = openStream(ctx, session, 'primary', 'observe', streams);
    const steady = await observer.waitFor((s) => findRecovery(s, { fromMono: -Infinity, stableFor: probes.stableFor }), ctx.clock.elapsed() + 30_000);
    if (!steady) throw new SteadyStateError('the primary never answered the write probe: steady state not reached, nothing was disrupted');
    for (const fact of await session.confirmSteadyState(ctx)) ctx.record(`steady state: ${fact}`);
    // A stateless target (Kubernetes workloads) has no heartbeat sink: no heartbeat, no RPO.
    const sink = session.heartbeatSink ? await session.heartbeatSink('primary') : null;
    if (sink) {
      heartbeat = new HeartbeatWriter(sink, ctx.clock, ms(probes.heartbeat.interval));
      heartbeat.start(ctx.signal);
      await sleep(ms(probes.heartbeat.warmup), ctx.signal);
    }
    ctx.record('steady state confirmed', heartbeat ? { heartbeatsAcknowledged: heartbeat.acked.length } : { heartbeat: 'none (stateless target: no RPO measured)' });

    ctx.enterPhase('disrupt');
    let t0: (Instant & { action: string }) | null = null;
    const markT0 = (action: string): Instant => {
      if (t0) return t0;
      const instant = ctx.clock.now();
      t0 = { ...instant, action };
      result.t0 = t0;
      // Parallel restore cuts at T0; a failover's heartbeats go on until the old primary stops acknowledging.
      if (restoring) heartbeat?.requestStop();
      else heartbeat?.untilUnacknowledged(instant.mono, timeout);
      ctx.markT0(t0);
      ctx.record(`T0: ${action}`, { t0: true }, instant);
      return instant;
    };
    const { endpoint: recoveryEndpoint, effects, releases = [] } = await disrupt(ctx, session, spec, markT0, result);
    if (!t0) throw new Error('no disruptive action was issued');
    const t0Mono = (t0 as Instant).mono;
    watchOutage(ctx, observer, t0Mono);
    if (restoring) await observer.stop(); // production is not disrupted: nothing to observe

    ctx.enterPhase('recover');
    const phases: { name: string; mono: number }[] = [{ name: 'T0: disruptive action issued', mono: t0Mono }];
    let recoveryAction: Promise<void> = Promise.resolve();
    if (spec.type === 'failover' && spec.recovery && spec.recovery.action !== 'none') {
      // A fault that reported its own effect shows in the probes within a timeout (if at all);
      // otherwise the outage may take until maxWait to reach the client.
      const detectBy = effects.length > 0 ? ctx.clock.elapsed() + timeout + 2 * interval : t0Mono + ms(probes.maxWait);
      const firstFailure = await observer.waitFor((s) => s.find((a) => !a.ok && a.endMono >= t0Mono), detectBy);
      if (!firstFailure) {
        result.disruption = disruptionObserved(observer.settled(), t0Mono, effects);
        if (!result.disruption.observed) {
          ctx.record('the fault had no observable effect', { evidence: result.disruption.evidence });
          return;
        }
      } else {
        phases.push({ name: 'outage detected (first failed probe of the primary)', mono: firstFailure.endMono });
        // One moment, one stamp: the timeline reuses the instant the phases table shows.
        ctx.record('outage detected', { probe: 'primary', error: firstFailure.error }, { at: ctx.clock.wallOf(firstFailure.endMono), mono: firstFailure.endMono });
      }
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
    const recoveryRule: RecoveryRule = restoring ? { fromMono: t0Mono, stableFor: 0 } : { ...rule, fromMono: t0Mono };
    const recoveryStream = recoveryEndpoint === 'primary' && !restoring ? observer : openStream(ctx, session, recoveryEndpoint, 'recovery', streams);
    let recovery = await recoveryStream.waitFor((s) => findRecovery(s, recoveryRule), t0Mono + ms(probes.maxWait));
    await recoveryAction;
    if (!recovery) {
      result.failure ??= `${recoveryEndpoint} did not accept the write probe within ${probes.maxWait} of T0`;
      ctx.record(result.failure);
      result.improvements.push(`Recovery did not complete within ${probes.maxWait}: the runbook or automation needs work before the RTO can be met.`);
      return;
    }
    // The old primary has had its chance to acknowledge: the heartbeat log is complete.
    await heartbeat?.stop(timeout);
    if (heartbeat?.endedBy) ctx.record('heartbeats ended: the disrupted endpoint stopped acknowledging', { reason: heartbeat.endedBy.reason, acknowledgedAfterT0: heartbeat.acked.filter((h) => h.ackMono > t0Mono).length });
    if (observer !== recoveryStream && !restoring) await observer.stop();
    ctx.record('endpoint ready', { endpoint: recoveryEndpoint, latencyMs: Math.round(recovery.recovered.latencyMs) }, { at: ctx.clock.wallOf(recovery.recovered.endMono), mono: recovery.recovered.endMono });

    ctx.enterPhase('verify');
    const pointInTime = restoring && spec.restore && spec.restore.restoreTo !== 'latest';
    // A driver with no heartbeat writer on production (RDS without a production endpoint)
    // measures the RPO from the copy's restore point instead.
    const restorePointRpo = restoring ? (session.restorePointRpo?.(t0) ?? null) : null;
    let checked!: Instant;
    let checksPassed = false;
    // The recovery must hold through the checks: the probes go on, and a failure or another
    // server answering re-opens the outage; the measurement then continues (issue 11, finding 8).
    for (let round = 0; ; round++) {
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
          acked: heartbeat!.snapshot(),
          present,
          intervalMs: ms(probes.heartbeat.interval),
          cut: restoring ? 't0' : 'last-ack',
          wallOf: (mono) => ctx.clock.wallOf(mono),
          method: restoring
            ? `heartbeat rows (every ${probes.heartbeat.interval}, acknowledged up to T0) present on the ${recoveryEndpoint} after recovery`
            : `heartbeat rows (every ${probes.heartbeat.interval}, acknowledged by the primary until it stopped acknowledging after T0) present on the ${recoveryEndpoint} after recovery`,
        });
        ctx.record('heartbeats read', { acknowledged: result.rpo.acknowledged, acknowledgedAfterT0: result.rpo.acknowledgedAfterT0, lost: result.rpo.lostWrites, cutAt: result.rpo.cutAt });
      }
      result.checks = checks;
      checksPassed = result.checks.every((c) => c.passed);
      checked = ctx.record(checksPassed ? 'data checks passed' : 'data checks failed', { passed: result.checks.filter((c) => c.passed).length, total: result.checks.length });
      if (restoring) break;
      const held = findRecovery(recoveryStream.settled(), recoveryRule);
      if (held && held.recovered === recovery.recovered) break;
      ctx.record('recovery re-opened: the recovered endpoint did not hold', { reasons: (held?.reopened ?? []).map((r) => r.reason) });
      const again = await recoveryStream.waitFor((s) => findRecovery(s, recoveryRule), t0Mono + ms(probes.maxWait));
      if (!again || round >= 3) {
        result.failure ??= `the recovery of ${recoveryEndpoint} did not hold within ${probes.maxWait} of T0`;
        ctx.record(result.failure);
        return;
      }
      recovery = again;
      ctx.record('endpoint ready again', { endpoint: recoveryEndpoint });
    }
    await recoveryStream.stop();
    if (checksPassed && result.checks.length > 0) phases.push({ name: 'data checks passed', mono: checked.mono });

    if (restoring && probes.stableFor > 0) {
      const confirmation = await probeLoop(ctx, session, recoveryEndpoint, 'confirmation', {
        maxWaitMs: probes.stableFor * (interval + timeout),
        stableFor: probes.stableFor - 1,
      });
      if (confirmation.attempts.some((a) => !a.ok)) result.failure ??= `the restored copy failed a write after its checks: it did not stay up`;
      else ctx.record('restored copy stable', { confirmingWrites: confirmation.attempts.length });
    }

    const observed = restoring ? [] : observer.settled();
    const outage = restoring ? undefined : observedOutage(observed, t0Mono, recovery.recovered.endMono, (mono) => ctx.clock.wallOf(mono));
    if (!restoring) {
      result.disruption = disruptionObserved(recoveryStream === observer ? observed : [...observed, ...recoveryStream.settled().filter((a) => a.startMono >= t0Mono && !a.ok)], t0Mono, effects);
      if (!result.disruption.observed) ctx.record('the fault had no observable effect', { evidence: result.disruption.evidence });
      const first = observed.find((a) => !a.ok && a.endMono >= t0Mono);
      if (first) {
        const index = observed.indexOf(first);
        const lastOk = observed.slice(0, index).reverse().find((a) => a.ok);
        if (lastOk) phases.push({ name: 'last success before the outage', mono: lastOk.endMono });
        phases.push({ name: 'outage observed (first failed attempt of the primary after T0 began)', mono: first.startMono });
      }
    }
    phases.push({
      name: restoring ? `endpoint ready (${recoveryEndpoint} answered a ${probeNoun})` : `endpoint ready (${recoveryEndpoint} answered ${probes.stableFor + 1} consecutive ${probeNoun}s)`,
      mono: recovery.recovered.endMono,
    });
    phases.sort((a, b) => a.mono - b.mono);

    const lowerBound = restoring ? recovery : releasedLowerBound(recovery, observer.settled(), t0Mono, releases, (mono) => ctx.clock.wallOf(mono));
    // Parallel restore: the copy counts as recovered once it both answers and holds good data.
    result.rto = measureRto({
      t0Mono,
      recovered: recovery.recovered,
      lastFailureBefore: recovery.lastFailureBefore,
      lowerBoundMono: lowerBound.lowerBoundMono,
      lowerBoundEvidence: lowerBound.lowerBoundEvidence,
      completedMono: restoring && checksPassed ? checked.mono : undefined,
      intervalMs: interval,
      stableFor: probes.stableFor,
      stableForDuration: rule.stableForDuration,
      method: restoring
        ? `restore request → restored copy answered a ${probeNoun} probe (every ${probes.interval}) and passed ${result.checks.length} data checks; ${probes.stableFor} more confirmed it afterwards`
        : `fault → first of ${probes.stableFor + 1} consecutive successful ${probeNoun}s${rule.stableForDuration ? ` held for ${rule.stableForDuration}` : ''} on the ${recoveryEndpoint}, from the same server (a new attempt every ${probes.interval}, overlapping, each on a fresh connection)`,
      wallOf: (mono) => ctx.clock.wallOf(mono),
      phases,
      ...(outage !== undefined ? { observedOutage: outage } : {}),
      identityChanges: leaderChanges(observer.settled(), recoveryStream === observer ? [] : recoveryStream.settled(), restoring ? undefined : recovery.recovered, t0Mono, (mono) => ctx.clock.wallOf(mono)),
      reopened: recovery.reopened,
    });
    if (restoring && !checksPassed) result.failure ??= 'the restored copy failed its data checks: it is not a usable recovery';
    const integrity = session.integrityNotes();
    result.integrity = { ...integrity, restorePoint: result.restoredCopy?.restorePoint ?? null };
  } finally {
    // Each stream ends within one probe timeout; the heartbeat's hung write is not waited for.
    await Promise.all(streams.map((s) => s.stop().catch(() => undefined)));
    await heartbeat?.stop(timeout);
    await session.close();
    result.topology = session.topology?.() ?? null;
  }
}

/** `probes.stableFor` as a count, or (once the language has it) a duration to hold for. */
function stableRule(probes: ScenarioSpec['probes']): { stableFor: number; stableForMs?: number; stableForDuration?: string } {
  // scenarios/stable-for.ts (branch i11-endpoint) turns a duration into a count plus
  // `stableForDuration`; the recovery must then also have held that long.
  const duration = (probes as { stableForDuration?: string }).stableForDuration;
  const durationMs = duration ? parseDuration(duration) : undefined;
  return { stableFor: probes.stableFor, ...(durationMs !== undefined ? { stableForMs: durationMs, stableForDuration: duration! } : {}) };
}

function openStream(ctx: RunContext, session: DriverSession, endpoint: EndpointName, name: string, streams: ProbeStream[]): ProbeStream {
  const probes = ctx.loaded.scenario.spec.probes;
  let last: ServerFacts | undefined;
  const stream = new ProbeStream({
    name: `${name}:${endpoint}`,
    probe: session.writeProbe(endpoint),
    clock: ctx.clock,
    intervalMs: ms(probes.interval),
    timeoutMs: ms(probes.timeout),
    signal: ctx.signal,
    onAttempt: (attempt: ProbeAttempt) => {
      ctx.probeAttempt(attempt);
      if (attempt.ok && attempt.server) {
        if (last && (!sameServer(last, attempt.server) || last.inRecovery !== attempt.server.inRecovery))
          ctx.record(`server changed behind ${endpoint}`, { probe: attempt.probe, from: describeServer(last), to: describeServer(attempt.server) });
        last = attempt.server;
      }
    },
  });
  streams.push(stream);
  return stream.start();
}

/**
 * Every change of server seen: within each stream, and from the server that answered the
 * disrupted endpoint before T0 to the one that recovered on another endpoint (a promotion).
 * A parallel restore passes no `recovered`: its copy is another server by design, not a
 * change behind production's endpoint.
 */
function leaderChanges(observed: ProbeAttempt[], recoveryAttempts: ProbeAttempt[], recovered: ProbeAttempt | undefined, t0Mono: number, wallOf: (mono: number) => string): IdentityChange[] {
  const changes = identityChanges([...observed, ...recoveryAttempts], wallOf);
  const before = serverBeforeT0(observed, t0Mono);
  if (before && recovered?.server && recovered.probe !== observed[0]?.probe && (!sameServer(before, recovered.server) || before.inRecovery !== recovered.server.inRecovery))
    changes.push({ at: wallOf(recovered.endMono), mono: recovered.endMono, probe: `${observed[0]!.probe} → ${recovered.probe}`, from: before, to: recovered.server });
  return changes.sort((a, b) => a.mono - b.mono).slice(0, 200);
}

/** The server that last answered the disrupted endpoint before T0. */
function serverBeforeT0(observed: readonly ProbeAttempt[], t0Mono: number): ServerFacts | undefined {
  return [...observed].reverse().find((a) => a.ok && a.server && a.startMono < t0Mono)?.server;
}

/**
 * The fault's release of a frozen server as the lower end of the bound (FaultEffect.releasedMono):
 * it applies when the recovery was answered by that server — the same system identifier and
 * timeline as answered the disrupted endpoint before T0 (whose processes the fault checked) —
 * and when it is later than what the probes prove.
 */
function releasedLowerBound(
  recovery: { recovered: ProbeAttempt; lowerBoundMono: number; lowerBoundEvidence: string },
  observed: ProbeAttempt[],
  t0Mono: number,
  releases: (() => number | undefined)[],
  wallOf: (mono: number) => string,
): { lowerBoundMono: number; lowerBoundEvidence: string } {
  const frozen = serverBeforeT0(observed, t0Mono);
  const answered = recovery.recovered.server;
  let best = { lowerBoundMono: recovery.lowerBoundMono, lowerBoundEvidence: recovery.lowerBoundEvidence };
  // Without a system identifier and timeline on both sides, "the same server" cannot be shown.
  if (!frozen?.systemIdentifier || frozen.timeline == null || !answered || answered.inRecovery || !sameServer(frozen, answered)) return best;
  for (const release of releases) {
    const mono = release();
    if (mono === undefined || mono <= best.lowerBoundMono || mono > recovery.recovered.endMono) continue;
    best = { lowerBoundMono: mono, lowerBoundEvidence: `the fault released the frozen server (SIGCONT at ${wallOf(mono)}), and that same server (${describeServer(answered)}) answered the recovery` };
  }
  return best;
}

/** Records the outage on the timeline as soon as the observer sees it (once). */
function watchOutage(ctx: RunContext, observer: ProbeStream, t0Mono: number): void {
  void observer
    .waitFor((s) => {
      const index = s.findIndex((a) => !a.ok && a.endMono >= t0Mono);
      return index < 0 ? undefined : { first: s[index]!, lastOk: s.slice(0, index).reverse().find((a) => a.ok) };
    }, Infinity)
    .then((seen) => {
      if (!seen) return;
      // One moment, one stamp: these are the instants the phases table shows for the same events.
      if (seen.lastOk) ctx.record('last success before the outage', { probe: seen.lastOk.probe }, { at: ctx.clock.wallOf(seen.lastOk.endMono), mono: seen.lastOk.endMono });
      ctx.record('outage observed', { probe: seen.first.probe, error: seen.first.error }, { at: ctx.clock.wallOf(seen.first.startMono), mono: seen.first.startMono });
    })
    .catch(() => undefined);
}

async function disrupt(
  ctx: RunContext,
  session: DriverSession,
  spec: ScenarioSpec,
  markT0: (action: string) => Instant,
  result: DrillResult,
): Promise<{ endpoint: EndpointName; effects: string[]; releases?: (() => number | undefined)[] }> {
  if (spec.type === 'parallel-restore') {
    const copy = await session.requestRestore(spec.restore ?? { restoreTo: 'latest' }, ctx, markT0);
    result.restoredCopy = copy.record;
    result.endpoints = { ...session.endpoints() };
    return { endpoint: copy.endpoint, effects: [] };
  }
  const effects: string[] = [];
  const releases: (() => number | undefined)[] = [];
  for (const fault of spec.faults) {
    const effect = await session.injectFault(fault, ctx, markT0);
    result.faults.push({ type: fault.type, description: effect.description });
    if (effect.observed) effects.push(effect.observed);
    if (effect.releasedMono) releases.push(effect.releasedMono);
    ctx.record(`fault injected: ${effect.description}`);
  }
  return { endpoint: spec.probes.endpoint ?? (spec.recovery?.action === 'promote' ? 'standby' : 'primary'), effects, releases };
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
