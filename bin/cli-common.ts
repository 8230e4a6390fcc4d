/**
 * What every command module shares: the exit codes SPEC fixes, the Exit signal that carries
 * one up to `main`, plain output helpers, and loading a scenario with every problem printed.
 * Command groups live in `bin/commands/*.ts` and register themselves on the program.
 */
import { Diagnostics } from '../scenarios/diagnostics.js';
import type { LoadedScenario } from '../scenarios/load.js';

export const EXIT = { ok: 0, findings: 1, invalid: 2, aborted: 3, incomplete: 4, forced: 130 } as const;

export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Output whose reader has gone (EPIPE, see watchOutput in cli.ts) is dropped, not thrown. */
export const out = (line = '') => void (process.stdout.destroyed || process.stdout.write(`${line}\n`));
export const err = (line = '') => void (process.stderr.destroyed || process.stderr.write(`${line}\n`));

export async function scenarioChecks() {
  return [(await import('../runners/registry.js')).scenarioChecks];
}

/** plan and run: the scenario checks plus the driver's preflight on this machine (errors). */
async function runnableChecks() {
  const registry = await import('../runners/registry.js');
  return [registry.scenarioChecks, registry.preflightChecks];
}

/** Loads a scenario for plan/run; prints every problem and exits 2 when there are any. */
export async function loadOrExit(file: string): Promise<LoadedScenario> {
  const { loadScenario } = await import('../scenarios/load.js');
  const diagnostics = new Diagnostics();
  const loaded = await loadScenario(file, diagnostics, { checks: await runnableChecks() });
  const text = diagnostics.format();
  if (text) err(text);
  if (!loaded || diagnostics.hasErrors()) {
    err(`${file}: ${diagnostics.summary()}`);
    throw new Exit(EXIT.invalid);
  }
  return loaded;
}

