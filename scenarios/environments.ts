/**
 * Environment classes (SPEC v1.1 "Environments"). A scenario's `metadata.environment` is a
 * name people choose; what drillbook does with it depends on its class: the production
 * guard (`--confirm`) applies to the production class, and sandbox runs never count as
 * coverage of the live system. The plan may declare its environments with a class and
 * aliases; without a declaration, `production`, `prod`, `prd` and `live` are production,
 * `sandbox` is sandbox and anything else is non-production. Names match case-insensitively.
 *
 * Pure: no file access, so the CLI, the engine and the reports resolve a class the same way.
 */
import { z } from 'zod';
import type { Reporter } from './diagnostics.js';
import { closest, listChoices } from './suggest.js';

export const ENVIRONMENT_CLASSES = ['production', 'non-production', 'sandbox'] as const;
export const EnvironmentClass = z.enum(ENVIRONMENT_CLASSES);
export type EnvironmentClass = z.infer<typeof EnvironmentClass>;

export const EnvironmentDeclaration = z.strictObject({
  class: EnvironmentClass.describe('production: guarded by --confirm; sandbox: a stand-in, never coverage of the live system'),
  aliases: z.array(z.string().trim().min(1)).optional().describe('Other names scenarios may use for this environment'),
  productionEquivalent: z
    .boolean()
    .optional()
    .describe('non-production only: a copy of production in scale and configuration whose runs count as coverage of the live system'),
  description: z.string().optional(),
});
export type EnvironmentDeclaration = z.infer<typeof EnvironmentDeclaration>;

export const EnvironmentDeclarations = z
  .record(z.string().trim().min(1), EnvironmentDeclaration)
  .describe('The environments scenarios may name, each with its class; when present, no other name is accepted');
export type EnvironmentDeclarations = z.infer<typeof EnvironmentDeclarations>;

/** The classes names have when the plan declares no environments. */
export const DEFAULT_ENVIRONMENT_CLASSES: Readonly<Record<string, EnvironmentClass>> = Object.freeze({
  production: 'production',
  prod: 'production',
  prd: 'production',
  live: 'production',
  sandbox: 'sandbox',
});

/** What the resolver needs of a plan (a parsed ContinuityPlan, or the `plan` part of a run). */
export interface PlanWithEnvironments {
  spec?: { environments?: EnvironmentDeclarations | undefined } | undefined;
}

const normalize = (name: string) => name.trim().toLowerCase();

/** The plan's declared environments, or undefined when it declares none (an empty mapping declares none). */
function declarations(plan: PlanWithEnvironments | undefined): EnvironmentDeclarations | undefined {
  const declared = plan?.spec?.environments;
  return declared && Object.keys(declared).length > 0 ? declared : undefined;
}

/** The declared environment a name or alias stands for: its declared name and class. */
export function declaredEnvironment(
  plan: PlanWithEnvironments | undefined,
  name: string,
): { name: string; class: EnvironmentClass } | undefined {
  const wanted = normalize(name);
  for (const [declaredName, declaration] of Object.entries(declarations(plan) ?? {})) {
    if (normalize(declaredName) === wanted || (declaration.aliases ?? []).some((alias) => normalize(alias) === wanted)) {
      return { name: declaredName, class: declaration.class };
    }
  }
  return undefined;
}

/**
 * The class of an environment name under a plan: its declaration when the plan has one for
 * it, otherwise the defaults. A name the plan does not declare is refused by `validate`, so
 * the fallback only matters for records made before the declaration existed.
 */
export function environmentClassOf(plan: PlanWithEnvironments | undefined, name: string): EnvironmentClass {
  return declaredEnvironment(plan, name)?.class ?? DEFAULT_ENVIRONMENT_CLASSES[normalize(name)] ?? 'non-production';
}

/**
 * `metadata.environment` must be one the plan knows. With declarations: one of their names
 * or aliases (did-you-mean otherwise). Without: any name, except one that looks like a
 * default name but is not one — a near miss (`sandbx`) or a name built around one
 * (`prod-eu`, `sandbox-ci`) — because the defaults would silently make it non-production.
 */
export function checkEnvironmentReference(
  environment: unknown,
  plan: PlanWithEnvironments & { metadata?: { name?: string } },
  planFile: string,
  report: Reporter,
): void {
  if (typeof environment !== 'string' || environment.trim() === '') return; // the schema reports it
  const at = ['metadata', 'environment'];
  const declared = declarations(plan);
  if (declared) {
    if (declaredEnvironment(plan, environment)) return;
    const known = Object.entries(declared).flatMap(([name, declaration]) => [name, ...(declaration.aliases ?? [])]);
    const suggestion = closest(environment.trim(), known);
    report(at, `environment \`${environment}\` is not declared in the plan \`${plan.metadata?.name ?? '?'}\` (${planFile})`, {
      hint: suggestion
        ? `did you mean \`${suggestion}\`?`
        : `environments in the plan: ${listChoices(known, 'and')}; or declare it under spec.environments with its class`,
    });
    return;
  }

  const name = normalize(environment);
  if (DEFAULT_ENVIRONMENT_CLASSES[name]) return;
  const defaults = Object.keys(DEFAULT_ENVIRONMENT_CLASSES);
  const howToDeclare = `declare it in the plan, e.g. \`spec.environments: { ${environment.trim()}: { class: … } }\` with production, non-production or sandbox`;
  const word = name.split(/[^a-z0-9]+/).find((token) => DEFAULT_ENVIRONMENT_CLASSES[token]);
  if (word) {
    const production = DEFAULT_ENVIRONMENT_CLASSES[word] === 'production';
    report(at, `environment \`${environment}\` reads like ${production ? 'production' : 'a sandbox'}, but without a declaration it is non-production${production ? ' (no --confirm guard)' : ''}`, {
      hint: `${howToDeclare}; or name it \`${word}\``,
    });
    return;
  }
  const nearMiss = closest(name, defaults);
  if (nearMiss) {
    report(at, `environment \`${environment}\` is not a known environment name`, {
      hint: `did you mean \`${nearMiss}\`? (without spec.environments in the plan it would be non-production; or ${howToDeclare})`,
    });
  }
}

/** Within a plan, each environment name and alias stands for one environment. */
export function checkPlanEnvironments(environments: unknown, report: Reporter): void {
  if (environments === null || typeof environments !== 'object' || Array.isArray(environments)) return;
  const owner = new Map<string, string>();
  for (const [name, declaration] of Object.entries(environments as Record<string, unknown>)) {
    const declared = declaration as { class?: unknown; productionEquivalent?: unknown } | null;
    if (declared?.productionEquivalent === true && declared.class !== 'non-production') {
      report(['spec', 'environments', name, 'productionEquivalent'], `productionEquivalent applies to a non-production environment; \`${name}\` is ${String(declared.class)}`, {
        hint: declared.class === 'sandbox' ? 'a sandbox is a stand-in and never counts as the live system' : 'a production environment is the live system already; remove productionEquivalent',
      });
    }
    const aliases = (declaration as { aliases?: unknown } | null)?.aliases;
    const names: Array<[string, (string | number)[]]> = [[name, ['spec', 'environments', name]]];
    if (Array.isArray(aliases)) {
      aliases.forEach((alias, index) => {
        if (typeof alias === 'string') names.push([alias, ['spec', 'environments', name, 'aliases', index]]);
      });
    }
    for (const [candidate, at] of names) {
      const key = normalize(candidate);
      const first = owner.get(key);
      if (first === undefined) owner.set(key, name);
      else if (first !== name) {
        report(at, `\`${candidate}\` already names the environment \`${first}\``, {
          hint: 'each name or alias (compared case-insensitively) may stand for one environment only',
        });
      }
    }
  }
}

/**
 * Whether a run in `environment` (of class `environmentClass`, as the run recorded it) is
 * evidence about the live system, for coverage: production-class runs are; a non-production
 * environment the plan declares `productionEquivalent: true` is; so is a tabletop outside a
 * sandbox (a discussion of the plan touches no environment, so its label says nothing about
 * which system was exercised). Everything else, sandbox runs always, is a rehearsal.
 */
export function coversLiveSystem(plan: PlanWithEnvironments | undefined, environment: string, environmentClass: EnvironmentClass, type: string): boolean {
  if (environmentClass === 'production') return true;
  if (environmentClass === 'sandbox') return false;
  if (type === 'tabletop') return true;
  const declared = declaredEnvironment(plan, environment);
  const declaration = declared ? plan?.spec?.environments?.[declared.name] : undefined;
  return declaration?.class === 'non-production' && declaration.productionEquivalent === true;
}
