/**
 * The language parts of issue 13: environment classes, durations that are absurd or zero,
 * a directory named like a file, the scenario rationale and the plan version. Each finding
 * is reproduced through the loader as `validate` sees it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { environmentClassOf } from '../../../scenarios/environments.js';
import { findYamlFiles, loadPlan, validatePaths } from '../../../scenarios/load.js';
import { comparePlanVersions, planVersion } from '../../../scenarios/plan-version.js';
import { loadScenarioText, PLAN, SCENARIO, workspace } from './files.js';

const withEnvironment = (environment: string, scenario = SCENARIO) =>
  scenario.replace('environment: sandbox }', `environment: ${JSON.stringify(environment)} }`);
const withoutRationale = (scenario: string) => scenario.replace(/^ {2}rationale: .*\n/m, '');

const DECLARED_PLAN = PLAN.replace(
  '  testPolicy:',
  `  environments:
    production: { class: production, aliases: [prod, eu-main] }
    staging: { class: non-production }
    lab: { class: sandbox, aliases: [sandbox] }
  testPolicy:`,
);

describe('environment classes', () => {
  it('resolves the defaults case-insensitively when the plan declares none', () => {
    for (const name of ['production', 'PROD', 'Prd', 'live', ' production ']) expect(environmentClassOf(undefined, name)).toBe('production');
    expect(environmentClassOf(undefined, 'Sandbox')).toBe('sandbox');
    for (const name of ['staging', 'qa', 'tabletop (no systems touched)', '']) expect(environmentClassOf(undefined, name)).toBe('non-production');
  });

  it('resolves declared names and aliases, which override the defaults', () => {
    const plan = {
      spec: {
        environments: {
          'eu-main': { class: 'production' as const, aliases: ['Frankfurt'] },
          live: { class: 'non-production' as const },
        },
      },
    };
    expect(environmentClassOf(plan, 'EU-MAIN')).toBe('production');
    expect(environmentClassOf(plan, 'frankfurt')).toBe('production');
    expect(environmentClassOf(plan, 'live')).toBe('non-production');
    // Not declared (validate refuses it): the defaults still guard it.
    expect(environmentClassOf(plan, 'prod')).toBe('production');
  });

  it('carries the class on the loaded scenario', async () => {
    const prod = await loadScenarioText(withEnvironment('Prod'));
    expect(prod.errors).toEqual([]);
    expect(prod.loaded?.environmentClass).toBe('production');
    const declared = await loadScenarioText(withEnvironment('eu-main'), DECLARED_PLAN);
    expect(declared.errors).toEqual([]);
    expect(declared.loaded?.environmentClass).toBe('production');
    expect((await loadScenarioText(SCENARIO)).loaded?.environmentClass).toBe('sandbox');
  });

  it('refuses a near miss of a default name with a did-you-mean (finding 2: `sandbx` was accepted)', async () => {
    const { errors, loaded } = await loadScenarioText(withEnvironment('sandbx'));
    expect(loaded).toBeUndefined();
    expect(errors).toEqual([
      expect.objectContaining({ path: 'metadata.environment', line: 3, message: expect.stringContaining('`sandbx` is not a known environment name'), hint: expect.stringMatching(/^did you mean `sandbox`\?/) }),
    ]);
  });

  it('refuses a name built around a default one, which the defaults would make non-production', async () => {
    const prodEu = await loadScenarioText(withEnvironment('prod-eu'));
    expect(prodEu.errors).toEqual([expect.objectContaining({ path: 'metadata.environment', message: expect.stringContaining('reads like production') })]);
    expect(prodEu.errors[0]!.message).toContain('no --confirm guard');
    expect(prodEu.errors[0]!.hint).toContain('spec.environments');
    const sandboxCi = await loadScenarioText(withEnvironment('sandbox-ci'));
    expect(sandboxCi.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('reads like a sandbox') })]);
    // Other free text stays free text.
    expect((await loadScenarioText(withEnvironment('staging'))).errors).toEqual([]);
    expect((await loadScenarioText(withEnvironment('tabletop (no systems touched)'))).errors).toEqual([]);
  });

  it('with declarations, refuses any name the plan does not know, with a did-you-mean', async () => {
    const typo = await loadScenarioText(withEnvironment('stagin'), DECLARED_PLAN);
    expect(typo.errors).toEqual([
      expect.objectContaining({ path: 'metadata.environment', message: expect.stringContaining('`stagin` is not declared in the plan `acme-continuity-plan`'), hint: 'did you mean `staging`?' }),
    ]);
    // A default name is no longer known by itself once the plan lists its environments.
    const live = await loadScenarioText(withEnvironment('live'), DECLARED_PLAN);
    expect(live.errors[0]?.hint).toMatch(/environments in the plan: `production`, `prod`, `eu-main`, `staging`, `lab` and `sandbox`/);
    const alias = await loadScenarioText(withEnvironment('SANDBOX'), DECLARED_PLAN);
    expect(alias.errors).toEqual([]);
    expect(alias.loaded?.environmentClass).toBe('sandbox');
  });

  it('refuses a plan where one name stands for two environments', async () => {
    const dir = await workspace({ 'plan.yaml': DECLARED_PLAN.replace('staging: { class: non-production }', 'staging: { class: non-production, aliases: [PROD] }') });
    const diagnostics = new Diagnostics();
    expect(await loadPlan(path.join(dir, 'plan.yaml'), diagnostics)).toBeUndefined();
    expect(diagnostics.all).toEqual([
      expect.objectContaining({ path: 'spec.environments.staging.aliases[0]', message: '`PROD` already names the environment `production`' }),
    ]);
  });

  it('refuses an unknown class with the choices', async () => {
    const dir = await workspace({ 'plan.yaml': DECLARED_PLAN.replace('class: non-production }', 'class: staging }') });
    const diagnostics = new Diagnostics();
    expect(await loadPlan(path.join(dir, 'plan.yaml'), diagnostics)).toBeUndefined();
    expect(diagnostics.all[0]).toMatchObject({ path: 'spec.environments.staging.class', hint: expect.stringContaining('`production`, `non-production` or `sandbox`') });
  });
});

describe('durations', () => {
  const withGuardrail = (maxDuration: string) => `${SCENARIO}  guardrails: { maxDuration: ${maxDuration} }\n`;

  it('accepts a long but sane duration (30d)', async () => {
    const { errors, loaded } = await loadScenarioText(withGuardrail('30d'));
    expect(errors).toEqual([]);
    expect(loaded?.scenario.spec.guardrails.maxDuration).toBe('30d');
  });

  it('refuses an absurd duration with a located error (finding 10: 99999999999999999999999ms validated)', async () => {
    const { errors } = await loadScenarioText(withGuardrail('99999999999999999999999ms'));
    expect(errors).toEqual([
      expect.objectContaining({ path: 'spec.guardrails.maxDuration', line: 14, message: expect.stringContaining('is longer than 3650d (ten years)') }),
    ]);
    expect((await loadScenarioText(withGuardrail('3651d'))).errors).toHaveLength(1);
  });

  it('refuses a single timeout or pause past what a timer holds (24d), naming the limit', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('probes: { interval: 250ms, stableFor: 2 }', 'probes: { interval: 250ms, timeout: 30d, stableFor: 2 }'));
    expect(errors).toEqual([
      expect.objectContaining({ path: 'spec.probes.timeout', message: '`30d` is longer than 24d, the longest single timeout or pause drillbook waits for' }),
    ]);
    const pause = await loadScenarioText(SCENARIO.replace('faults: [ { type: kill-primary } ]', 'faults: [ { type: pause-primary, duration: 25d } ]'));
    expect(pause.errors).toEqual([expect.objectContaining({ path: 'spec.faults[0].duration' })]);
  });

  it.each([
    ['maxDuration: 0s', (s: string) => `${s}  guardrails: { maxDuration: 0s }\n`, 'spec.guardrails.maxDuration'],
    ['probe timeout: 0ms', (s: string) => s.replace('probes: { interval: 250ms, stableFor: 2 }', 'probes: { interval: 250ms, timeout: 0ms, stableFor: 2 }'), 'spec.probes.timeout'],
    ['probe interval: 0s', (s: string) => s.replace('interval: 250ms', 'interval: 0s'), 'spec.probes.interval'],
    ['recovery timeout: 0m', (s: string) => s.replace('recovery: { action: promote }', 'recovery: { action: promote, timeout: 0m }'), 'spec.recovery.timeout'],
  ])('refuses a zero where it makes no sense: %s', async (_name, edit, at) => {
    const { errors } = await loadScenarioText(edit(SCENARIO));
    expect(errors).toEqual([expect.objectContaining({ path: at, message: expect.stringContaining('must not be zero here') })]);
  });

  it('keeps zero where it means something: recovery.after and a zero RPO', async () => {
    const scenario = SCENARIO.replace('recovery: { action: promote }', 'recovery: { action: promote, after: 0s }').replace('rpo: 5s }', 'rpo: 0s }');
    expect((await loadScenarioText(scenario)).errors).toEqual([]);
  });
});

describe('a directory named like a file (finding 13)', () => {
  it('is a located error when named, and is never taken for a file by the walk', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN });
    await mkdir(path.join(dir, 'x', 'drill.yaml'), { recursive: true });
    const diagnostics = new Diagnostics();
    const checked = await validatePaths([path.join(dir, 'x', 'drill.yaml')], diagnostics);
    expect(checked).toEqual([{ file: path.join(dir, 'x', 'drill.yaml'), kind: undefined, valid: false }]);
    expect(diagnostics.all).toEqual([
      expect.objectContaining({ severity: 'error', file: path.join(dir, 'x', 'drill.yaml'), line: 1, col: 1, message: 'is a directory, not a file' }),
    ]);
    expect(await findYamlFiles(dir)).toEqual([path.join(dir, 'plan.yaml')]);
  });
});

describe('spec.rationale', () => {
  it('is parsed onto the scenario', async () => {
    const { loaded } = await loadScenarioText(SCENARIO);
    expect(loaded?.scenario.spec.rationale).toEqual({ threat: 'The orders primary crashes', likelihood: 'medium', impact: 'high' });
  });

  it('is a warning when missing from a drill outside production', async () => {
    const { diagnostics, loaded } = await loadScenarioText(withoutRationale(SCENARIO));
    expect(loaded).toBeDefined();
    expect(diagnostics.all).toEqual([
      expect.objectContaining({ severity: 'warning', path: 'spec', message: expect.stringContaining('no `spec.rationale`'), hint: expect.stringContaining('likelihood: low|medium|high') }),
    ]);
  });

  it('is required for a production-class drill, by default name or by declaration', async () => {
    for (const [environment, plan] of [['prod', PLAN], ['eu-main', DECLARED_PLAN]] as const) {
      const { errors, loaded } = await loadScenarioText(withEnvironment(environment, withoutRationale(SCENARIO)), plan);
      expect(loaded).toBeUndefined();
      expect(errors).toEqual([expect.objectContaining({ path: 'spec', message: 'a production drill needs `spec.rationale`' })]);
    }
  });

  it('uses a small documented scale', async () => {
    const { errors } = await loadScenarioText(SCENARIO.replace('likelihood: medium', 'likelihood: extreme'));
    expect(errors).toEqual([
      expect.objectContaining({ path: 'spec.rationale.likelihood', message: '`extreme` is not one of the allowed values', hint: 'one of `low`, `medium` or `high`' }),
    ]);
  });
});

describe('plan version', () => {
  it('is exported in the validated plan, as written', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN });
    const loaded = await loadPlan(path.join(dir, 'plan.yaml'), new Diagnostics());
    expect(planVersion(loaded!.plan)).toBe('2026.3');
  });

  it('must not be empty', async () => {
    const dir = await workspace({ 'plan.yaml': PLAN.replace('version: "2026.3"', 'version: "  "') });
    const diagnostics = new Diagnostics();
    expect(await loadPlan(path.join(dir, 'plan.yaml'), diagnostics)).toBeUndefined();
    expect(diagnostics.all).toEqual([expect.objectContaining({ path: 'metadata.version', message: 'must not be empty' })]);
  });

  it('orders versions the way people read them', () => {
    const sorted = ['2026.10', 'v2026.9', '2026.3.1', '2026.3', '3', '2026.3-hotfix'].sort(comparePlanVersions);
    expect(sorted).toEqual(['3', '2026.3', '2026.3-hotfix', '2026.3.1', 'v2026.9', '2026.10']);
    expect(comparePlanVersions('v4', '4')).toBe(0);
    expect(comparePlanVersions('2026.10', '2026.9')).toBeGreaterThan(0);
  });
});
