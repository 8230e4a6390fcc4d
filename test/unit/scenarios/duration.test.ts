import { describe, expect, it } from 'vitest';
import { durationProblem, formatDuration, MAX_DURATION_MS, MAX_TIMEOUT_MS, parseDuration } from '../../../scenarios/duration.js';
import { DURATION_PATTERN } from '../../../scenarios/schema.js';

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['7d', 604_800_000],
    ['1.5s', 1_500],
    ['1m30s250ms', 90_250],
    ['0s', 0],
  ])('%s is %i ms, and the schema pattern agrees', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(DURATION_PATTERN.test(text)).toBe(true);
  });

  it.each(['', '15', '15 minutes', '30m1h', '1h1h', 'ms', '-5s', '5sec', '1.s'])('rejects %j, in the parser and the pattern alike', (text) => {
    expect(parseDuration(text)).toBeUndefined();
    expect(DURATION_PATTERN.test(text)).toBe(false);
  });

  it('formats for people', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1_250)).toBe('1.25 s');
    expect(formatDuration(5_400_000)).toBe('1 h 30 m');
  });
});

describe('durationProblem', () => {
  it('accepts sane durations up to ten years', () => {
    for (const text of ['250ms', '30d', '365d', '3650d', '0s']) expect(durationProblem(text)).toBeUndefined();
    expect(parseDuration('3650d')).toBe(MAX_DURATION_MS);
  });

  it('refuses what a timer or a date cannot mean', () => {
    expect(durationProblem('3650d1ms')).toMatch(/longer than 3650d/);
    expect(durationProblem('24d', 1, MAX_TIMEOUT_MS)).toBeUndefined();
    expect(durationProblem('24d1ms', 1, MAX_TIMEOUT_MS)).toMatch(/longer than 24d, the longest single timeout/);
    expect(MAX_TIMEOUT_MS).toBeLessThan(2 ** 31 - 1);
    expect(durationProblem('99999999999999999999999ms')).toMatch(/^`99999999999999999999999ms` is longer than 3650d \(ten years\)/);
  });

  it('refuses zero (and less than 1 ms) where a minimum is asked for', () => {
    expect(durationProblem('0s', 1)).toMatch(/must not be zero/);
    expect(durationProblem('0.5ms', 1)).toBe('must be at least 1ms, not `0.5ms`');
    expect(durationProblem('1ms', 1)).toBeUndefined();
  });
});
