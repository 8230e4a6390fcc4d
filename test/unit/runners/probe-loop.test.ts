import { describe, expect, it } from 'vitest';
import { RunClock } from '../../../runners/clock.js';
import { runProbeLoop } from '../../../runners/probes/probe-loop.js';

describe('runProbeLoop', () => {
  it('needs stableFor successes after the first and keeps every attempt', async () => {
    const outcomes = [false, false, true, false, true, true, true, true];
    const result = await runProbeLoop({
      name: 'p',
      probe: async (n) => {
        if (!outcomes[n - 1]) throw new Error(`down ${n}`);
      },
      clock: new RunClock(),
      intervalMs: 5,
      timeoutMs: 100,
      stableFor: 2,
      maxWaitMs: 5_000,
      signal: new AbortController().signal,
      onAttempt: () => undefined,
    });
    expect(result.attempts.map((a) => a.ok)).toEqual(outcomes.slice(0, 7));
    expect(result.recovered).toBe(result.attempts[4]);
    expect(result.lastFailureBefore).toBe(result.attempts[3]);
  });

  it('cuts a hanging attempt at the timeout and marks it as such', async () => {
    let calls = 0;
    const result = await runProbeLoop({
      name: 'p',
      probe: (_n, signal) =>
        ++calls === 1
          ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
          : Promise.resolve(),
      clock: new RunClock(),
      intervalMs: 5,
      timeoutMs: 30,
      stableFor: 0,
      maxWaitMs: 5_000,
      signal: new AbortController().signal,
      onAttempt: () => undefined,
    });
    expect(result.attempts[0]).toMatchObject({ ok: false, timedOut: true, error: 'timed out after 30 ms' });
    expect(result.recovered).toBe(result.attempts[1]);
  });

  it('stops when the drill is aborted', async () => {
    const abort = new AbortController();
    const loop = runProbeLoop({
      name: 'p',
      probe: async () => {
        throw new Error('down');
      },
      clock: new RunClock(),
      intervalMs: 10,
      timeoutMs: 100,
      stableFor: 0,
      maxWaitMs: 60_000,
      signal: abort.signal,
      onAttempt: () => undefined,
    });
    setTimeout(() => abort.abort(new Error('interrupted')), 50);
    await expect(loop).rejects.toThrow('interrupted');
  });
});
