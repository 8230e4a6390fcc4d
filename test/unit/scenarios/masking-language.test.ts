/**
 * The language parts of issue 12: `restore.masking` as a declared text or as rules, the kept
 * production copy that needs masking, the unkeyed-hash warning, and the tier policy's
 * `maxBackupAge`. Each case goes through the loader as `validate` sees it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadPlan } from '../../../scenarios/load.js';
import { describeMasking, normalizeIdentifier, splitTableName } from '../../../scenarios/masking.js';
import { requiredTests } from '../../../scenarios/schema.js';
import { computeCoverage } from '../../../reports/coverage.js';
import { loadScenarioText, PLAN, SCENARIO, workspace } from './files.js';

const inEnvironment = (environment: string) => SCENARIO.replace('environment: sandbox }', `environment: ${environment} }`);
const withRestore = (restore: string, environment = 'sandbox') => `${inEnvironment(environment)}  restore:\n${restore.replace(/^/gm, '    ')}\n`;

/** This file is about masking; the sample drill's other notices (a restore block in a failover drill has no effect) are not its business. */
const maskingDiagnostics = (all: readonly { path: string }[]) => all.filter((d) => d.path.startsWith('spec.restore.masking'));

const RULES = `masking:
  key: { env: MASKING_KEY }
  rules:
    - { table: public.customers, column: email, method: hash }
    - { table: customers, column: full_name, method: redact }
    - { table: '"Sales"."Leads"', column: '"Phone"', method: 'null' }`;

describe('restore.masking', () => {
  it('accepts a declared text and keeps it as written', async () => {
    const { errors, loaded } = await loadScenarioText(withRestore('masking: masked by the nightly anonymiser before export'));
    expect(errors).toEqual([]);
    expect(loaded?.scenario.spec.restore?.masking).toBe('masked by the nightly anonymiser before export');
    expect(describeMasking(loaded?.scenario.spec.restore?.masking)).toBe('masked by the nightly anonymiser before export');
  });

  it('accepts rules with a key, quoted and schema-qualified names included', async () => {
    const { errors, loaded } = await loadScenarioText(withRestore(RULES));
    expect(errors).toEqual([]);
    const masking = loaded?.scenario.spec.restore?.masking;
    expect(masking).toEqual({
      key: { env: 'MASKING_KEY' },
      rules: [
        { table: 'public.customers', column: 'email', method: 'hash' },
        { table: 'customers', column: 'full_name', method: 'redact' },
        { table: '"Sales"."Leads"', column: '"Phone"', method: 'null' },
      ],
    });
    // The description names the rules and that the hash is keyed, never the key's source value.
    expect(describeMasking(masking)).toBe('rules declared: public.customers.email hash, customers.full_name redact, "Sales"."Leads"."Phone" null; hash is keyed HMAC-SHA256');
  });

  it('refuses an unknown method with the choices, and a table that is not a name', async () => {
    const { errors } = await loadScenarioText(withRestore('masking: { rules: [ { table: "customers; drop table x", column: email, method: shuffle } ] }'));
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]));
    expect(byPath['spec.restore.masking.rules[0].method']?.hint).toMatch(/`hash`, `null` or `redact`/);
    expect(byPath['spec.restore.masking.rules[0].table']?.message).toMatch(/table name as written in SQL/);
    expect(byPath['spec.restore.masking.rules[0].method']?.line).toBe(15);
  });

  it('refuses an inline key: secrets are named, never inline', async () => {
    const { errors } = await loadScenarioText(withRestore('masking: { key: s3cret, rules: [ { table: t, column: c, method: hash } ] }'));
    expect(errors).toEqual([expect.objectContaining({ path: 'spec.restore.masking.key', message: expect.stringContaining('secrets are never inline') })]);
  });

  it('refuses empty rules and a misspelt key with a hint', async () => {
    const empty = await loadScenarioText(withRestore('masking: { rules: [] }'));
    expect(empty.errors.map((e) => e.path)).toEqual(['spec.restore.masking.rules']);
    const typo = await loadScenarioText(withRestore('masking: { rules: [ { table: t, column: c, method: hash } ], kee: { env: K } }'));
    expect(typo.errors[0]).toMatchObject({ path: expect.stringMatching(/^spec\.restore\.masking/) });
  });

  it('refuses two rules for one column, comparing names as PostgreSQL reads them', async () => {
    const { errors } = await loadScenarioText(
      withRestore('masking: { rules: [ { table: Customers, column: EMAIL, method: hash }, { table: public.customers, column: email, method: redact } ] }'),
    );
    expect(errors).toEqual([expect.objectContaining({ path: 'spec.restore.masking.rules[1]', message: '`public.customers.email` is already masked by rules[0]' })]);
    // "Email" quoted is another column than email.
    const distinct = await loadScenarioText(withRestore(`masking: { rules: [ { table: customers, column: email, method: hash }, { table: customers, column: '"Email"', method: hash } ] }`));
    expect(distinct.errors).toEqual([]);
  });

  it('reads identifiers the way PostgreSQL does', () => {
    expect(normalizeIdentifier('Email')).toBe('email');
    expect(normalizeIdentifier('"Email"')).toBe('Email');
    expect(normalizeIdentifier('"a""b"')).toBe('a"b');
    expect(splitTableName('Sales.Leads')).toEqual(['sales', 'leads']);
    expect(splitTableName('"Sales"."Le.ads"')).toEqual(['Sales', 'Le.ads']);
  });
});

describe('a kept copy of production data', () => {
  it('is refused without masking rules, even with a reason to keep it', async () => {
    const { errors } = await loadScenarioText(withRestore('keep: 7d\nreason: the auditor samples it next week', 'production'));
    expect(errors).toEqual([
      expect.objectContaining({
        path: 'spec.restore.keep',
        line: 15,
        message: 'a kept copy of production data needs masking rules, or a masking text that says why it may stay unmasked',
        hint: expect.stringContaining('masking: { rules:'),
      }),
    ]);
  });

  it('reports both problems when the reason is missing too', async () => {
    const { errors } = await loadScenarioText(withRestore('keep: 7d', 'prod'));
    expect(errors.map((e) => e.message)).toEqual([
      'keeping the restored copy needs a reason',
      'a kept copy of production data needs masking rules, or a masking text that says why it may stay unmasked',
    ]);
  });

  it('is accepted with masking rules, or with a masking text that says why', async () => {
    expect((await loadScenarioText(withRestore(`keep: 7d\nreason: audit sample\n${RULES}`, 'production'))).errors).toEqual([]);
    expect((await loadScenarioText(withRestore('keep: 7d\nreason: audit sample\nmasking: holds no personal data (orders ledger only)', 'production'))).errors).toEqual([]);
  });

  it('is not refused outside production, nor when the copy is not kept', async () => {
    expect((await loadScenarioText(withRestore('keep: 7d\nreason: audit sample', 'staging'))).errors).toEqual([]);
    expect((await loadScenarioText(withRestore('access: dba team only', 'production'))).errors).toEqual([]);
  });

  it('follows the plan-declared class of the environment', async () => {
    const plan = PLAN.replace('  testPolicy:', '  environments: { eu-main: { class: production } }\n  testPolicy:');
    const { errors } = await loadScenarioText(withRestore('keep: 7d\nreason: audit sample', 'eu-main'), plan);
    expect(errors.map((e) => e.path)).toEqual(['spec.restore.keep']);
  });
});

describe('unkeyed hash of production data', () => {
  const unkeyed = 'masking: { rules: [ { table: customers, column: full_name, method: redact }, { table: customers, column: email, method: hash } ] }';

  it('is a warning that points at the first hash rule', async () => {
    const { errors, diagnostics, loaded } = await loadScenarioText(withRestore(unkeyed, 'production'));
    expect(errors).toEqual([]);
    expect(loaded).toBeDefined();
    expect(maskingDiagnostics(diagnostics.all)).toEqual([
      expect.objectContaining({ severity: 'warning', path: 'spec.restore.masking.rules[1].method', message: expect.stringContaining('hashed without a key'), hint: expect.stringContaining('key: { env: MASKING_KEY }') }),
    ]);
    expect(describeMasking(loaded?.scenario.spec.restore?.masking)).toMatch(/hash is unkeyed SHA-256$/);
  });

  it('is not a warning with a key, or outside production', async () => {
    expect(maskingDiagnostics((await loadScenarioText(withRestore(RULES, 'production'))).diagnostics.all)).toEqual([]);
    expect(maskingDiagnostics((await loadScenarioText(withRestore(unkeyed, 'staging'))).diagnostics.all)).toEqual([]);
  });
});

describe('spec.testPolicy.<tier>.maxBackupAge', () => {
  const planWith = (policy: string) => PLAN.replace(/ {2}testPolicy: .*\n/, `  testPolicy: ${policy}\n`);
  const load = async (plan: string) => {
    const dir = await workspace({ 'plan.yaml': plan });
    const diagnostics = new Diagnostics();
    return { loaded: await loadPlan(path.join(dir, 'plan.yaml'), diagnostics), diagnostics };
  };

  it('is accepted beside the test frequencies and is not a test type coverage requires', async () => {
    const { loaded, diagnostics } = await load(planWith('{ "1": { parallel-restore: 90d, maxBackupAge: 26h } }'));
    expect(diagnostics.all).toEqual([]);
    const policy = loaded!.plan.spec.testPolicy?.['1'];
    expect(policy?.maxBackupAge).toBe('26h');
    expect(requiredTests(policy)).toEqual([['parallel-restore', '90d']]);
    const coverage = computeCoverage(loaded!.plan, [], { asOf: new Date('2026-12-01T00:00:00Z') } as never);
    expect(JSON.stringify(coverage)).not.toContain('maxBackupAge');
  });

  it('refuses a zero or malformed age and a misspelt key, located', async () => {
    const zero = await load(planWith('{ "1": { maxBackupAge: 0s } }'));
    expect(zero.loaded).toBeUndefined();
    expect(zero.diagnostics.all[0]).toMatchObject({ path: 'spec.testPolicy.1.maxBackupAge', line: 8 });
    const typo = await load(planWith('{ "1": { maxBackupAgе: 26h, failovr: 30d } }'));
    expect(typo.loaded).toBeUndefined();
    expect(typo.diagnostics.all.map((d) => d.hint).join(' ')).toMatch(/failover/);
  });
});
