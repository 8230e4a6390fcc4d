/** Label selectors as kubectl takes them, turned into a NetworkPolicy podSelector and matched. */
import { describe, expect, it } from 'vitest';
import { selectorToString } from '../../../runners/drivers/kubernetes/faults.js';
import { matchesSelector, parseSelector } from '../../../runners/drivers/kubernetes/selector.js';

describe('label selectors', () => {
  it('parses equality, set-based and existence terms', () => {
    expect(parseSelector('app=checkout,tier in (web, api),env!=prod,canary,!legacy')).toEqual({
      matchLabels: { app: 'checkout' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['web', 'api'] },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'canary', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
  });

  it('matches labels the way the API server does', () => {
    const selector = parseSelector('app=checkout,tier in (web,api),!legacy');
    expect(matchesSelector({ app: 'checkout', tier: 'web' }, selector)).toBe(true);
    expect(matchesSelector({ app: 'checkout', tier: 'db' }, selector)).toBe(false);
    expect(matchesSelector({ app: 'checkout', tier: 'web', legacy: 'yes' }, selector)).toBe(false);
    expect(matchesSelector({ tier: 'web' }, selector)).toBe(false);
  });

  it('round-trips through the string form', () => {
    const text = 'app=checkout,tier in (web,api),!legacy';
    expect(parseSelector(selectorToString(parseSelector(text)))).toEqual(parseSelector(text));
  });

  it('names the term it cannot read', () => {
    expect(() => parseSelector('app=checkout,,tier=web')).toThrow(/empty term/);
    expect(() => parseSelector('app=check out')).toThrow(/cannot read "app=check out"/);
    expect(() => parseSelector('app=-bad-')).toThrow(/"-bad-" is not a valid label value/);
  });
});
