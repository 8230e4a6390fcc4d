/**
 * The S3 lock object across processes, against the stateful fake S3 (conditional writes
 * decided one at a time, as S3 does): runner processes racing for one system, a holder
 * SIGKILLed while it holds the lock, a waiter that starts when the holder releases. Ground
 * truth: the stored lock object and the processes' own timestamps.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RunCoordination } from '../../../reports/coordination-record.js';
import { useFakeS3 } from '../../helpers/fake-s3-suite.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const childScript = path.join(root, 'dist/test/helpers/s3-lock-child.js');
const Bucket = 'acme-drill-evidence';
const s3 = useFakeS3([Bucket]);
let prefix = '';
let counter = 0;
beforeEach(() => {
  prefix = `team/locks-${++counter}`;
});

interface Line {
  type: 'entered' | 'released';
  state?: string;
  evidence: RunCoordination;
  at: number;
}

function runner(identity: string, ttlMs: number, holdMs: number, overlap: 'skip' | 'wait' = 'skip') {
  const child = spawn(process.execPath, [childScript, s3.fake.endpoint, Bucket, prefix, 'orders-db', identity, String(ttlMs), String(holdMs), overlap], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let notify: (() => void) | undefined;
  createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line);
    notify?.();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    lines,
    exited,
    get stderr() {
      return stderr;
    },
    kill: () => child.kill('SIGKILL'),
    async next(type: Line['type']): Promise<Line> {
      for (;;) {
        const found = lines.find((l) => l.type === type);
        if (found) return found;
        await Promise.race([new Promise<void>((resolve) => (notify = resolve)), exited]);
        if (child.exitCode !== null && !lines.find((l) => l.type === type)) throw new Error(`${identity} exited ${child.exitCode} without ${type}: ${stderr}`);
      }
    },
  };
}

const stored = () => {
  const object = s3.fake.buckets.get(Bucket)!.get(`${prefix}/locks/orders-db.json`);
  return object ? (JSON.parse(object.body.toString('utf8')) as { owner: string; released: boolean; expiresAt: string }) : undefined;
};

describe('the S3 lock object across runner processes', () => {
  it('of 6 processes racing for one system exactly one runs; each other one skips naming it', async () => {
    const runners = Array.from({ length: 6 }, (_, i) => runner(`proc-${i}`, 5000, 1500));
    const entered = await Promise.all(runners.map((r) => r.next('entered')));
    const held = entered.filter((e) => e.state === 'held');
    expect(held).toHaveLength(1);
    const winner = held[0]!.evidence.holder;
    expect(stored()).toMatchObject({ owner: winner, released: false });
    for (const e of entered.filter((x) => x.state !== 'held')) {
      expect(e.state).toBe('skipped');
      expect(e.evidence.heldBy[0]?.identity).toBe(winner);
      expect(e.evidence.reason).toContain(winner);
    }
    expect(await Promise.all(runners.map((r) => r.exited))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(stored()).toMatchObject({ owner: winner, released: true });
  });

  it('a SIGKILLed holder blocks the system until its lock expires, then the next runner takes it over and records whom from', async () => {
    const ttlMs = 2500;
    const holder = runner('crashing-runner', ttlMs, 60_000);
    expect((await holder.next('entered')).state).toBe('held');
    holder.kill();
    await holder.exited;
    const killedAt = Date.now();
    const lock = stored()!;
    expect(lock).toMatchObject({ owner: 'crashing-runner', released: false });
    // Before the expiry the dead holder still counts: a skip-run is told so.
    const early = runner('early-runner', ttlMs, 100);
    const earlyEntered = await early.next('entered');
    expect(earlyEntered.at).toBeLessThan(Date.parse(lock.expiresAt));
    expect(earlyEntered.state).toBe('skipped');
    expect(earlyEntered.evidence.heldBy[0]?.identity).toBe('crashing-runner');
    await early.exited;
    // A waiting runner gets it once the expiry passed, not before.
    const waiter = runner('next-runner', ttlMs, 100, 'wait');
    const entered = await waiter.next('entered');
    expect(entered.state).toBe('held');
    expect(entered.at).toBeGreaterThanOrEqual(Date.parse(lock.expiresAt));
    expect(entered.evidence.tookOverFrom).toEqual({ identity: 'crashing-runner', expiredAt: lock.expiresAt });
    expect(entered.at - killedAt).toBeLessThan(ttlMs + 2000);
    expect(await waiter.exited).toBe(0);
  });

  it('a waiting runner starts after the holder released, and records how long it waited and for whom', async () => {
    const first = runner('first-runner', 3000, 1200);
    expect((await first.next('entered')).state).toBe('held');
    const second = runner('second-runner', 3000, 50, 'wait');
    const [released, entered] = await Promise.all([first.next('released'), second.next('entered')]);
    expect(entered.state).toBe('held');
    expect(entered.at).toBeGreaterThanOrEqual(released.at);
    expect(entered.evidence.heldBy).toMatchObject([{ identity: 'first-runner', scenario: 'first-runner-drill' }]);
    expect(entered.evidence.waitedSeconds).toBeGreaterThan(0.5);
    expect(entered.evidence.tookOverFrom).toBeNull(); // it was released, not expired
    await Promise.all([first.exited, second.exited]);
  });
});
