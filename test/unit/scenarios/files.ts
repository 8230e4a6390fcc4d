/** A plan, a scenario and a temporary workspace for the loader tests (removed after the file's tests). */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadScenario, type ScenarioCheck } from '../../../scenarios/load.js';

export const PLAN = `apiVersion: drillbook.dev/v1
kind: ContinuityPlan
metadata: { name: acme-continuity-plan, version: "2026.3" }
spec:
  systems:
    - { name: orders-db, tier: 1, rto: 30s, rpo: 5s, owner: dba-team@acme.example }
    - { name: orders-api, tier: 2, rto: 5m, rpo: 1m, owner: api@acme.example, dependsOn: [orders-db] }
  testPolicy: { "1": { tabletop: 365d, parallel-restore: 90d, failover: 180d } }
  severity: { P1: { dueInDays: 7 }, P2: { dueInDays: 30 }, P3: { dueInDays: 90 }, P4: { dueInDays: 180 } }
`;

export const SCENARIO = `apiVersion: drillbook.dev/v1
kind: Scenario
metadata: { name: orders-db-failover, system: orders-db, environment: sandbox }
spec:
  type: failover
  plan: plan.yaml
  targets: { rto: 30s, rpo: 5s }
  participants: [ { name: Ana Ruiz, role: incident commander } ]
  target: { driver: postgres, sandbox: true }
  faults: [ { type: kill-primary } ]
  recovery: { action: promote }
  probes: { interval: 250ms, stableFor: 2 }
  rationale: { threat: The orders primary crashes, likelihood: medium, impact: high }
`;

/** A staging failover of orders-db with the given `target:` block (indented), faults, and spec lines to add before the rationale (issue 11 cluster tests). */
export const clusterDrill = (target: string, faults = '[ { type: command, command: "true" } ]', extra = '') => `apiVersion: drillbook.dev/v1
kind: Scenario
metadata: { name: orders-db-leader-kill, system: orders-db, environment: staging }
spec:
  type: failover
  plan: plan.yaml
  target:
${target}
  faults: ${faults}
  recovery: { action: none }
${extra}  rationale: { threat: the leader crashes, likelihood: medium, impact: high }
`;

const temporaryDirs: string[] = [];
afterAll(async () => {
  await Promise.all(temporaryDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Writes the files into a fresh temporary directory and returns its path. */
export async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'drillbook-load-'));
  temporaryDirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

export async function loadScenarioText(scenario: string, plan = PLAN, checks?: ScenarioCheck[]) {
  const dir = await workspace({ 'plan.yaml': plan, 'drill.yaml': scenario });
  const diagnostics = new Diagnostics();
  const loaded = await loadScenario(path.join(dir, 'drill.yaml'), diagnostics, checks ? { checks } : {});
  return { dir, diagnostics, loaded, errors: diagnostics.all.filter((d) => d.severity === 'error') };
}
