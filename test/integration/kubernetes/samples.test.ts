/** The Kubernetes sample scenarios load and pass the driver's own checks (STYLE practice 4). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubernetesDriver } from '../../../runners/drivers/kubernetes/driver.js';
import { scenarioChecks } from '../../../runners/registry.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadScenario } from '../../../scenarios/load.js';
import { readScenarioDirectory } from '../../../infra/scenarios.js';

const SAMPLES = path.join(import.meta.dirname, '../../../scenarios/samples');
const FILES = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('checkout-k8s-') && f.endsWith('.yaml'));

/** The diagnostics of the failover sample edited by `edit`, loaded as bad.yaml next to the sample plan in a temporary directory. */
async function diagnoseEditedFailover(edit: (text: string) => string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-k8s-sample-'));
  try {
    fs.copyFileSync(path.join(SAMPLES, 'plan.yaml'), path.join(dir, 'plan.yaml'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), edit(fs.readFileSync(path.join(SAMPLES, 'checkout-k8s-failover.yaml'), 'utf8')));
    const diagnostics = new Diagnostics();
    await loadScenario(path.join(dir, 'bad.yaml'), diagnostics, { checks: [scenarioChecks] });
    return diagnostics.format();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('kubernetes samples', () => {
  it('a database check in a kubernetes drill is reported by the driver', async () => {
    const output = await diagnoseEditedFailover((text) => text.replace('  guardrails:', '  checks: [ { type: sql, name: x, query: "select 1", expect: 1 } ]\n  guardrails:'));
    expect(output).toMatch(/bad\.yaml:\d+:\d+: spec\.checks\[0\]: sql checks need a database/);
  });

  it('exist for failover and parallel restore', () => {
    expect(FILES.sort()).toEqual(['checkout-k8s-failover.yaml', 'checkout-k8s-restore.yaml']);
  });

  it.each(FILES)('%s is valid, with its driver checks', async (file) => {
    const diagnostics = new Diagnostics();
    const loaded = await loadScenario(path.join(SAMPLES, file), diagnostics, { checks: [scenarioChecks] });
    expect(diagnostics.format()).toBe('');
    expect(loaded?.scenario.spec.target?.driver).toBe('kubernetes');
    // The static plan names every action and its undo without touching a cluster.
    const plan = kubernetesDriver.plan(loaded!);
    expect(plan.length).toBeGreaterThan(0);
    for (const item of plan) expect(item.undo.length).toBeGreaterThan(0);
  });

  it('reports a fault without a blast radius at its line', async () => {
    const output = await diagnoseEditedFailover((text) => text.replace('{ type: pod-delete, selector: app=orders-api, maxPods: 6 }', '{ type: pod-delete, selector: app=orders-api }'));
    expect(output).toMatch(/bad\.yaml:31:\d+: spec\.faults\[0\]: declare the blast radius: maxPods or maxPercent/);
  });

  it('a scheduled copy of the sample must drop context: the CronJob has only inClusterContext', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-k8s-sample-'));
    try {
      fs.copyFileSync(path.join(SAMPLES, 'plan.yaml'), path.join(dir, 'plan.yaml'));
      const scheduled = fs.readFileSync(path.join(SAMPLES, 'checkout-k8s-failover.yaml'), 'utf8').replace('  type: failover\n', '  type: failover\n  schedule: { cron: "0 4 * * 1" }\n');
      fs.writeFileSync(path.join(dir, 'drill.yaml'), scheduled);
      await expect(readScenarioDirectory(dir)).rejects.toThrow(/drill\.yaml:\d+: spec\.target\.context: a scheduled Kubernetes drill runs in its CronJob with the in-cluster service account/);
      fs.writeFileSync(path.join(dir, 'drill.yaml'), scheduled.replace(/^ {4}context: .*\n/m, ''));
      expect((await readScenarioDirectory(dir)).scheduled.map((s) => s.name)).toEqual(['checkout-k8s-failover']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
