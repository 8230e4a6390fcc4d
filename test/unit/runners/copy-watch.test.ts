import { describe, expect, it } from 'vitest';
import type { RunContext } from '../../../runners/context.js';
import { watchCopy } from '../../../runners/drivers/postgres/copy-watch.js';

function fakeContext() {
  const events: { event: string; detail?: Record<string, unknown> }[] = [];
  const failures: string[] = [];
  const ctx = { record: (event: string, detail?: Record<string, unknown>) => void events.push({ event, ...(detail ? { detail } : {}) }), fail: (e: Error) => void failures.push(e.message) } as unknown as RunContext;
  return { ctx, events, failures };
}

describe('the restored copy watch', () => {
  it('sees the postmaster exit within its interval, records the FATAL line once and stops the drill once', async () => {
    const { ctx, events, failures } = fakeContext();
    let fatal: string | undefined;
    let calls = 0;
    const watch = watchCopy(ctx, () => (calls++, fatal), 10);
    await new Promise((r) => setTimeout(r, 40));
    expect(events).toEqual([]);
    const diedAt = Date.now();
    fatal = 'FATAL:  could not restore file "000000010000000000000009" from archive';
    while (failures.length === 0 && Date.now() - diedAt < 1_000) await new Promise((r) => setTimeout(r, 5));
    expect(Date.now() - diedAt).toBeLessThan(200);
    watch.report(fatal); // waitForCopy saw it too: not recorded twice
    const checksAfter = calls;
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toBe(checksAfter); // no more polling once reported
    expect(events).toEqual([{ event: 'restored copy exited', detail: { fatal } }]);
    expect(failures).toEqual([`the restored copy's postmaster exited: ${fatal}`]);
  });

  it('stops checking when the drill is over (the copy is destroyed or kept from then on)', async () => {
    const { ctx, events } = fakeContext();
    let calls = 0;
    const watch = watchCopy(ctx, () => (calls++, undefined), 10);
    await new Promise((r) => setTimeout(r, 35));
    watch.stop();
    const atStop = calls;
    await new Promise((r) => setTimeout(r, 40));
    expect(atStop).toBeGreaterThan(0);
    expect(calls).toBe(atStop);
    expect(events).toEqual([]);
  });
});
