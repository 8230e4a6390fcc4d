/**
 * The engine and the system lock, with a lock handed in as a plain object (STYLE practice 7):
 * a skip and an unreachable lock leave sealed evidence and exit 2 with nothing run; a lock
 * lost mid-drill (taken over by another runner) aborts the drill and rolls it back (exit 3).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../../runners/engine.js';
import type { LockAttempt, SystemLockBackend } from '../../../runners/coordination/types.js';
import type { LoadedScenario } from '../../../scenarios/load.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';

let dir: string;
let marker: string;
let loaded: LoadedScenario;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-coord-engine-'));
  marker = path.join(dir, 'touched');
  loaded = await loadForRun(
    writeScenario(dir, 'walk', {
      type: 'simulation',
      steps: [{ id: 'work', title: 'Work on the system', owner: 'operator', expected: '1m', command: `touch ${marker} && sleep 4`, undo: `rm -f ${marker}` }],
    }),
  );
});

function backend(over: Partial<SystemLockBackend>): SystemLockBackend {
  return {
    kind: 's3-lock-object',
    name: 's3://b/p/locks/orders-db.json',
    identity: 'me',
    ttlMs: 300,
    tryAcquire: async (): Promise<LockAttempt> => ({ acquired: true }),
    renew: async () => true,
    release: async () => true,
    ...over,
  };
}

const evidence = (name: string) => path.join(dir, name);

describe('the engine under a system lock', () => {
  it('skips with sealed evidence and exit 2 when another runner holds the system; nothing of the drill runs', async () => {
    fs.rmSync(marker, { force: true });
    const held = backend({ tryAcquire: async () => ({ acquired: false, heldBy: { identity: 'pod-a', scenario: 'orders-failover', expiresAt: '2026-12-01T03:00:30.000Z' } }) });
    const result = await runDrill(loaded, { evidenceDir: evidence('skip'), coordination: { backend: held, overlap: 'skip' } });
    expect(result.exitCode).toBe(2);
    expect(result.refused).toMatch(/^skipped: the system is being drilled by pod-a \(drill orders-failover\)/);
    expect(result.record.outcome).toBe('aborted');
    expect(result.record.coordination).toMatchObject({ result: 'skipped', heldBy: [{ identity: 'pod-a', scenario: 'orders-failover', expiresAt: '2026-12-01T03:00:30.000Z' }] });
    expect(result.record.timeline.some((e) => e.event.startsWith('system lock not taken (skipped)'))).toBe(true);
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(path.join(result.runDir, 'manifest.json'))).toBe(true);
  });

  it('does not run when the lock cannot be reached, and says so (exit 2)', async () => {
    let calls = 0;
    const down = backend({
      tryAcquire: async () => {
        calls++;
        throw new Error('connect ECONNREFUSED 10.0.0.1:443');
      },
    });
    const result = await runDrill(loaded, { evidenceDir: evidence('down'), coordination: { backend: down, overlap: 'wait', pollMs: 5 } });
    expect(calls).toBe(3);
    expect(result.exitCode).toBe(2);
    expect(result.record.coordination).toMatchObject({ result: 'unavailable' });
    expect(result.record.coordination?.reason).toMatch(/ECONNREFUSED/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('aborts and rolls back when the lock is taken over mid-drill (exit 3), and records the loss', async () => {
    fs.rmSync(marker, { force: true });
    let renewals = 0;
    let released = 0;
    const lost = backend({
      renew: async () => ++renewals < 2,
      release: async () => (released++, true),
    });
    const started = performance.now();
    const result = await runDrill(loaded, { evidenceDir: evidence('lost'), coordination: { backend: lost, overlap: 'skip' } });
    expect(performance.now() - started).toBeLessThan(3500); // the 4 s step was cut short
    expect(result.exitCode).toBe(3);
    expect(result.record.abort?.reason).toMatch(/taken over by another runner/);
    expect(result.record.coordination?.lost).toMatch(/taken over/);
    expect(result.record.coordination?.releasedAt).toBeNull(); // not ours any more: not released
    expect(released).toBe(0);
    expect(fs.existsSync(marker)).toBe(false); // the step's undo ran
    expect(result.record.teardown.complete).toBe(true);
  });

  it('holds the lock through teardown and releases it before sealing', async () => {
    const events: string[] = [];
    const fine = backend({
      ttlMs: 30_000,
      tryAcquire: async () => (events.push('acquire'), { acquired: true }),
      release: async () => (events.push(`release ${fs.existsSync(marker) ? 'before' : 'after'} undo`), true),
    });
    const result = await runDrill(loaded, { evidenceDir: evidence('fine'), coordination: { backend: fine, overlap: 'skip' } });
    expect(result.exitCode).toBe(0);
    expect(events).toEqual(['acquire', 'release after undo']);
    expect(Date.parse(result.record.coordination!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(result.record.endedAt));
    expect(result.record.timeline.some((e) => e.event === 'system lock taken: s3://b/p/locks/orders-db.json as me; it was free')).toBe(true);
  });
});
