/**
 * The scenarios `drillbook schedule <dir>` runs: every valid Scenario with `spec.schedule`
 * under the directory. Each file is checked on its own, so one bad file is reported with its
 * located problems and skipped while the others still run.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { valueAt } from '../../scenarios/crossfile.js';
import { Diagnostics, formatPath } from '../../scenarios/diagnostics.js';
import { findYamlFiles, loadDocument, loadScenario, type PlanCache } from '../../scenarios/load.js';
import { DOCUMENT_KINDS } from '../../scenarios/schema.js';
import { runners, scenarioChecks } from '../registry.js';
import { systemSchedulerClock } from './clock.js';
import { scheduleProblem } from './cron.js';
import type { ScenarioSet, ScheduledScenario } from './scheduler.js';

export async function loadScheduledScenarios(directory: string, nowMs: number = systemSchedulerClock.now()): Promise<ScenarioSet> {
  const set: ScenarioSet = { scenarios: [], invalid: [], unscheduled: [] };
  const plans: PlanCache = new Map();
  const byName = new Map<string, string>();
  for (const file of await findYamlFiles(directory)) {
    const diagnostics = new Diagnostics();
    const key = path.relative(directory, file);
    const document = await loadDocument(file, diagnostics);
    if (!document) {
      set.invalid.push({ file, problems: diagnostics.format() });
      continue;
    }
    const apiVersion = valueAt(document.data, ['apiVersion']);
    const kind = valueAt(document.data, ['kind']);
    // Plans are checked through the scenarios that use them, other drillbook kinds (e.g.
    // recorded answers) are not drills, and other tools' YAML is not ours.
    if (typeof kind === 'string' && kind !== 'Scenario' && Object.hasOwn(DOCUMENT_KINDS, kind)) continue;
    if (kind !== 'Scenario' && !(typeof apiVersion === 'string' && apiVersion.startsWith('drillbook.dev/'))) continue;

    const loaded = await loadScenario(file, diagnostics, { checks: [scenarioChecks], plans });
    if (!loaded || diagnostics.hasErrors()) {
      set.invalid.push({ file, problems: diagnostics.format() });
      continue;
    }
    const { scenario } = loaded;
    const schedule = scenario.spec.schedule;
    if (!schedule) {
      set.unscheduled.push(key);
      continue;
    }
    const at = (target: (string | number)[]) => ({ file, ...loaded.locate(target), path: formatPath(target) });
    if (!runners[scenario.spec.type]) {
      diagnostics.error(
        at(['spec', 'type']),
        `a ${scenario.spec.type} drill cannot be scheduled: this version of drillbook cannot run it`,
        `runnable types: ${Object.keys(runners).join(', ')}`,
      );
    }
    const never = scheduleProblem(schedule, nowMs);
    if (never) diagnostics.error(at(['spec', 'schedule', 'cron']), never, 'check the day-of-month and month fields');
    const sameName = byName.get(scenario.metadata.name);
    if (sameName !== undefined) {
      diagnostics.error(
        at(['metadata', 'name']),
        `the scenario name \`${scenario.metadata.name}\` is already scheduled by ${sameName}`,
        'each scheduled scenario needs its own name: its evidence goes to <evidence>/<name>/',
      );
    }
    if (diagnostics.hasErrors()) {
      set.invalid.push({ file, problems: diagnostics.format() });
      continue;
    }
    byName.set(scenario.metadata.name, file);
    const entry: ScheduledScenario = {
      key,
      file: loaded.file,
      name: scenario.metadata.name,
      system: loaded.system.name,
      tier: loaded.system.tier,
      type: scenario.spec.type,
      environment: scenario.metadata.environment,
      schedule,
    };
    set.scenarios.push(entry);
  }
  return set;
}

/**
 * A cheap fingerprint of the YAML files under `directory` (path, size, mtime): the scheduler
 * polls it and reloads when it changes. Polling rather than fs.watch: it behaves the same on
 * every platform and file system (network mounts, editors that replace files by rename).
 */
export async function directorySignature(directory: string): Promise<string> {
  const parts: string[] = [];
  for (const file of await findYamlFiles(directory)) {
    const info = await stat(file).catch(() => undefined);
    parts.push(`${file}:${info?.size ?? -1}:${info?.mtimeMs ?? -1}`);
  }
  return parts.join('\n');
}

