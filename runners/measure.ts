/**
 * RTO and RPO from raw observations, exactly as SPEC defines them. Pure functions: the
 * ground-truth tests feed them real outages; unit tests feed them constructed attempts.
 */
import type { IdentityChange, ObservedOutage, ProbeAttempt, RpoMeasurement, RtoMeasurement, ServerFacts, Verdict } from '../reports/run-record.js';
import type { AckedHeartbeat } from './probes/heartbeat.js';

/**
 * The latest instant a failed attempt proves the service was still down. A refused
 * connection or an error answer proves it when the answer came (the attempt's end); a
 * timeout proves only that the attempt was not served from its start, since a server that
 * recovered mid-attempt may still leave that one connection hanging (e.g. a lost SYN).
 */
export function outageEvidenceAt(failure: ProbeAttempt): number {
  return failure.timedOut ? failure.startMono : failure.endMono;
}

/** Same server as far as a recovery is concerned: system identifier and timeline. */
export function sameServer(a: ServerFacts | undefined, b: ServerFacts | undefined): boolean {
  if (!a || !b) return true; // a probe that reports no identity (HTTP, TCP) cannot tell
  return a.systemIdentifier === b.systemIdentifier && a.timeline === b.timeline;
}

export function describeServer(facts: ServerFacts): string {
  return `system ${facts.systemIdentifier ?? 'unknown'}, timeline ${facts.timeline ?? 'unknown'}${facts.inRecovery ? ', in recovery' : ''}${facts.server ? ` (${facts.server})` : ''}`;
}

export interface RecoveryRule {
  /** Only attempts started at or after this count as recovery (T0). */
  fromMono: number;
  /** Further consecutive successes the recovery needs after its first. */
  stableFor: number;
  /** And it must have held this long (end of first success → end of last confirming one). */
  stableForMs?: number | undefined;
}

export interface Reopening {
  /** The attempt that broke a recovery already confirmed. */
  attempt: ProbeAttempt;
  reason: string;
}

export interface Recovery {
  /** The first success of the stable run that held to the end of what was observed. */
  recovered: ProbeAttempt;
  /** The success that completed the stable run. */
  confirmedBy: ProbeAttempt;
  /** The last failed attempt (start order) before `recovered`. */
  lastFailureBefore: ProbeAttempt | undefined;
  /** The latest instant the attempts before `recovered` prove an outage (or `fromMono`). */
  lowerBoundMono: number;
  /** What proves the outage at lowerBoundMono, for the evidence. */
  lowerBoundEvidence: string;
  /** Recoveries that had been confirmed and were then broken (a demotion, a new timeline, a failure). */
  reopened: Reopening[];
}

/**
 * The recovery in attempts given in start order (a settled prefix: overlapping attempts end
 * out of order). A run of `stableFor` + 1 consecutive successes, from the same server (same
 * system identifier and timeline, not in recovery), that has held for `stableForMs`, is a
 * recovery; a failure or a change of server after it re-opens the outage, and the search
 * goes on. Confirming attempts (started at once after a candidate) can break a run, not make one. Undefined when no recovery holds at the end of the attempts.
 */
export function findRecovery(attempts: readonly ProbeAttempt[], rule: RecoveryRule): Recovery | undefined {
  const reopened: Reopening[] = [];
  let streak: ProbeAttempt[] = [];
  let confirmed: { recovered: ProbeAttempt; confirmedBy: ProbeAttempt; index: number } | undefined;
  let streakStartIndex = -1;
  for (const [index, attempt] of attempts.entries()) {
    if (attempt.startMono < rule.fromMono) continue;
    const base = streak[0]?.server;
    const demoted = attempt.ok && attempt.server?.inRecovery === true;
    const changed = attempt.ok && streak.length > 0 && !sameServer(base, attempt.server);
    // A confirming attempt (ProbeStream) only tests the candidate: its failure breaks it, its success counts for nothing.
    if (attempt.confirming && attempt.ok && !demoted && !changed) continue;
    if (!attempt.ok || demoted || changed) {
      if (confirmed)
        reopened.push({
          attempt,
          reason: !attempt.ok
            ? `failed after recovery: ${attempt.error ?? 'error'}`
            : demoted
              ? 'the recovered server is in recovery (demoted)'
              : `another server answered: ${describeServer(base!)} → ${describeServer(attempt.server!)}`,
        });
      confirmed = undefined;
      streak = attempt.ok && !demoted && !attempt.confirming ? [attempt] : [];
      streakStartIndex = streak.length ? index : -1;
      continue;
    }
    if (streak.length === 0) streakStartIndex = index;
    streak.push(attempt);
    if (!confirmed && streak.length >= rule.stableFor + 1 && attempt.endMono - streak[0]!.endMono >= (rule.stableForMs ?? 0))
      confirmed = { recovered: streak[0]!, confirmedBy: attempt, index: streakStartIndex };
  }
  if (!confirmed) return undefined;
  const before = attempts.slice(0, confirmed.index);
  const lastFailureBefore = [...before].reverse().find((a) => !a.ok);
  // Any attempt before the recovered one that did not succeed on this server is evidence of
  // outage: a failure as outageEvidenceAt says; another server's answer only from the attempt's
  // start (its connection was routed then; it may have ended after the switch).
  let lowerBoundMono = rule.fromMono;
  let lowerBoundEvidence = 'T0 (no attempt after it showed the outage)';
  for (const a of before) {
    if (a.ok && a.server?.inRecovery !== true && sameServer(a.server, confirmed.recovered.server)) continue;
    const mono = a.ok ? a.startMono : outageEvidenceAt(a);
    if (mono <= lowerBoundMono || mono > confirmed.recovered.endMono) continue;
    lowerBoundMono = mono;
    lowerBoundEvidence = `${a.probe} attempt ${a.attempt ?? '?'} ${a.ok ? 'was answered by another server (from its start)' : a.timedOut ? 'timed out (from its start)' : `failed: ${a.error ?? 'error'}`}`;
  }
  return { recovered: confirmed.recovered, confirmedBy: confirmed.confirmedBy, lastFailureBefore, lowerBoundMono, lowerBoundEvidence, reopened };
}

/**
 * The client-visible outage as the probes of the disrupted endpoint saw it: from the end of
 * the last success before the first failure after T0, to the recovery. Null when no attempt
 * of that endpoint failed after T0.
 */
export function observedOutage(attempts: readonly ProbeAttempt[], t0Mono: number, recoveredMono: number | undefined, wallOf: (mono: number) => string): ObservedOutage | null {
  const index = attempts.findIndex((a) => !a.ok && a.endMono >= t0Mono);
  if (index < 0) return null;
  const firstFailure = attempts[index]!;
  const lastSuccess = attempts
    .slice(0, index)
    .reverse()
    .find((a) => a.ok);
  const from = lastSuccess?.endMono;
  return {
    lastSuccessBefore: from === undefined ? null : wallOf(from),
    firstFailure: wallOf(firstFailure.startMono),
    seconds: from === undefined || recoveredMono === undefined ? null : round((recoveredMono - from) / 1000),
  };
}

/** Every change of the server answering each probe (by start order), for the evidence. */
export function identityChanges(attempts: readonly ProbeAttempt[], wallOf: (mono: number) => string): IdentityChange[] {
  const changes: IdentityChange[] = [];
  const last = new Map<string, ServerFacts>();
  for (const attempt of [...attempts].sort((a, b) => a.startMono - b.startMono)) {
    if (!attempt.ok || !attempt.server) continue;
    const before = last.get(attempt.probe);
    if (before && (!sameServer(before, attempt.server) || before.inRecovery !== attempt.server.inRecovery))
      changes.push({ at: wallOf(attempt.endMono), mono: attempt.endMono, probe: attempt.probe, from: before, to: attempt.server });
    last.set(attempt.probe, attempt.server);
  }
  return changes;
}

/**
 * SPEC v1.1 "The outage must be seen": a fault had an effect when an attempt of the disrupted
 * endpoint failed after T0, that endpoint was answered by another server after T0, or the
 * fault itself reported an effect it observed.
 */
export function disruptionObserved(attempts: readonly ProbeAttempt[], t0Mono: number, faultEffects: readonly string[]): { observed: boolean; evidence: string } {
  const failure = attempts.find((a) => !a.ok && a.endMono >= t0Mono);
  if (failure) return { observed: true, evidence: `${failure.probe} failed after T0: ${failure.error ?? 'error'}` };
  const change = identityChanges(attempts, String).find((c) => c.mono >= t0Mono);
  if (change) return { observed: true, evidence: `${change.probe} was answered by another server after T0: ${describeServer(change.from)} → ${describeServer(change.to)}` };
  if (faultEffects.length > 0) return { observed: true, evidence: `the fault reported: ${faultEffects.join('; ')}` };
  return { observed: false, evidence: 'no attempt of the disrupted endpoint failed after T0 and the fault reported no effect' };
}

export interface RtoInput {
  t0Mono: number;
  recovered: ProbeAttempt;
  lastFailureBefore: ProbeAttempt | undefined;
  /** The latest evidence of outage before `recovered` (findRecovery); else from lastFailureBefore. */
  lowerBoundMono?: number;
  /** What proves the outage at lowerBoundMono (findRecovery's, or the fault's release). */
  lowerBoundEvidence?: string;
  /** When data checks must pass too (parallel restore), the instant they did. */
  completedMono?: number | undefined;
  intervalMs: number;
  stableFor: number;
  stableForDuration?: string | undefined;
  method: string;
  wallOf(mono: number): string;
  phases: { name: string; mono: number }[];
  observedOutage?: ObservedOutage | null;
  identityChanges?: IdentityChange[];
  reopened?: Reopening[];
}

/**
 * Measured RTO = T_recovered − T0, T_recovered being the end of the first successful probe of
 * the stable run (the service was certainly usable then). The true recovery instant lies
 * after the last evidence of outage (or T0), which gives the error bound. With overlapping
 * attempts the attempt before the recovered one started one interval earlier, so the bound
 * is at most the interval plus the recovering attempt's own latency, hung attempts or not.
 */
export function measureRto(input: RtoInput): RtoMeasurement {
  const recoveredMono = Math.max(input.recovered.endMono, input.completedMono ?? -Infinity);
  const lowerBound = Math.max(
    input.t0Mono,
    input.lowerBoundMono ?? (input.lastFailureBefore ? outageEvidenceAt(input.lastFailureBefore) : input.t0Mono),
  );
  return {
    seconds: round((recoveredMono - input.t0Mono) / 1000),
    errorSeconds: round((input.recovered.endMono - lowerBound) / 1000),
    truthAfter: { at: input.wallOf(lowerBound), evidence: lowerBound === input.t0Mono ? 'T0' : (input.lowerBoundEvidence ?? 'the last failed attempt before the recovery') },
    method: input.method,
    recoveredAt: input.wallOf(recoveredMono),
    probeInterval: input.intervalMs / 1000,
    stableFor: input.stableFor,
    ...(input.stableForDuration ? { stableForDuration: input.stableForDuration } : {}),
    phases: input.phases.map((p) => ({ name: p.name, at: input.wallOf(p.mono), secondsAfterT0: round((p.mono - input.t0Mono) / 1000) })),
    ...(input.observedOutage !== undefined ? { observedOutage: input.observedOutage } : {}),
    ...(input.identityChanges ? { identityChanges: input.identityChanges } : {}),
    ...(input.reopened && input.reopened.length > 0
      ? { reopened: input.reopened.map((r) => ({ at: input.wallOf(r.attempt.endMono), probe: r.attempt.probe, reason: r.reason })) }
      : {}),
  };
}

export interface RpoInput {
  t0Mono: number;
  acked: AckedHeartbeat[];
  present: Set<number>;
  intervalMs: number;
  method: string;
  /**
   * `last-ack` (failover): the cut is the client time of the last heartbeat the disrupted
   * endpoint acknowledged, T0 or later. `t0` (parallel restore): the cut is T0 and only
   * heartbeats acknowledged by then count.
   */
  cut?: 'last-ack' | 't0';
  wallOf?(mono: number): string;
}

/**
 * Measured RPO = max(0, cut − client time of the newest acknowledged heartbeat present in
 * the recovered data); lostWrites = acknowledged heartbeats up to the cut missing from it.
 * The error bound is the heartbeat interval, widened when the last surviving and the first
 * lost heartbeat are further apart than that (a slow commit), because the loss began
 * somewhere between them.
 */
export function measureRpo(input: RpoInput): RpoMeasurement {
  const mode = input.cut ?? 't0';
  const all = [...input.acked].sort((a, b) => a.seq - b.seq);
  const acked = mode === 't0' ? all.filter((h) => h.ackMono <= input.t0Mono) : all;
  const cutMono = mode === 't0' ? input.t0Mono : (acked.at(-1)?.sentMono ?? input.t0Mono);
  const cutAt = mode === 'last-ack' && acked.length ? acked.at(-1)!.clientTime : (input.wallOf?.(cutMono) ?? null);
  const missing = acked.filter((h) => !input.present.has(h.seq));
  const presentAcked = acked.filter((h) => input.present.has(h.seq));
  const newest = presentAcked.at(-1);
  const firstLostAfterNewest = missing.find((h) => !newest || h.seq > newest.seq);
  // With no survivor the window began before the first heartbeat: report what is known.
  const windowStartMono = newest?.sentMono ?? acked[0]?.sentMono ?? cutMono;
  const gap = newest && firstLostAfterNewest ? firstLostAfterNewest.ackMono - newest.sentMono : 0;
  return {
    seconds: round(Math.max(0, cutMono - windowStartMono) / 1000),
    errorSeconds: round(Math.max(input.intervalMs, gap) / 1000),
    lostWrites: missing.length,
    method: input.method,
    heartbeatInterval: input.intervalMs / 1000,
    acknowledged: acked.length,
    acknowledgedAfterT0: acked.filter((h) => h.ackMono > input.t0Mono).length,
    cutAt,
    newestPresentSeq: newest?.seq ?? null,
    newestPresentAt: newest?.clientTime ?? null,
    missingSeqs: missing.map((h) => h.seq).slice(0, 1000),
    lowerBoundOnly: newest === undefined,
  };
}

export function verdictOf(measuredSeconds: number | undefined, targetSeconds: number | null): { verdict: Verdict; margin: number | null } {
  if (targetSeconds === null) return { verdict: 'not-measured', margin: null };
  if (measuredSeconds === undefined) return { verdict: 'missed', margin: null };
  return { verdict: measuredSeconds <= targetSeconds ? 'met' : 'missed', margin: round(targetSeconds - measuredSeconds) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
