/**
 * Runners by `spec.type`, drivers by `spec.target.driver`: one contract per extension point,
 * looked up by name, with an error that says what exists when a name is unknown.
 */
import type { LoadedScenario, Reporter } from '../scenarios/load.js';
import type { TestType } from '../scenarios/schema.js';
import { kubernetesDriver } from './drivers/kubernetes/driver.js';
import { postgresDriver } from './drivers/postgres/driver.js';
import { rdsDriver } from './drivers/rds/driver.js';
import type { Driver } from './drivers/types.js';
import { runTabletop } from './exercise/tabletop.js';
import { validateTabletop, validateWalkthrough } from './exercise/validate.js';
import { runWalkthrough } from './exercise/walkthrough.js';
import { runMeasuredDrill } from './measured-drill.js';
import { measuring, type Runner } from './runner.js';
import { parseDuration } from '../scenarios/duration.js';

/** The built-in drivers; a run takes others through RunOptions.drivers (tests pass fakes that way). */
export const drivers: Readonly<Record<string, Driver>> = Object.freeze({ postgres: postgresDriver, kubernetes: kubernetesDriver, rds: rdsDriver });

function needsTarget(loaded: LoadedScenario, report: Reporter): Driver | undefined {
  const target = loaded.scenario.spec.target;
  if (!target) {
    report(['spec'], `a ${loaded.scenario.spec.type} drill needs spec.target`, { hint: 'e.g. target: { driver: postgres, sandbox: true }' });
    return undefined;
  }
  return drivers[target.driver];
}

function measuredRunner(type: 'failover' | 'parallel-restore'): Runner {
  return {
    type,
    validate(loaded, report) {
      needsTarget(loaded, report)?.validate(loaded, report);
    },
    run(ctx, env) {
      const name = ctx.loaded.scenario.spec.target!.driver;
      const driver = env.drivers[name];
      if (!driver) throw new UnsupportedError(`no driver ${name}: drivers are ${Object.keys(env.drivers).join(', ')}`);
      return measuring((result) => runMeasuredDrill(ctx, driver, result));
    },
  };
}

export const runners: Partial<Record<TestType, Runner>> = {
  tabletop: { type: 'tabletop', validate: validateTabletop, run: (ctx) => measuring((result) => runTabletop(ctx, result)) },
  simulation: {
    type: 'simulation',
    validate: validateWalkthrough,
    run(ctx) {
      const rto = ctx.loaded.scenario.spec.targets?.rto ?? ctx.loaded.system.rto;
      return measuring((result) => runWalkthrough(ctx, result, (parseDuration(rto) ?? 0) / 1000));
    },
  },
  failover: measuredRunner('failover'),
  'parallel-restore': measuredRunner('parallel-restore'),
};

export class UnsupportedError extends Error {}

export function runnerFor(type: TestType): Runner {
  const runner = runners[type];
  if (!runner) {
    throw new UnsupportedError(
      `no runner for spec.type ${type} in this version: runnable types are ${Object.keys(runners).join(', ')}`,
    );
  }
  return runner;
}

/** The checks the loader runs for every scenario: runner- and driver-specific settings. */
export function scenarioChecks(loaded: LoadedScenario, report: Reporter): void {
  const runner = runners[loaded.scenario.spec.type];
  if (!runner) {
    report(['spec', 'type'], `spec.type ${loaded.scenario.spec.type} cannot be run by this version of drillbook yet`, {
      severity: 'warning',
      hint: `runnable types: ${Object.keys(runners).join(', ')}`,
    });
    return;
  }
  runner.validate(loaded, report);
}

/** Machine checks before anything runs (plan, run): the driver's preflight, errors as errors. */
export function preflightChecks(loaded: LoadedScenario, report: Reporter): void {
  const target = loaded.scenario.spec.target;
  if (target) drivers[target.driver]?.preflight?.(loaded, report);
}

/** The same checks for `validate`, which may run away from the backup's machine: warnings only. */
export function preflightWarnings(loaded: LoadedScenario, report: Reporter): void {
  preflightChecks(loaded, (p, message, opts) => report(p, `${message} (plan and run refuse this: exit 2)`, { ...opts, severity: 'warning' }));
}

export type { Runner };
