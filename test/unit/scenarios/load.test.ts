import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadPlan, loadScenario, validatePaths, type ScenarioCheck } from '../../../scenarios/load.js';
import { loadScenarioText, PLAN, SCENARIO, workspace } from './files.js';

describe('loadScenario', () => {
  it('loads a valid scenario with its plan and system', async () => {
    const { loaded, diagnostics, dir } = await loadScenarioText(SCENARIO);
    expect(diagnostics.all).toEqual([]);
    expect(loaded).toBeDefined();
    expect(loaded!.file).toBe(path.join(dir, 'drill.yaml'));
    expect(loaded!.planFile).toBe(path.join(dir, 'plan.yaml'));
    expect(loaded!.system.name).toBe('orders-db');
    expect(loaded!.plan.metadata.version).toBe('2026.3');
    expect(loaded!.scenario.spec.probes.interval).toBe('250ms');
    expect(loaded!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded!.planSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded!.locate(['spec', 'faults', 0, 'type'])).toEqual({ line: 10, col: 21 });
  });

  it('reports exactly three located errors for three independent mistakes', async () => {
    const scenario = SCENARIO.replace('  targets: { rto: 30s, rpo: 5s }', '  tragets: { rto: 30s, rpo: 5s }')
      .replace('interval: 250ms', 'interval: 15 minutes')
      .replace('system: orders-db,', 'system: orders-dv,');
    const { loaded, errors, diagnostics } = await loadScenarioText(scenario);
    expect(loaded).toBeUndefined();
    expect(errors).toHaveLength(3);
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]));
    expect(byPath['spec.tragets']).toMatchObject({ line: 7, col: 3, hint: 'did you mean `targets`?' });
    expect(byPath['spec.probes.interval']).toMatchObject({ line: 12, col: 23 });
    expect(byPath['spec.probes.interval']!.message).toContain('not a duration');
    expect(byPath['metadata.system']).toMatchObject({ line: 3, col: 47, hint: 'did you mean `orders-db`?' });
    expect(diagnostics.format()).toContain('drill.yaml:7:3: spec.tragets: unknown key `tragets`\n  hint: did you mean `targets`?');
  });

  it('reports a missing plan file at spec.plan', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('plan: plan.yaml', 'plan: ../nowhere/plan.yaml'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: 'spec.plan', line: 6, col: 9 });
    expect(errors[0]!.message).toContain('plan file not found');
  });

  it('reports an invalid plan in the plan file and once in the scenario', async () => {
    const { errors } = await loadScenarioText(SCENARIO, PLAN.replace('tier: 1', 'tier: 7'));
    expect(errors.map((e) => [path.basename(e.file), e.path])).toEqual([
      ['plan.yaml', 'spec.systems[0].tier'],
      ['drill.yaml', 'spec.plan'],
    ]);
  });

  it('names the systems of the plan when the system is not close to any', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('system: orders-db,', 'system: payments,'));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.hint).toBe('systems in the plan: `orders-db` and `orders-api`');
  });

  it('refuses a plan file given as the scenario', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN });
    const diagnostics = new Diagnostics();
    expect(await loadScenario(path.join(dir, 'plan.yaml'), diagnostics)).toBeUndefined();
    expect(diagnostics.all).toHaveLength(1);
    expect(diagnostics.all[0]!.message).toContain('expected a Scenario');
  });

  it('rejects bad cron expressions and unknown time zones', async () => {
    const withSchedule = (cron: string, timezone: string) =>
      SCENARIO + `  schedule: { cron: "${cron}", timezone: ${timezone} }\n`;
    const fourFields = await loadScenarioText(withSchedule('0 3 * *', 'UTC'));
    expect(fourFields.errors).toHaveLength(1);
    expect(fourFields.errors[0]).toMatchObject({ path: 'spec.schedule.cron', line: 14 });
    expect(fourFields.errors[0]!.message).toContain('4 fields');

    const outOfRange = await loadScenarioText(withSchedule('61 3 * * *', 'Europe/Madrid'));
    expect(outOfRange.errors.map((e) => e.path)).toEqual(['spec.schedule.cron']);

    const zone = await loadScenarioText(withSchedule('0 3 * * 1', 'Europe/Madird'));
    expect(zone.errors).toHaveLength(1);
    expect(zone.errors[0]).toMatchObject({ path: 'spec.schedule.timezone', hint: 'did you mean `Europe/Madrid`?' });

    const sixFields = await loadScenarioText(withSchedule('30 0 3 * * 1', 'America/New_York'));
    expect(sixFields.errors).toEqual([]);
    expect(sixFields.loaded?.scenario.spec.schedule?.timezone).toBe('America/New_York');
  });

  it('requires a reason to keep a restored copy', async () => {
    const { errors } = await loadScenarioText(SCENARIO + '  restore: { keep: 7d }\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: 'spec.restore.keep', line: 14 });
    const withReason = await loadScenarioText(SCENARIO + '  restore: { keep: 7d, reason: audit sample }\n');
    expect(withReason.errors).toEqual([]);
  });

  it('hints the allowed values of enums and discriminated unions', async () => {
    const scenario = SCENARIO.replace('type: failover', 'type: failovr')
      .replace('driver: postgres', 'driver: mysql')
      .replace('type: kill-primary', 'type: kill-primray')
      .replace('action: promote', 'action: restart');
    const { errors } = await loadScenarioText(scenario);
    const hints = Object.fromEntries(errors.map((e) => [e.path, e.hint]));
    expect(hints['spec.type']).toContain('did you mean `failover`?');
    expect(hints['spec.target.driver']).toBe('valid values: `postgres`, `rds` or `kubernetes`');
    expect(hints['spec.faults[0].type']).toBe('did you mean `kill-primary`?');
    expect(hints['spec.recovery.action']).toBe('one of `promote`, `command` or `none`');
    expect(errors).toHaveLength(4);
  });

  it('points a missing required key at its parent', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('{ name: Ana Ruiz, role: incident commander }', '{ name: Ana Ruiz }'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: 'spec.participants[0].role', message: 'missing required key `role`', line: 8 });
  });

  it('gives one diagnostic per unknown key, each at its own line', async () => {
    const scenario = SCENARIO.replace('  recovery: { action: promote }\n', '  recovery:\n    action: promote\n    aftr: 5s\n    timout: 10s\n');
    const { errors } = await loadScenarioText(scenario);
    expect(errors.map((e) => [e.path, e.line, e.hint])).toEqual([
      ['spec.recovery.aftr', 13, 'did you mean `after`?'],
      ['spec.recovery.timout', 14, 'did you mean `timeout`?'],
    ]);
  });

  it('runs caller checks on a valid scenario and reports them located', async () => {
    const noKillOnSandbox: ScenarioCheck = (s, report) => {
      if (s.scenario.spec.faults[0]?.type === 'kill-primary') report(['spec', 'faults', 0, 'type'], 'not on Tuesdays', { hint: 'try pause-primary' });
    };
    const exploding: ScenarioCheck = () => {
      throw new Error('boom');
    };
    const { loaded, errors } = await loadScenarioText(SCENARIO, PLAN, [noKillOnSandbox, exploding]);
    expect(loaded).toBeUndefined();
    expect(errors.map((e) => [e.path, e.line, e.message])).toEqual([
      ['spec.faults[0].type', 10, 'not on Tuesdays'],
      ['(root)', 1, 'internal error while checking this scenario: boom'],
    ]);
  });

  it('reports an unknown kind with a hint and a wrong apiVersion', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('kind: Scenario', 'kind: Scenari'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ path: 'kind', line: 2, col: 7, hint: 'did you mean `Scenario`?' });

    const dir = await workspace({ 'x.yaml': 'apiVersion: v2\nkind: Drill\n' });
    const diagnostics = new Diagnostics();
    await validatePaths([path.join(dir, 'x.yaml')], diagnostics);
    expect(diagnostics.all.map((d) => [d.path, d.hint])).toEqual([
      ['apiVersion', 'use `apiVersion: drillbook.dev/v1`'],
      ['kind', 'kind is `Scenario`, `ContinuityPlan` or `ExerciseAnswers`'],
    ]);
  });
});

describe('plan checks', () => {
  it('finds duplicate systems, unknown and circular dependencies', async () => {
    const plan = PLAN.replace('dependsOn: [orders-db]', 'dependsOn: [orders-db, order-cache]').replace(
      '    - { name: orders-db, tier: 1, rto: 30s, rpo: 5s, owner: dba-team@acme.example }\n',
      '    - { name: orders-db, tier: 1, rto: 30s, rpo: 5s, owner: dba-team@acme.example, dependsOn: [orders-api] }\n' +
        '    - { name: orders-db, tier: 1, rto: 1 hour, rpo: 5s, owner: dba-team@acme.example }\n',
    );
    const dir = await workspace({ 'plan.yaml': plan });
    const diagnostics = new Diagnostics();
    expect(await loadPlan(path.join(dir, 'plan.yaml'), diagnostics)).toBeUndefined();
    expect(diagnostics.all.map((d) => [d.path, d.line])).toEqual([
      ['spec.systems[1].rto', 7],
      ['spec.systems[1].name', 7],
      ['spec.systems[2].dependsOn[1]', 8],
      ['spec.systems[0].dependsOn', 6],
    ]);
    expect(diagnostics.all[3]!.message).toBe('dependency cycle: orders-db → orders-api → orders-db');
  });

  it('warns when the plan version is a YAML number', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN.replace('version: "2026.3"', 'version: 2026.10') });
    const diagnostics = new Diagnostics();
    const plan = await loadPlan(path.join(dir, 'plan.yaml'), diagnostics);
    expect(plan?.plan.metadata.version).toBe('2026.1');
    expect(diagnostics.all.map((d) => [d.severity, d.path, d.line])).toEqual([['warning', 'metadata.version', 3]]);
  });

  it('accepts the sample plan', async () => {
    const diagnostics = new Diagnostics();
    const plan = await loadPlan(path.join(import.meta.dirname, '../../../scenarios/samples/plan.yaml'), diagnostics);
    expect(diagnostics.format()).toBe('');
    expect(plan?.plan.spec.systems.length).toBeGreaterThan(0);
  });
});

describe('validatePaths', () => {
  it('walks directories, reports a shared plan once and skips other YAML', async () => {
    const badPlan = PLAN.replace('tier: 1', 'tier: 0');
    const dir = await workspace({
      'plans/plan.yaml': badPlan,
      'drills/a.yaml': SCENARIO.replace('plan: plan.yaml', 'plan: ../plans/plan.yaml'),
      'drills/b.yml': SCENARIO.replace('plan: plan.yaml', 'plan: ../plans/plan.yaml').replace('orders-db-failover', 'second'),
      'drills/notes.txt': 'not yaml',
      'node_modules/x/bad.yaml': 'kind: Nope\n',
      '.hidden/bad.yaml': 'kind: Nope\n',
      'ci/workflow.yaml': 'apiVersion: apps/v1\nkind: Deployment\n',
    });
    const diagnostics = new Diagnostics();
    const checked = await validatePaths([dir], diagnostics);
    expect(checked.map((c) => [path.relative(dir, c.file), c.kind, c.valid])).toEqual([
      ['drills/a.yaml', 'Scenario', false],
      ['drills/b.yml', 'Scenario', false],
      ['plans/plan.yaml', 'ContinuityPlan', false],
    ]);
    const planErrors = diagnostics.all.filter((d) => d.file.endsWith('plan.yaml') && d.severity === 'error');
    expect(planErrors).toHaveLength(1);
    expect(diagnostics.count('notice')).toBe(1);
  });

  it('reports a path that does not exist', async () => {
    const diagnostics = new Diagnostics();
    const checked = await validatePaths(['/definitely/not/here.yaml'], diagnostics);
    expect(checked).toEqual([]);
    expect(diagnostics.all[0]).toMatchObject({ file: '/definitely/not/here.yaml', message: 'no such file or directory' });
  });

  it('checks valid files without complaint', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN, 'drill.yaml': SCENARIO });
    const diagnostics = new Diagnostics();
    const checked = await validatePaths([path.join(dir, 'drill.yaml'), dir], diagnostics);
    expect(diagnostics.all).toEqual([]);
    expect(checked.map((c) => [path.basename(c.file), c.kind, c.valid])).toEqual([
      ['drill.yaml', 'Scenario', true],
      ['plan.yaml', 'ContinuityPlan', true],
    ]);
  });
});
