import type { RunRecord } from '../reports/run-record.js';
import { verdictOf } from './measure.js';

/** Verdict per target: met or missed, with the margin (target − measured, in seconds). */
export function measureVerdicts(record: Pick<RunRecord, 'measured' | 'targets' | 't0' | 'disruption'>): RunRecord['verdict'] {
  // Nothing was disrupted: there is no recovery to judge.
  if (!record.t0) return { rto: 'not-measured', rpo: 'not-measured', rtoMarginSeconds: null, rpoMarginSeconds: null };
  const rto = verdictOf(record.measured.rto?.seconds, record.targets.rtoSeconds);
  const measuredRpo = record.measured.rpo;
  // No RPO figure (a deliberate point-in-time target, or the drill never got to verify):
  // nothing to judge. A missing RTO, by contrast, means recovery was never observed.
  let rpo: ReturnType<typeof verdictOf> = measuredRpo ? verdictOf(measuredRpo.seconds, record.targets.rpoSeconds) : { verdict: 'not-measured', margin: null };
  // A lower bound within the target proves nothing; one beyond it proves a miss.
  if (measuredRpo?.lowerBoundOnly && rpo.verdict === 'met') rpo = { verdict: 'not-measured', margin: null };
  // A fault with no observable effect gave nothing to recover from (SPEC v1.1).
  if (record.disruption && !record.disruption.observed) return { rto: 'inconclusive', rpo: rpo.verdict, rtoMarginSeconds: null, rpoMarginSeconds: rpo.margin };
  return { rto: rto.verdict, rpo: rpo.verdict, rtoMarginSeconds: rto.margin, rpoMarginSeconds: rpo.margin };
}
