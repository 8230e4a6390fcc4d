/**
 * What the report says about the environment and the scenario (findings 1 and the A1.3
 * fields): the control mapping calls only a production-class run a test of the live system,
 * a sandbox run a rehearsal; records made before `environmentClass` get the class their name
 * has; the report shows the scenario rationale (threat, likelihood, impact) in HTML and MD.
 */
import { describe, expect, it } from 'vitest';
import { controlMapping } from '../../../reports/controls.js';
import { renderHtml, renderMarkdown } from '../../../reports/render.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const evidenceOf = (record: RunRecord, control: string) => controlMapping(record).find((c) => c.control === control)!.evidence;

describe('control mapping by environment class', () => {
  it('only a production-class failover is "failover of the live system"', () => {
    const production = makeRunRecord({ environment: 'prd-eu', environmentClass: 'production' });
    expect(evidenceOf(production, '§3.5')).toContain('functional test (failover of the live system)');
    expect(evidenceOf(production, 'A1.3')).toContain('ran in prd-eu (production: the live system)');

    const sandbox = makeRunRecord({ environment: 'sandbox', environmentClass: 'sandbox' });
    expect(evidenceOf(sandbox, '§3.5')).toContain('rehearsal of a failover in the sandbox sandbox, not of the live system');
    expect(evidenceOf(sandbox, '§3.5')).not.toContain('failover of the live system');
    expect(evidenceOf(sandbox, 'A1.3')).toContain("as a rehearsal in the sandbox sandbox (a stand-in, not the live system; no evidence of the live system's recovery)");

    expect(evidenceOf(sandbox, 'A1.2')).toMatch(/^In a sandbox rehearsal \(sandbox, not the live system\): the recovery infrastructure of orders-db/);
    expect(evidenceOf(production, 'A1.2')).toMatch(/^The recovery infrastructure of orders-db/);
    const staging = makeRunRecord({ environment: 'staging', environmentClass: 'non-production' });
    expect(evidenceOf(staging, '§3.5')).toContain('failover in the non-production environment staging, not the live system');

    const restore = makeRunRecord({ type: 'parallel-restore', environment: 'sandbox', environmentClass: 'sandbox' });
    expect(evidenceOf(restore, '§3.5')).toContain('rehearsal of a parallel restore in the sandbox sandbox');
  });

  it('a record made before environmentClass existed gets the class of its name by the default rules', () => {
    const old = makeRunRecord({ environment: 'sandbox' });
    delete old.environmentClass;
    expect(evidenceOf(old, '§3.5')).toContain('rehearsal of a failover in the sandbox');
    const prod = makeRunRecord({ environment: 'prod' });
    delete prod.environmentClass;
    expect(evidenceOf(prod, '§3.5')).toContain('failover of the live system');
  });
});

describe('scenario rationale in the report', () => {
  const options = { probes: makeProbes() };
  it('shows threat, likelihood and impact in HTML and Markdown, and says when it is missing', () => {
    const record = makeRunRecord({ rationale: { threat: "The orders primary's host is lost", likelihood: 'medium', impact: 'high' } });
    const html = renderHtml(record, options);
    expect(html).toContain('<tr><th>Threat (rationale)</th><td>The orders primary&#x27;s host is lost</td></tr>');
    expect(html).toContain('<tr><th>Likelihood · impact</th><td>likelihood medium · impact high</td></tr>');
    const md = renderMarkdown(record, options);
    expect(md).toContain("| Threat (rationale) | The orders primary's host is lost |");
    expect(md).toContain('| Likelihood · impact | likelihood medium · impact high |');

    const none = renderMarkdown(makeRunRecord({ rationale: null }), options);
    expect(none).toContain('| Threat (rationale) | not stated in the scenario (spec.rationale: threat, likelihood, impact) |');
  });
});
