/**
 * Parallel restore through Velero against the local API server: a Restore of a named backup
 * into a scratch namespace (namespaceMapping), its phases followed on a watch stream into the
 * timeline, the restored app probed (a Completed phase is not proof the app works), and the
 * scratch namespace deleted at teardown — waited for until gone, and the deletion recorded —
 * whether the restore completed, partially failed or failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import { runDrill } from '../../../runners/engine.js';
import type { FakeKubeOptions } from '../../helpers/fake-kube-api.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { k8sTarget, type Shop, startShop } from './setup.js';

function restoreScenario(shop: Shop, name: string, restoredProbePath = '/_app/{namespace}/checkout/healthz', maxWait = '10s'): string {
  return writeScenario(path.join(shop.dir, name), name, {
    type: 'parallel-restore',
    target: k8sTarget(shop, {
      velero: { backup: 'shop-nightly', sourceNamespace: 'shop', probe: { url: `${shop.api.url}${restoredProbePath}` }, timeout: '20s' },
    }),
    restore: { masking: 'none: synthetic test data', access: 'the test cluster only' },
    probes: { interval: '50ms', timeout: '1s', stableFor: 1, maxWait },
  });
}

describe('Velero parallel restore', () => {
  let shop: Shop | undefined;
  let work: string;

  async function start(options: FakeKubeOptions = {}): Promise<Shop> {
    shop = await startShop(work, options);
    return shop;
  }
  beforeEach(() => {
    work = sharedTempDir('drillbook-k8s-velero-');
  });
  afterEach(async () => {
    await shop?.api.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('restores into a scratch namespace, probes the copy, deletes the namespace and records it', async () => {
    const s = await start();
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-ok')), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome, result.record.error ?? JSON.stringify(result.record.checks)).toBe('passed');
    const scratch = `drillbook-${result.record.runId.slice(0, 8)}`;

    // The Restore asked Velero for the named backup, mapped into the scratch namespace.
    const created = s.api.requests.find((r) => r.method === 'POST' && r.path === '/apis/velero.io/v1/namespaces/velero/restores');
    expect(created).toBeDefined();
    // Phases came from the watch stream, with Velero's timestamps as secondary evidence.
    expect(s.api.requests.some((r) => r.path.endsWith('/restores') && r.query.includes('watch=true'))).toBe(true);
    const phases = result.record.timeline.filter((e) => e.event.includes('velero restore')).map((e) => e.event.replace(/.*phase /, ''));
    expect(phases).toEqual(expect.arrayContaining(['InProgress', 'Completed']));
    // The RTO clock is the probe of the restored app, not Velero's completion.
    const t0 = result.record.t0!;
    expect(t0.action).toMatch(/Velero restore of backup shop-nightly requested \(shop → drillbook-/);
    expect(result.record.measured.rto!.seconds).toBeGreaterThan(0);
    expect(result.record.target.endpoints.restored).toBe(`${s.api.url}/_app/${scratch}/checkout/healthz`);
    expect(result.record.checks.map((c) => [c.type, c.passed])).toEqual([
      ['velero-phase', true],
      ['ready-replicas', true],
    ]);

    // Teardown: the namespace and the Restore are gone, and the deletion is on record.
    expect(s.api.namespaces.has(scratch)).toBe(false);
    expect(s.api.restores.size).toBe(0);
    expect(s.api.requests.some((r) => r.method === 'DELETE' && r.path === `/api/v1/namespaces/${scratch}`)).toBe(true);
    const deletion = result.record.restoredCopy?.deletion;
    expect(deletion?.location).toContain(`namespace ${scratch}`);
    expect(deletion?.verification.every((v) => v.passed)).toBe(true);
    expect(deletion?.verification.map((v) => v.check).join(' ')).toContain('GET answers 404');
    // Production was not touched.
    expect(s.api.mutations().filter((r) => r.path.includes('/namespaces/shop/'))).toEqual([]);

    expect((await verifyBundle(result.runDir)).ok).toBe(true);
    const html = fs.readFileSync(path.join(result.runDir, 'report.html'), 'utf8');
    expect(html).toContain(`namespace ${scratch}`);
  });

  it('a Completed restore whose app does not answer is not a recovery', async () => {
    const s = await start();
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-dead-app', '/_app/{namespace}/no-such-app/healthz', '1s')), {
      evidenceDir: path.join(work, 'evidence'),
      scratchRoot: work,
    });
    expect(result.record.outcome).toBe('failed');
    expect(result.record.measured.rto).toBeNull();
    expect(result.record.timeline.some((e) => e.event.endsWith('phase Completed'))).toBe(true);
    expect([...s.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'))).toEqual([]);
    expect(result.record.teardown.complete).toBe(true);
  });

  it('a PartiallyFailed restore fails its check; the namespace is still deleted', async () => {
    const s = await start({ veleroOutcome: 'PartiallyFailed' });
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-partial')), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome).toBe('failed');
    expect(result.record.checks.find((c) => c.type === 'velero-phase')).toMatchObject({ passed: false, actual: expect.stringContaining('PartiallyFailed') });
    expect([...s.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'))).toEqual([]);
    expect(result.record.teardown.deletions).toHaveLength(1);
  });

  it('a Failed restore stops the drill; the namespace Velero created is deleted and recorded', async () => {
    const s = await start({ veleroOutcome: 'Failed' });
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-failed')), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.outcome).toBe('failed');
    expect(result.record.error).toMatch(/ended Failed: error restoring/);
    expect([...s.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'))).toEqual([]);
    const deletion = result.record.teardown.deletions[0];
    expect(deletion?.verification.every((v) => v.passed)).toBe(true);
    expect(result.record.teardown.complete).toBe(true);
    expect((await verifyBundle(result.runDir)).ok).toBe(true);
  });

  it('refuses a scratch namespace that already exists, before any change', async () => {
    const s = await start();
    const file = writeScenario(path.join(s.dir, 'restore-existing'), 'restore-existing', {
      type: 'parallel-restore',
      target: k8sTarget(s, { velero: { backup: 'shop-nightly', sourceNamespace: 'shop', restoreNamespace: 'shop', probe: { url: `${s.api.url}/_app/{namespace}/checkout/healthz` } } }),
      probes: { interval: '50ms', maxWait: '5s' },
    });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.record.error).toMatch(/scratch namespace shop already exists/);
    expect(s.api.mutations()).toEqual([]);
    expect(s.api.namespaces.has('shop')).toBe(true);
  });
});
