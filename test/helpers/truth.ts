/**
 * Grading a measured RTO against an interval of truth from an independent observer, as the
 * issue puts it: |RTO − truth| ≤ the reported bound. The truth is an interval [fromMs, toMs]
 * (from T0) — an observer samples too — so the distance from the measured value to it must be
 * within the bound; 1 ms of slack for run.json's millisecond timestamps.
 *
 * Both sides count. The truth is usually before the measured value (the first success of the
 * stable run ends after the service came back), but it can be after it: while a proxy still
 * routes some new clients to the dead leader (HAProxy with both servers UP), a few probe
 * attempts in a row can all land on the new one.
 */
export function meetsTruth(measuredMs: number, boundMs: number, truth: { fromMs: number; toMs: number }): boolean {
  const distance = measuredMs < truth.fromMs ? truth.fromMs - measuredMs : measuredMs > truth.toMs ? measuredMs - truth.toMs : 0;
  return distance <= boundMs + 1;
}
