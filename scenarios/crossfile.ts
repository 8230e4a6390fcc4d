/**
 * Checks the schema cannot express: cron syntax, time zones, rules between fields, and
 * references between a scenario and its plan. They read the raw document (not the parsed
 * one) so they still run when the schema found problems elsewhere: the user gets every
 * problem in one pass. Driver- and runner-specific checks live with the runners (they reach
 * the loader through `loadScenario`'s `checks` option).
 */
import { validateCronExpression } from 'cron';
import type { ContinuityPlan } from './schema.js';
import { closest, listChoices } from './suggest.js';
import type { Reporter } from './diagnostics.js';

/** Rules inside one Scenario document. */
export function checkScenarioSemantics(data: unknown, report: Reporter): void {
  const schedule = valueAt(data, ['spec', 'schedule']);
  const cron = valueAt(schedule, ['cron']);
  if (typeof cron === 'string' && cron.trim() !== '') {
    const problem = cronProblem(cron);
    if (problem) {
      report(['spec', 'schedule', 'cron'], `not a cron expression: ${problem}`, {
        hint: 'five fields (minute hour day-of-month month day-of-week) or six with seconds first, e.g. `0 3 * * 1` for 03:00 every Monday',
      });
    }
  }
  const timezone = valueAt(schedule, ['timezone']);
  if (typeof timezone === 'string' && !isTimeZone(timezone)) {
    const suggestion = closest(timezone, knownTimeZones());
    report(['spec', 'schedule', 'timezone'], `unknown time zone \`${timezone}\``, {
      hint: suggestion ? `did you mean \`${suggestion}\`?` : 'use an IANA zone name such as `UTC` or `Europe/Madrid`',
    });
  }

  const restore = valueAt(data, ['spec', 'restore']);
  const keep = valueAt(restore, ['keep']);
  const reason = valueAt(restore, ['reason']);
  if (keep !== undefined && keep !== null && (typeof reason !== 'string' || reason.trim() === '')) {
    // A restored copy of production data that outlives the drill needs a recorded justification.
    report(['spec', 'restore', 'keep'], 'keeping the restored copy needs a reason', {
      hint: 'add `reason:` under `spec.restore` (it is recorded in the evidence), or remove `keep`',
    });
  }
}

/** Rules inside one ContinuityPlan document. */
export function checkPlanSemantics(data: unknown, report: Reporter): void {
  const version = valueAt(data, ['metadata', 'version']);
  if (typeof version === 'number') {
    // YAML reads 2026.10 as the number 2026.1; evidence would then cite the wrong plan version.
    report(['metadata', 'version'], `the version is read as the number ${version}`, {
      severity: 'warning',
      hint: 'quote it, e.g. `version: "2026.10"`, so it is kept exactly as written',
    });
  }

  const systems = valueAt(data, ['spec', 'systems']);
  if (!Array.isArray(systems)) return;

  const firstIndexByName = new Map<string, number>();
  systems.forEach((system, index) => {
    const name = valueAt(system, ['name']);
    if (typeof name !== 'string') return;
    const first = firstIndexByName.get(name);
    if (first === undefined) firstIndexByName.set(name, index);
    else report(['spec', 'systems', index, 'name'], `duplicate system name \`${name}\` (also spec.systems[${first}])`, {
      hint: 'system names must be unique within a plan',
    });
  });

  const names = [...firstIndexByName.keys()];
  const dependencies = new Map<string, string[]>();
  systems.forEach((system, index) => {
    const name = valueAt(system, ['name']);
    const dependsOn = valueAt(system, ['dependsOn']);
    if (!Array.isArray(dependsOn)) return;
    const known: string[] = [];
    dependsOn.forEach((dependency, position) => {
      if (typeof dependency !== 'string') return;
      const at = ['spec', 'systems', index, 'dependsOn', position];
      if (dependency === name) report(at, `system \`${dependency}\` depends on itself`);
      else if (!firstIndexByName.has(dependency)) {
        const suggestion = closest(dependency, names);
        report(at, `\`${dependency}\` is not a system of this plan`, {
          hint: suggestion ? `did you mean \`${suggestion}\`?` : `systems in this plan: ${listChoices(names, 'and')}`,
        });
      } else known.push(dependency);
    });
    if (typeof name === 'string' && firstIndexByName.get(name) === index) dependencies.set(name, known);
  });

  const cycle = findCycle(dependencies);
  if (cycle) {
    const index = firstIndexByName.get(cycle[0]!)!;
    report(['spec', 'systems', index, 'dependsOn'], `dependency cycle: ${cycle.join(' → ')}`, {
      hint: 'recovery order must be a hierarchy; remove one of these dependsOn entries',
    });
  }
}

/** `metadata.system` must name a system of the plan. */
export function checkSystemReference(
  scenarioData: unknown,
  plan: ContinuityPlan,
  planFile: string,
  report: Reporter,
): ContinuityPlan['spec']['systems'][number] | undefined {
  const name = valueAt(scenarioData, ['metadata', 'system']);
  if (typeof name !== 'string' || name === '') return undefined; // the schema reports it
  const system = plan.spec.systems.find((candidate) => candidate.name === name);
  if (system) return system;
  const names = plan.spec.systems.map((candidate) => candidate.name);
  const suggestion = closest(name, names);
  report(['metadata', 'system'], `system \`${name}\` is not in the plan \`${plan.metadata.name}\` (${planFile})`, {
    hint: suggestion ? `did you mean \`${suggestion}\`?` : `systems in the plan: ${listChoices(names, 'and')}`,
  });
  return undefined;
}

function cronProblem(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (!trimmed.startsWith('@')) {
    const fields = trimmed.split(/\s+/).length;
    if (fields !== 5 && fields !== 6) return `${fields} fields; expected 5 or 6`;
  }
  try {
    const result = validateCronExpression(trimmed);
    return result.valid ? undefined : (result.error?.message ?? 'invalid');
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function isTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function knownTimeZones(): string[] {
  try {
    return ['UTC', ...Intl.supportedValuesOf('timeZone')];
  } catch {
    return ['UTC'];
  }
}

/** A cycle as a list of names ending where it started, or undefined. */
function findCycle(dependencies: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const next of dependencies.get(name) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of dependencies.keys()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** The value at a path in untrusted parsed data, or undefined (own properties only). */
export function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}
