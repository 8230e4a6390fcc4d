/**
 * RTO and RPO from raw observations, exactly as SPEC defines them. Pure functions: the
 * ground-truth tests feed them real outages; unit tests feed them constructed attempts.
 */
import type { ProbeAttempt, RpoMeasurement, RtoMeasurement, Verdict } from '../reports/run-record.js';
import type { AckedHeartbeat } from './probes/heartbeat.js';

export interface RtoInput {
  t0Mono: number;
  recovered: ProbeAttempt;
  lastFailureBefore: ProbeAttempt | undefined;
  /** When data checks must pass too (parallel restore), the instant they did. */
  completedMono?: number;
  intervalMs: number;
  stableFor: number;
  method: string;
  wallOf(mono: number): string;
  phases: { name: string; mono: number }[];
}

/**
 * The latest instant a failed attempt proves the service was still down. A refused
 * connection or an error answer proves it when the answer came (the attempt's end); a
 * timeout proves only that the attempt was not served from its start, since a server that
 * recovered mid-attempt may still leave that one connection hanging (e.g. a lost SYN).
 */
export function outageEvidenceAt(failure: ProbeAttempt): number {
  return failure.timedOut ? failure.startMono : failure.endMono;
}

/**
 * Measured RTO = T_recovered − T0, T_recovered being the end of the first successful probe of
 * the stable run (the service was certainly usable then). The true recovery instant lies
 * after the last evidence of outage (or T0), which gives the error bound: one interval
 * plus the probe's own latency when failures are refusals or errors, up to the probe
 * timeout plus latency when the outage makes attempts hang.
 */
export function measureRto(input: RtoInput): RtoMeasurement {
  const recoveredMono = Math.max(input.recovered.endMono, input.completedMono ?? -Infinity);
  const lowerBound = Math.max(input.t0Mono, input.lastFailureBefore ? outageEvidenceAt(input.lastFailureBefore) : input.t0Mono);
  return {
    seconds: round((recoveredMono - input.t0Mono) / 1000),
    errorSeconds: round((input.recovered.endMono - lowerBound) / 1000),
    method: input.method,
    recoveredAt: input.wallOf(recoveredMono),
    probeInterval: input.intervalMs / 1000,
    stableFor: input.stableFor,
    phases: input.phases.map((p) => ({ name: p.name, at: input.wallOf(p.mono), secondsAfterT0: round((p.mono - input.t0Mono) / 1000) })),
  };
}

export interface RpoInput {
  t0Mono: number;
  acked: AckedHeartbeat[];
  present: Set<number>;
  intervalMs: number;
  method: string;
}

/**
 * Measured RPO = T0 − client time of the newest acknowledged heartbeat present in the
 * recovered data; lostWrites = acknowledged heartbeats missing from it. The error bound is
 * the heartbeat interval, widened when the last surviving and the first lost heartbeat are
 * further apart than that (a slow commit), because the cut lies somewhere between them.
 */
export function measureRpo(input: RpoInput): RpoMeasurement {
  const acked = [...input.acked].sort((a, b) => a.seq - b.seq);
  const missing = acked.filter((h) => !input.present.has(h.seq));
  const presentAcked = acked.filter((h) => input.present.has(h.seq));
  const newest = presentAcked.at(-1);
  const firstLostAfterNewest = missing.find((h) => !newest || h.seq > newest.seq);
  // With no survivor the window began before the first heartbeat: report what is known.
  const windowStartMono = newest?.sentMono ?? acked[0]?.sentMono ?? input.t0Mono;
  const gap = newest && firstLostAfterNewest ? firstLostAfterNewest.ackMono - newest.sentMono : 0;
  return {
    seconds: round((input.t0Mono - windowStartMono) / 1000),
    errorSeconds: round(Math.max(input.intervalMs, gap) / 1000),
    lostWrites: missing.length,
    method: input.method,
    heartbeatInterval: input.intervalMs / 1000,
    acknowledged: acked.length,
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
