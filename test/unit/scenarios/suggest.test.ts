import { describe, it, expect } from 'vitest';
import { closest, editDistance, listChoices } from '../../../scenarios/suggest.js';

describe('suggest', () => {
  it('counts an adjacent swap as one edit', () => {
    expect(editDistance('tragets', 'targets')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests plausible typos only', () => {
    const keys = ['type', 'plan', 'targets', 'participants', 'probes'];
    expect(closest('tragets', keys)).toBe('targets');
    expect(closest('partcipants', keys)).toBe('participants');
    expect(closest('Plan', keys)).toBe('plan');
    expect(closest('zzz', keys)).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
  });

  it('lists choices', () => {
    expect(listChoices(['a'])).toBe('`a`');
    expect(listChoices(['a', 'b', 'c'])).toBe('`a`, `b` or `c`');
  });
});

describe('suggest on short words', () => {
  it('does not call a complete replacement a typo', () => {
    expect(closest('5', ['1', '2', '3', '4'])).toBeUndefined();
    expect(closest('P9', ['P1', 'P2'])).toBe('P1');
  });
});
