import { describe, it, expect } from 'vitest';
import { Diagnostics, formatPath } from '../../../scenarios/diagnostics.js';

describe('Diagnostics', () => {
  it('formats grouped by file and sorted by line, with hints on their own line', () => {
    const diagnostics = new Diagnostics();
    diagnostics.error({ file: 'b.yaml', line: 9, col: 3, path: 'spec.plan' }, 'plan file not found');
    diagnostics.error({ file: 'a.yaml', line: 7, col: 3, path: 'spec.tragets' }, 'unknown key `tragets`', 'did you mean `targets`?');
    diagnostics.warning({ file: 'b.yaml', line: 2, col: 1, path: 'kind' }, 'odd');
    diagnostics.error({ file: 'a.yaml', line: 3, col: 1, path: '(root)' }, 'missing `kind`');
    expect(diagnostics.format()).toBe(
      [
        'b.yaml:2:1: kind: warning: odd',
        'b.yaml:9:3: spec.plan: plan file not found',
        'a.yaml:3:1: (root): missing `kind`',
        'a.yaml:7:3: spec.tragets: unknown key `tragets`',
        '  hint: did you mean `targets`?',
      ].join('\n'),
    );
    expect(diagnostics.hasErrors()).toBe(true);
    expect(diagnostics.count('error')).toBe(3);
    expect(diagnostics.count('warning')).toBe(1);
    expect(diagnostics.summary()).toBe('3 errors, 1 warning');
  });

  it('hands out a copy of its list', () => {
    const diagnostics = new Diagnostics();
    diagnostics.all.push({ severity: 'error', file: 'x', line: 1, col: 1, path: '(root)', message: 'm' });
    expect(diagnostics.hasErrors()).toBe(false);
    expect(diagnostics.summary()).toBe('no problems');
  });

  it('writes paths the way users read them', () => {
    expect(formatPath([])).toBe('(root)');
    expect(formatPath(['spec', 'checks', 1, 'table'])).toBe('spec.checks[1].table');
    expect(formatPath(['metadata', 'labels', 'app.kubernetes.io/name'])).toBe('metadata.labels["app.kubernetes.io/name"]');
  });
});
