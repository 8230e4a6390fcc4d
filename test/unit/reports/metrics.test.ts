/** The metric names the Grafana dashboard queries are the ones drillbook emits, and exercises carry no RTO. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageRegistry, runRegistry } from '../../../reports/metrics.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';

describe('metrics', () => {
  it('every drillbook_* series in docs/grafana-dashboard.json is one drillbook emits', async () => {
    const dashboard = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'grafana-dashboard.json'), 'utf8');
    const queried = new Set(dashboard.match(/drillbook_[a-z_]+/g)!.filter((n) => n !== 'drillbook_drills'));
    const emitted = new Set<string>();
    for (const registry of [
      runRegistry(makeRunRecord()),
      coverageRegistry({ plan: { name: 'p', version: '1' }, asOf: '', window: {}, rows: [], counts: { covered: 0, 'due-soon': 0, overdue: 0, rehearsed: 0, 'never-tested': 0 }, notes: [], gaps: false, awaitingPlanRevision: [] }),
    ]) {
      for (const m of await registry.getMetricsAsJSON()) emitted.add(m.name);
    }
    expect([...queried].filter((n) => !emitted.has(n))).toEqual([]);
    for (const name of ['drillbook_rto_seconds', 'drillbook_rpo_seconds', 'drillbook_run_outcome', 'drillbook_last_run_timestamp_seconds']) expect(emitted.has(name), name).toBe(true);
  });

  it('an exercise has outcome and timestamp series but no RTO/RPO', async () => {
    const text = await runRegistry(makeRunRecord({ type: 'tabletop', measured: { rto: null, rpo: null } })).metrics();
    expect(text).not.toMatch(/^drillbook_rto_seconds/m);
    expect(text).not.toMatch(/^drillbook_rpo_seconds/m);
    expect(text).toMatch(/^drillbook_run_outcome\{system="[^"]+",scenario="[^"]+",type="tabletop",environment="[^"]+",outcome="passed"\} 1$/m);
  });
});
