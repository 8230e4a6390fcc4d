/**
 * The scenarios the Pulumi program deploys: every *.yaml / *.yml file at the top of the
 * scenario directory goes into one ConfigMap (scenarios and the plans they name), and each
 * Scenario with `spec.schedule` becomes a CronJob whose permissions are derived from it.
 *
 * Files are read with the scenario loader's defensive YAML reader (size limit, alias budget,
 * forbidden keys) but the fields used here — `spec.schedule`, `spec.type`,
 * `spec.target.driver`, `spec.faults[].type` and any `namespace` — are read generically, so
 * driver-specific fault settings can grow without this program knowing their schema.
 * `drillbook validate` remains the place for full validation (run it in CI before `pulumi up`).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Diagnostics, formatPath } from '../scenarios/diagnostics.js';
import { loadDocument } from '../scenarios/load.js';
import { InfraError } from './settings.js';

export interface ScenarioFile {
  /** The file name, which is also its ConfigMap key and its name under /scenarios. */
  name: string;
  content: string;
}

export interface ScheduledFault {
  type: string;
  /** Every namespace the fault names (at any depth of its settings). */
  namespaces: string[];
  settings: Record<string, unknown>;
}

export interface ScheduledScenario {
  /** metadata.name */
  name: string;
  /** The file name under the scenario directory. */
  file: string;
  /** metadata.system */
  system: string;
  environment: string;
  type: string;
  driver: string | undefined;
  /** The 5-field cron expression a CronJob takes. */
  cron: string;
  timezone: string | undefined;
  faults: ScheduledFault[];
  /** spec.target as written. */
  target: Record<string, unknown>;
  /** Namespaces named by spec.target (at any depth). */
  targetNamespaces: string[];
}

export interface ScenarioDirectory {
  files: ScenarioFile[];
  scheduled: ScheduledScenario[];
}

/** A ConfigMap holds at most 1 MiB; leave room for its metadata. */
const CONFIGMAP_BUDGET_BYTES = 1_000_000;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Reads the scenario directory; throws one InfraError listing every problem found. */
export async function readScenarioDirectory(dir: string): Promise<ScenarioDirectory> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && /\.ya?ml$/i.test(entry.name) && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InfraError(
      code === 'ENOENT' ? `drillbook:scenariosDir: ${dir} does not exist` : `drillbook:scenariosDir: cannot read ${dir} (${code ?? (error as Error).message})`,
    );
  }
  if (names.length === 0) throw new InfraError(`drillbook:scenariosDir: ${dir} holds no .yaml or .yml files`);

  const diagnostics = new Diagnostics();
  const problems: string[] = [];
  const files: ScenarioFile[] = [];
  const scheduled: ScheduledScenario[] = [];
  let totalBytes = 0;

  for (const name of names) {
    const file = path.join(dir, name);
    if (!CONFIGMAP_KEY.test(name)) {
      problems.push(`${file}: the file name can only hold letters, digits, '-', '_' and '.' (it becomes a ConfigMap key)`);
      continue;
    }
    const loaded = await loadDocument(file, diagnostics);
    if (!loaded) continue;
    if (!isRecord(loaded.data) || typeof loaded.data.apiVersion !== 'string' || !loaded.data.apiVersion.startsWith('drillbook.dev/')) {
      continue; // other tools' YAML next to the drills is not deployed
    }
    totalBytes += Buffer.byteLength(loaded.text);
    files.push({ name, content: loaded.text });
    if (loaded.data.kind !== 'Scenario') continue;

    const at = (property: string) => {
      const segments = property.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
      return `${file}:${loaded.locate(segments).line}: ${formatPath(segments)}`;
    };
    const data = loaded.data;
    const metadata = isRecord(data.metadata) ? data.metadata : {};
    const spec = isRecord(data.spec) ? data.spec : {};
    const schedule = spec.schedule;
    if (schedule === undefined) continue;
    if (!isRecord(schedule) || typeof schedule.cron !== 'string') {
      problems.push(`${at('spec.schedule')}: must be { cron: "<expression>", timezone: <IANA zone> }`);
      continue;
    }
    const scenarioName = metadata.name;
    if (typeof scenarioName !== 'string' || !DNS_LABEL.test(scenarioName)) {
      problems.push(`${at('metadata.name')}: a scheduled scenario needs a name that is a lowercase DNS label`);
      continue;
    }
    const cron = toCronJobSchedule(schedule.cron);
    if (typeof cron !== 'string') {
      problems.push(`${at('spec.schedule.cron')}: ${cron.problem}`);
      continue;
    }
    const timezone = schedule.timezone;
    if (timezone !== undefined && (typeof timezone !== 'string' || !isTimeZone(timezone))) {
      problems.push(`${at('spec.schedule.timezone')}: ${JSON.stringify(timezone)} is not an IANA time zone such as Europe/Berlin`);
      continue;
    }
    const planReference = spec.plan;
    if (typeof planReference === 'string') {
      const planFile = path.resolve(dir, planReference);
      if (path.dirname(planFile) !== path.resolve(dir)) {
        problems.push(`${at('spec.plan')}: the plan must sit in the scenario directory itself (only its top level is deployed), not at ${planReference}`);
        continue;
      }
      if (!names.includes(path.basename(planFile))) {
        problems.push(`${at('spec.plan')}: plan file not found: ${planFile}`);
        continue;
      }
    }
    const target = isRecord(spec.target) ? spec.target : {};
    if (target.driver === 'kubernetes') {
      // The CronJob runs drillbook with the in-cluster config: its only context is
      // inClusterContext and it reaches only the cluster it runs in. A kubeconfig file or a
      // context name written for a workstation would fail every scheduled run.
      const local = (['kubeconfig', 'context'] as const).filter((key) => target[key] !== undefined);
      if (local.length > 0) {
        for (const key of local)
          problems.push(
            `${at(`spec.target.${key}`)}: a scheduled Kubernetes drill runs in its CronJob with the in-cluster service account (context inClusterContext, the cluster it is deployed to): remove ${key} — keep a copy with it for runs from a workstation`,
          );
        continue;
      }
    }
    const faults: ScheduledFault[] = [];
    const rawFaults = Array.isArray(spec.faults) ? spec.faults : [];
    rawFaults.forEach((fault, index) => {
      if (!isRecord(fault) || typeof fault.type !== 'string') {
        problems.push(`${at(`spec.faults.${index}`)}: a fault needs a type`);
        return;
      }
      faults.push({ type: fault.type, namespaces: namespacesIn(fault), settings: fault });
    });
    scheduled.push({
      name: scenarioName,
      file: name,
      system: typeof metadata.system === 'string' ? metadata.system : '',
      environment: typeof metadata.environment === 'string' ? metadata.environment : '',
      type: typeof spec.type === 'string' ? spec.type : '',
      driver: typeof target.driver === 'string' ? target.driver : undefined,
      cron,
      timezone: typeof timezone === 'string' ? timezone : undefined,
      faults,
      target,
      targetNamespaces: namespacesIn(target),
    });
  }

  const seen = new Map<string, string>();
  for (const scenario of scheduled) {
    const other = seen.get(scenario.name);
    if (other !== undefined) problems.push(`${path.join(dir, scenario.file)}: metadata.name: ${scenario.name} is also the name of ${other}; CronJobs are named after scenarios`);
    seen.set(scenario.name, scenario.file);
  }
  if (totalBytes > CONFIGMAP_BUDGET_BYTES) {
    problems.push(`${dir}: the scenario files add up to ${totalBytes} bytes, more than a ConfigMap holds (1 MiB)`);
  }
  const located = diagnostics.format();
  if (located !== '' && diagnostics.hasErrors()) problems.unshift(located);
  if (problems.length > 0) throw new InfraError(`scenarios in ${dir}:\n${problems.join('\n')}`);
  return { files, scheduled };
}

/**
 * A CronJob takes standard 5-field cron. drillbook also accepts 6 fields (seconds first);
 * those deploy only when the seconds field is 0, since Kubernetes cannot start a job at a
 * second other than :00.
 */
export function toCronJobSchedule(expression: string): string | { problem: string } {
  const fields = expression.trim().split(/\s+/);
  if (fields.length === 1 && /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(fields[0]!)) return fields[0]!;
  if (fields.length === 5) return fields.join(' ');
  if (fields.length === 6) {
    if (fields[0] === '0' || fields[0] === '00') return fields.slice(1).join(' ');
    return { problem: `"${expression}" starts at second ${fields[0]}: a Kubernetes CronJob runs at whole minutes only; use 0 for the seconds field or 5 fields` };
  }
  return { problem: `"${expression}" is not a 5-field (or 6-field, seconds first) cron expression` };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return !/^[+-]/.test(zone); // CronJobs take zone names, not offsets
  } catch {
    return false;
  }
}

/** Every string value of a `namespace` key, at any depth (bounded: scenario files are small). */
function namespacesIn(value: unknown, depth = 0, found: Set<string> = new Set()): string[] {
  if (depth > 20) return [...found];
  if (Array.isArray(value)) for (const item of value) namespacesIn(item, depth + 1, found);
  else if (isRecord(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'namespace' && typeof child === 'string') found.add(child);
      else namespacesIn(child, depth + 1, found);
    }
  }
  return [...found].sort();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
