/**
 * Parallel restore through Velero against the local API server: a Restore of a named backup
 * into a scratch namespace (namespaceMapping), its phases followed on a watch stream into the
 * timeline, the restored app probed (a Completed phase is not proof the app works), and the
 * scratch namespace deleted at teardown — waited for until gone, and the deletion recorded —
 * whether the restore completed, partially failed or failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../../../reports/evidence.js';
import { runDrill } from '../../../runners/engine.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { eventually, k8sTarget, type Shop, useShopPerTest } from './setup.js';

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
  const shops = useShopPerTest('drillbook-k8s-velero-');
  const { start } = shops;

  it('restores into a scratch namespace, probes the copy, deletes the namespace and records it', async () => {
    const s = await start();
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-ok')), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
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
      evidenceDir: path.join(shops.work, 'evidence'),
      scratchRoot: shops.work,
    });
    expect(result.record.outcome).toBe('failed');
    expect(result.record.measured.rto).toBeNull();
    expect(result.record.timeline.some((e) => e.event.endsWith('phase Completed'))).toBe(true);
    expect([...s.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'))).toEqual([]);
    expect(result.record.teardown.complete).toBe(true);
  });

  it('a PartiallyFailed restore fails its check; the namespace is still deleted', async () => {
    const s = await start({ veleroOutcome: 'PartiallyFailed' });
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-partial')), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
    expect(result.record.outcome).toBe('failed');
    expect(result.record.checks.find((c) => c.type === 'velero-phase')).toMatchObject({ passed: false, actual: expect.stringContaining('PartiallyFailed') });
    expect([...s.api.namespaces.keys()].filter((n) => n.startsWith('drillbook-'))).toEqual([]);
    expect(result.record.teardown.deletions).toHaveLength(1);
  });

  it('a Failed restore stops the drill; the namespace Velero created is deleted and recorded', async () => {
    const s = await start({ veleroOutcome: 'Failed' });
    const result = await runDrill(await loadForRun(restoreScenario(s, 'restore-failed')), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
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
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
    expect(result.record.error).toMatch(/scratch namespace shop already exists/);
    expect(s.api.mutations()).toEqual([]);
    expect(s.api.namespaces.has('shop')).toBe(true);
  });

  // ---- issue 14, findings 5–7: scheduled backups, Velero's own records, cluster-scoped leftovers

  function scheduleScenario(shop: Shop, name: string, schedule: string): string {
    return writeScenario(path.join(shop.dir, name), name, {
      type: 'parallel-restore',
      target: k8sTarget(shop, { velero: { schedule, sourceNamespace: 'shop', probe: { url: `${shop.api.url}/_app/{namespace}/checkout/healthz` }, timeout: '20s' } }),
      restore: { masking: 'none: synthetic test data', access: 'the test cluster only' },
      probes: { interval: '50ms', timeout: '1s', stableFor: 1, maxWait: '10s' },
    });
  }

  it('restores the newest Completed backup of a schedule (names <schedule>-<timestamp>) and records which', async () => {
    const s = await start();
    s.api.addScheduledBackup('shop-daily', ['shop'], 26 * 3_600_000);
    const newest = s.api.addScheduledBackup('shop-daily', ['shop'], 2 * 3_600_000);
    s.api.addScheduledBackup('shop-daily', ['shop'], 600_000, { phase: 'PartiallyFailed' });
    expect(newest).toMatch(/^shop-daily-\d{14}$/);
    const result = await runDrill(await loadForRun(scheduleScenario(s, 'restore-schedule', 'shop-daily')), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
    expect(result.record.outcome, result.record.error ?? JSON.stringify(result.record.checks)).toBe('passed');
    expect(result.record.timeline.some((e) => e.event.endsWith(`restored backup ${newest} (newest Completed of schedule shop-daily)`))).toBe(true);
    expect(result.record.restoredCopy?.restorePoint).toBe(`Velero backup ${newest}`);
    expect(result.record.restoredCopy?.baseBackup).toContain(`velero/${newest} (newest Completed of schedule shop-daily)`);
  });

  it('refuses before any change a schedule with no Completed backup', async () => {
    const s = await start();
    s.api.addScheduledBackup('shop-hourly', ['shop'], 600_000, { phase: 'Failed' });
    const result = await runDrill(await loadForRun(scheduleScenario(s, 'restore-no-backup', 'shop-hourly')), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
    expect(result.record.error).toMatch(/schedule shop-hourly has no Completed backup/);
    expect(s.api.mutations()).toEqual([]);
  });

  for (const outcome of ['Completed', 'Failed'] as const) {
    it(`attaches the restore log and results before deleting the Restore, whose finalizer deletes them (${outcome})`, async () => {
      const s = await start({ veleroOutcome: outcome });
      const result = await runDrill(await loadForRun(restoreScenario(s, `restore-logs-${outcome.toLowerCase()}`)), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
      expect(result.record.outcome).toBe(outcome === 'Completed' ? 'passed' : 'failed');
      const name = `drillbook-${result.record.runId.slice(0, 8)}`;
      const attachments = path.join(result.runDir, 'attachments');
      const log = fs.readFileSync(path.join(attachments, `velero-restore-${name}-log.txt`), 'utf8');
      expect(log).toContain(`msg="starting restore" restore=velero/${name} backup=shop-nightly`);
      const results = JSON.parse(fs.readFileSync(path.join(attachments, `velero-restore-${name}-results.json`), 'utf8'));
      expect(Object.keys(results.errors).length > 0).toBe(outcome === 'Failed');
      // Velero's copies are gone with the Restore; the evidence kept them, and its own DownloadRequests are cleaned up.
      expect(await eventually(() => s.api.objectStore.size === 0 && s.api.restores.size === 0)).toBe(true);
      expect(s.api.downloadRequests.size).toBe(0);
      // The pre-signed URL is in no evidence file.
      for (const file of fs.readdirSync(result.runDir).filter((f) => f.endsWith('.json') || f.endsWith('.jsonl')))
        expect(fs.readFileSync(path.join(result.runDir, file), 'utf8')).not.toContain('X-Amz-Signature');
      expect((await verifyBundle(result.runDir)).ok).toBe(true);
    });
  }

  it('deletes the PersistentVolumes (Retain outlives the namespace) and VolumeSnapshotContents the restore made, and verifies it', async () => {
    const s = await start();
    s.api.addBackup('shop-with-data', ['shop'], { volumes: 2 });
    const file = writeScenario(path.join(s.dir, 'restore-volumes'), 'restore-volumes', {
      type: 'parallel-restore',
      target: k8sTarget(s, { velero: { backup: 'shop-with-data', sourceNamespace: 'shop', probe: { url: `${s.api.url}/_app/{namespace}/checkout/healthz` }, timeout: '20s' } }),
      restore: { masking: 'none: synthetic test data', access: 'the test cluster only' },
      probes: { interval: '50ms', timeout: '1s', stableFor: 1, maxWait: '10s' },
    });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(shops.work, 'evidence'), scratchRoot: shops.work });
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    // Nothing the copy made is left: the PVs were reclaimed with their volumes (no Retain leftover),
    // and the snapshot contents deleted (their Retain keeps the backup's own snapshots, as it must).
    expect([...s.api.persistentVolumes.keys()]).toEqual([]);
    expect([...s.api.snapshotContents.keys()]).toEqual([]);
    expect(s.api.retainedStorage.filter((r) => r.startsWith('PersistentVolume/'))).toEqual([]);
    const verification = result.record.restoredCopy?.deletion?.verification ?? [];
    expect(verification.filter((v) => v.check.startsWith('PersistentVolume pvc-')).map((v) => v.passed)).toEqual([true, true]);
    expect(verification.filter((v) => v.check.startsWith('VolumeSnapshotContent velero-')).map((v) => v.passed)).toEqual([true, true]);
    expect(result.record.teardown.complete).toBe(true);
  });
});
