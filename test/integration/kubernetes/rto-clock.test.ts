/**
 * The RTO clock is the user-level HTTP probe, not the cluster's own signals: here the pods are
 * back and ready (watch events in the timeline) long before the app answers again, and the
 * measured RTO follows the app. The outage is created by the test, so its length is known.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runDrill } from '../../../runners/engine.js';
import { loadForRun } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { FAULTS, failoverScenario, type Shop, startShop } from './setup.js';

let shop: Shop;
let work: string;
beforeEach(async () => {
  work = sharedTempDir('drillbook-k8s-rto-');
  shop = await startShop(work);
});
afterEach(async () => {
  await shop.api.close();
  fs.rmSync(work, { recursive: true, force: true });
});

it('measures the outage the app shows, not the readiness the cluster reports', async () => {
  const OUTAGE_MS = 1_200;
  let brokenAt = 0;
  let healedAt = 0;
  // The app answers 503 from the first pod deletion until OUTAGE_MS later (a slow warm-up).
  shop.api.onMutation = () => {
    if (brokenAt) return;
    brokenAt = performance.now();
    shop.api.appStatus.set('shop/checkout', 503);
    setTimeout(() => {
      healedAt = performance.now();
      shop.api.appStatus.delete('shop/checkout');
    }, OUTAGE_MS);
  };
  const file = failoverScenario(shop, 'rto-clock', FAULTS['pod-delete']);
  const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
  expect(result.record.outcome, result.record.error ?? '').toBe('passed');
  const rto = result.record.measured.rto!;
  const outageSeconds = (healedAt - brokenAt) / 1000;
  // T0 is taken just before the first DELETE; the app heals OUTAGE_MS after it arrives.
  expect(rto.seconds).toBeGreaterThanOrEqual(outageSeconds - rto.errorSeconds);
  expect(rto.seconds - rto.errorSeconds).toBeLessThanOrEqual(outageSeconds + 1);
  // Readiness was back (watched) well before the probe saw the app recover.
  const allReady = result.record.timeline.filter((e) => e.event === 'readiness: deployment checkout 3/3 ready').pop();
  const t0 = result.record.timeline.find((e) => e.event.startsWith('T0: '))!;
  expect(allReady).toBeDefined();
  expect((allReady!.mono - t0.mono) / 1000).toBeLessThan(rto.seconds);
  expect(Date.parse(rto.recoveredAt)).toBeGreaterThan(Date.parse(allReady!.at));
});
