/** Workflow commands escape what would end or split them; colour follows NO_COLOR / FORCE_COLOR / TTY. */
import { describe, expect, it } from 'vitest';
import { githubAnnotations } from '../../../bin/ci-output.js';
import { colourEnabled, outcomeWord } from '../../../bin/colour.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';

describe('GitHub annotations', () => {
  it('escape %, newlines, and : , in properties, so a hostile check name cannot forge a command', () => {
    const record = makeRunRecord({
      scenario: { name: 'a:b,c' },
      checks: [{ name: 'rows\n::error::forged 100%', type: 'sql', passed: false, expected: '1', actual: '2' }],
      findings: [],
    });
    const lines = githubAnnotations(record, 'drills/x.yaml');
    const check = lines.find((l) => l.includes('check failed::'))!;
    expect(check).toBe('::error file=drills/x.yaml,title=drillbook a%3Ab%2Cc%3A check failed::check failed: rows%0A::error::forged 100%25: expected 1, got 2');
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('a missed RTO is an error; a P3 finding a warning', () => {
    const record = makeRunRecord({
      verdict: { rto: 'missed' },
      findings: [{ id: 'F-1', title: 'runbook step unclear', kind: 'observation' as never, severity: 'P3', detail: '' }],
    });
    const lines = githubAnnotations(record, 'x.yaml');
    expect(lines.some((l) => l.startsWith('::error ') && l.includes('RTO target missed'))).toBe(true);
    expect(lines.some((l) => l.startsWith('::warning ') && l.includes('F-1 (P3): runbook step unclear'))).toBe(true);
  });
});

describe('colour', () => {
  it('on a TTY unless NO_COLOR; FORCE_COLOR for a pipe; NO_COLOR wins', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(outcomeWord(true, 'passed')).toBe('\x1b[32mPASSED\x1b[39m');
    expect(outcomeWord(true, 'failed')).toBe('\x1b[31mFAILED\x1b[39m');
    expect(outcomeWord(false, 'failed')).toBe('FAILED');
  });
});
