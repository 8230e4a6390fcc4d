/**
 * Long waits (issue 13, finding 10): setTimeout keeps at most 2^31 - 1 ms, so a 30-day
 * maxDuration used to fire after 1 ms. Fake timers behave like Node here (they clamp an
 * overflowing delay the same way), which the first test shows before the helper is trusted.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../../../runners/clock.js';
import { MAX_TIMER_CHUNK_MS, setLongTimeout, sleepLong } from '../../../runners/timers.js';

const DAY = 86_400_000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('long timers', () => {
  it('a plain setTimeout of 30 days fires at once (what the guard used to do)', () => {
    const fired = vi.fn();
    // Node warns (TimeoutOverflowWarning) and fake timers mimic it; silence the warning.
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    setTimeout(fired, 30 * DAY);
    vi.advanceTimersByTime(2_000);
    warn.mockRestore();
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('setLongTimeout of 30 days does not fire a millisecond early, and fires on time', () => {
    const fired = vi.fn();
    setLongTimeout(fired, 30 * DAY);
    vi.advanceTimersByTime(2_000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_CHUNK_MS); // past the first chunk
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY - 2_000 - MAX_TIMER_CHUNK_MS - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60 * DAY);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('short delays behave like setTimeout, and clear() stops a timer in any chunk', () => {
    const short = vi.fn();
    setLongTimeout(short, 250);
    vi.advanceTimersByTime(249);
    expect(short).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(short).toHaveBeenCalledTimes(1);

    const cleared = vi.fn();
    const timer = setLongTimeout(cleared, 60 * DAY);
    vi.advanceTimersByTime(MAX_TIMER_CHUNK_MS + 1_000); // now in the second chunk
    timer.clear();
    vi.advanceTimersByTime(90 * DAY);
    expect(cleared).not.toHaveBeenCalled();
  });

  it('the run clock sleep waits 30 days in full and still aborts at once', async () => {
    let done = false;
    const long = sleep(30 * DAY).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(30 * DAY - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await long;
    expect(done).toBe(true);

    const controller = new AbortController();
    const aborted = sleepLong(30 * DAY, controller.signal);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_CHUNK_MS + 5);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(vi.getTimerCount()).toBe(0);
  });
});
