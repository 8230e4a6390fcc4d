/**
 * `drillbook validate <paths...>`: every problem of every file, located, then one summary
 * line; 0 valid, 2 invalid. Shared by the commander command and the launcher's fast path
 * (bin/validate-fast.ts), so both print exactly the same.
 */
import { Diagnostics } from '../../scenarios/diagnostics.js';
import { EXIT, err, out, scenarioChecks } from '../cli-common.js';

export async function validateCommand(paths: string[]): Promise<number> {
  const { validatePaths } = await import('../../scenarios/load.js');
  const diagnostics = new Diagnostics();
  // The driver's preflight on this machine (the backup exists, its binaries are found) shows as
  // warnings here: plan and run refuse the same problems with exit 2.
  const checked = await validatePaths(paths, diagnostics, { checks: [...(await scenarioChecks()), (await import('../../runners/registry.js')).preflightWarnings] });
  const text = diagnostics.format();
  if (text) err(text);
  const valid = checked.filter((c) => c.valid).length;
  out(`${checked.length} file${checked.length === 1 ? '' : 's'} checked, ${valid} valid; ${diagnostics.summary()}`);
  return diagnostics.hasErrors() ? EXIT.invalid : EXIT.ok;
}
