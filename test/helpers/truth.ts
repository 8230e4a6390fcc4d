/**
 * Grading a measured RTO against an interval of truth from an independent observer: the true
 * recovery lies in [fromMs, toMs] (from T0), drillbook says it lies in [measured − bound,
 * measured]. The measurement holds when the two meet; 1 ms of slack each way for run.json's
 * millisecond timestamps.
 */
export function meetsTruth(measuredMs: number, boundMs: number, truth: { fromMs: number; toMs: number }): boolean {
  return measuredMs - boundMs <= truth.toMs + 1 && measuredMs >= truth.fromMs - 1;
}
