/** The v1.1 measurement fields reach the reports: observed outage, server changes, the RPO cut, inconclusive. */
import { describe, expect, it } from 'vitest';
import { junitXml } from '../../../reports/exports.js';
import { renderHtml, renderMarkdown } from '../../../reports/render.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

function withFields(): RunRecord {
  const record = makeRunRecord();
  record.measured.rto = {
    ...record.measured.rto!,
    observedOutage: { lastSuccessBefore: '2026-12-01T10:00:00.100Z', firstFailure: '2026-12-01T10:00:00.350Z', seconds: 3.21 },
    identityChanges: [
      {
        at: '2026-12-01T10:00:03.000Z',
        mono: 3000,
        probe: 'recovery:standby',
        from: { systemIdentifier: '7001', timeline: 1, inRecovery: false, server: '127.0.0.1:5432' },
        to: { systemIdentifier: '7001', timeline: 2, inRecovery: false, server: '127.0.0.1:5433' },
      },
    ],
    reopened: [{ at: '2026-12-01T10:00:02.000Z', probe: 'observe:primary', reason: 'failed after recovery: connection refused' }],
  };
  record.measured.rpo = { ...record.measured.rpo!, cutAt: '2026-12-01T10:00:00.420Z', acknowledgedAfterT0: 3 };
  return record;
}

describe('v1.1 measurement fields in the reports', () => {
  it('shows the observed outage, every server change, a re-opened recovery and the RPO cut', () => {
    for (const text of [renderMarkdown(withFields(), { probes: makeProbes() }), renderHtml(withFields(), { probes: makeProbes() })]) {
      expect(text).toContain('last success 2026-12-01T10:00:00.100Z, first failure 2026-12-01T10:00:00.350Z');
      expect(text).toMatch(/timeline 1 \(127\.0\.0\.1:5432\) → system 7001 timeline 2/);
      expect(text).toContain('Recovery re-opened at 2026-12-01T10:00:02.000Z');
      expect(text).toContain('3 of them after T0, cut at 2026-12-01T10:00:00.420Z');
    }
  });

  it('says inconclusive and fails the JUnit case when the fault had no observable effect', () => {
    const record = makeRunRecord();
    record.outcome = 'inconclusive';
    record.verdict = { ...record.verdict, rto: 'inconclusive', rtoMarginSeconds: null };
    record.disruption = { observed: false, evidence: 'no attempt of the disrupted endpoint failed after T0 and the fault reported no effect' };
    const markdown = renderMarkdown(record, { probes: makeProbes() });
    expect(markdown).toContain('Inconclusive');
    expect(markdown).toContain('no attempt of the disrupted endpoint failed after T0');
    expect(junitXml(record)).toMatch(/<failure[^>]*type="inconclusive"/);
  });
});
