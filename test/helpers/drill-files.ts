/** Writes a plan and a scenario into a directory and loads them the way the CLI does. */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { scenarioChecks } from '../../runners/registry.js';
import { Diagnostics } from '../../scenarios/diagnostics.js';
import { type LoadedScenario, loadScenario } from '../../scenarios/load.js';

export const TEST_PLAN = {
  apiVersion: 'drillbook.dev/v1',
  kind: 'ContinuityPlan',
  metadata: { name: 'test-plan', version: '1' },
  spec: {
    systems: [{ name: 'orders-db', tier: 1, rto: '30s', rpo: '5s', owner: 'dba@example.test' }],
    severity: { P1: { dueInDays: 7 }, P2: { dueInDays: 30 } },
  },
};

/** Every test drill states why it exists; production-class drills must (SOC 2 A1.3). */
export const TEST_RATIONALE = { threat: 'The test system fails', likelihood: 'medium', impact: 'high' };

export function writeScenario(dir: string, name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'plan.yaml'), stringify(TEST_PLAN));
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'drillbook.dev/v1',
      kind: 'Scenario',
      metadata: { name, system: 'orders-db', environment: 'test', ...metadata },
      spec: { plan: 'plan.yaml', participants: [{ name: 'Test Operator', role: 'operator' }], rationale: TEST_RATIONALE, ...spec },
    }),
  );
  return file;
}

export async function loadForRun(file: string): Promise<LoadedScenario> {
  const diagnostics = new Diagnostics();
  const loaded = await loadScenario(file, diagnostics, { checks: [scenarioChecks] });
  if (!loaded) throw new Error(`scenario does not load:\n${diagnostics.format()}`);
  return loaded;
}
