/**
 * Loading drillbook files: a plan, a scenario with its plan and system (every check at
 * once), a recorded answers file, and the directory walk of `drillbook validate`. Reading
 * one file defensively lives in yaml-file.ts, checking it against the schema in
 * validate-document.ts; their public names are re-exported here.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkRationale, checkSystemReference, valueAt } from './crossfile.js';
import { checkEnvironmentReference, type EnvironmentClass, environmentClassOf } from './environments.js';
import { checkRestoreMasking } from './masking.js';
import { Diagnostics, type Reporter } from './diagnostics.js';
import { type ContinuityPlan, type DocumentKind, type ExerciseAnswers, type Scenario } from './schema.js';
import { checkAnswers } from './answers.js';
import { reporterFor, validateDocument } from './validate-document.js';
import { errorMessage, FILE_START, loadDocument, type LoadedDocument, type PathSegment, type Position } from './yaml-file.js';

export type { Reporter } from './diagnostics.js';
export { reporterFor, validateDocument, type ValidatedDocument } from './validate-document.js';
export {
  errorMessage,
  FORBIDDEN_KEYS,
  loadDocument,
  MAX_ALIAS_COUNT,
  MAX_FILE_BYTES,
  MAX_NESTING_DEPTH,
  type LoadedDocument,
  type PathSegment,
  type Position,
} from './yaml-file.js';

// ---------------------------------------------------------------- plans and scenarios

export interface LoadedPlan {
  /** As named (or as resolved from a scenario's `spec.plan`). */
  file: string;
  absolutePath: string;
  sha256: string;
  plan: ContinuityPlan;
  locate(path: readonly PathSegment[]): Position;
}

/**
 * Plans already loaded in this run, by absolute path: a plan shared by many scenarios is
 * read and reported once. Create one per command (`new Map()`); it is not global.
 */
export type PlanCache = Map<string, Promise<LoadedPlan | undefined>>;

export interface LoadedScenario {
  /** Absolute path of the scenario file. */
  file: string;
  sha256: string;
  scenario: Scenario;
  /** Absolute path of the plan file. */
  planFile: string;
  planSha256: string;
  plan: ContinuityPlan;
  system: ContinuityPlan['spec']['systems'][number];
  /** The class of `metadata.environment` under the plan (environments.ts). */
  environmentClass: EnvironmentClass;
  locate(path: readonly PathSegment[]): Position;
}

/** A type-, runner- or driver-specific check supplied by the caller (scenarios/ does not know runners). */
export type ScenarioCheck = (scenario: LoadedScenario, report: Reporter) => void;

export interface LoadScenarioOptions {
  checks?: ScenarioCheck[];
  plans?: PlanCache;
}

/** Loads and validates a ContinuityPlan file (once per cache). */
export function loadPlan(file: string, diagnostics: Diagnostics, plans: PlanCache = new Map()): Promise<LoadedPlan | undefined> {
  const key = path.resolve(file);
  let pending = plans.get(key);
  if (!pending) {
    pending = (async () => {
      const loaded = await loadDocument(file, diagnostics);
      return loaded ? planFromDocument(loaded, diagnostics) : undefined;
    })();
    plans.set(key, pending);
  }
  return pending;
}

function planFromDocument(loaded: LoadedDocument, diagnostics: Diagnostics): LoadedPlan | undefined {
  const validated = validateDocument(loaded, diagnostics, { expect: 'ContinuityPlan' });
  if (validated?.kind !== 'ContinuityPlan') return undefined;
  return {
    file: loaded.file,
    absolutePath: loaded.absolutePath,
    sha256: loaded.sha256,
    plan: validated.value,
    locate: loaded.locate,
  };
}

/**
 * Loads a Scenario, its plan and its system, and runs every check it can — schema, rules,
 * references, then the caller's `checks` — so all problems are reported at once. Returns
 * undefined when any of them found an error.
 */
export async function loadScenario(
  file: string,
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions = {},
): Promise<LoadedScenario | undefined> {
  const loaded = await loadDocument(file, diagnostics);
  return loaded ? scenarioFromDocument(loaded, diagnostics, opts) : undefined;
}

async function scenarioFromDocument(
  loaded: LoadedDocument,
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions,
): Promise<LoadedScenario | undefined> {
  const errorsBefore = diagnostics.count('error');
  const report = reporterFor(loaded, diagnostics);
  const validated = validateDocument(loaded, diagnostics, { expect: 'Scenario' });
  if (!validated && !isKind(loaded.data, 'Scenario')) return undefined; // not a scenario at all: nothing more to check

  // The plan reference is checked even when the schema found problems elsewhere.
  let plan: LoadedPlan | undefined;
  const planReference = valueAt(loaded.data, ['spec', 'plan']);
  if (typeof planReference === 'string' && planReference.trim() !== '') {
    const planFile = path.isAbsolute(planReference) ? planReference : path.join(path.dirname(loaded.file), planReference);
    if (!(await isFile(planFile))) {
      report(['spec', 'plan'], `plan file not found: ${planFile}`, {
        hint: `spec.plan is relative to the scenario file (${path.resolve(planFile)})`,
      });
    } else {
      plan = await loadPlan(planFile, diagnostics, opts.plans);
      if (!plan) report(['spec', 'plan'], `the plan ${planFile} is not valid`, { hint: 'its problems are listed under its own file name' });
    }
  }
  const system = plan ? checkSystemReference(loaded.data, plan.plan, plan.file, report) : undefined;
  const environment = valueAt(loaded.data, ['metadata', 'environment']);
  if (plan) checkEnvironmentReference(environment, plan.plan, plan.file, report);
  const environmentClass = environmentClassOf(plan?.plan, typeof environment === 'string' ? environment : '');
  checkRationale(loaded.data, environmentClass, report);
  checkRestoreMasking(loaded.data, environmentClass, report);

  if (validated?.kind !== 'Scenario' || !plan || !system || diagnostics.count('error') > errorsBefore) return undefined;
  const scenario: LoadedScenario = {
    file: loaded.absolutePath,
    sha256: loaded.sha256,
    scenario: validated.value,
    planFile: plan.absolutePath,
    planSha256: plan.sha256,
    plan: plan.plan,
    system,
    environmentClass,
    locate: loaded.locate,
  };
  for (const check of opts.checks ?? []) {
    try {
      check(scenario, report);
    } catch (error) {
      // A bug in a runner's check must not hide the user's other problems behind a stack trace.
      report([], `internal error while checking this scenario: ${errorMessage(error)}`, { hint: 'this is a drillbook bug; please report it' });
    }
  }
  return diagnostics.count('error') > errorsBefore ? undefined : scenario;
}

export interface CheckedFile {
  /** As named, or as found under a named directory. */
  file: string;
  /** undefined when the file could not be read or names no known kind. */
  kind: DocumentKind | undefined;
  valid: boolean;
}

/**
 * `drillbook validate <file or dir>...`: checks each file (directories are walked for
 * *.yaml / *.yml, skipping node_modules and dot-directories) as a Scenario or a
 * ContinuityPlan by its `kind`, scenarios together with their plans. Problems go to
 * `diagnostics`; the result lists what was checked.
 */
export async function validatePaths(
  paths: string[],
  diagnostics: Diagnostics,
  opts: LoadScenarioOptions = {},
): Promise<CheckedFile[]> {
  const plans = opts.plans ?? new Map();
  const scenarioOptions = { ...opts, plans };
  const files: Array<{ file: string; found: boolean }> = [];
  const checked: CheckedFile[] = [];
  for (const named of paths) {
    const info = await stat(named).catch(() => undefined);
    if (!info) {
      diagnostics.error({ file: named, ...FILE_START, path: '(root)' }, 'no such file or directory');
    } else if (info.isDirectory() && YAML_NAME.test(named)) {
      // `mkdir drill.yaml` (or a checkout that made one): named as a file, so it is checked as one.
      diagnostics.error(
        { file: named, ...FILE_START, path: '(root)' },
        'is a directory, not a file',
        'name the YAML file itself, or a directory whose name does not end in .yaml or .yml',
      );
      checked.push({ file: named, kind: undefined, valid: false });
    } else if (info.isDirectory()) {
      const found = await findYamlFiles(named);
      if (found.length === 0) diagnostics.warning({ file: named, ...FILE_START, path: '(root)' }, 'no .yaml or .yml files in this directory');
      files.push(...found.map((file) => ({ file, found: true })));
    } else {
      files.push({ file: named, found: false });
    }
  }

  const seen = new Set<string>();
  for (const { file, found } of files) {
    const absolute = path.resolve(file);
    if (seen.has(absolute)) continue;
    seen.add(absolute);
    const errorsBefore = diagnostics.count('error');

    // Already checked as the plan of an earlier scenario: do not report its problems twice.
    const cachedPlan = plans.get(absolute);
    if (cachedPlan) {
      checked.push({ file, kind: 'ContinuityPlan', valid: (await cachedPlan) !== undefined });
      continue;
    }
    const loaded = await loadDocument(file, diagnostics);
    if (!loaded) {
      checked.push({ file, kind: undefined, valid: false });
      continue;
    }
    const apiVersion = valueAt(loaded.data, ['apiVersion']);
    if (found && typeof apiVersion === 'string' && !apiVersion.startsWith('drillbook.dev/')) {
      // Other tools' YAML (CI workflows, Kubernetes manifests) often sits next to drills.
      diagnostics.notice({ file, ...loaded.locate(['apiVersion']), path: 'apiVersion' }, `skipped: not a drillbook file (${apiVersion})`);
      continue;
    }
    if (isKind(loaded.data, 'Scenario')) {
      await scenarioFromDocument(loaded, diagnostics, scenarioOptions);
      checked.push({ file, kind: 'Scenario', valid: diagnostics.count('error') === errorsBefore });
    } else if (isKind(loaded.data, 'ExerciseAnswers')) {
      await answersFromDocument(loaded, diagnostics, undefined, scenarioOptions);
      checked.push({ file, kind: 'ExerciseAnswers', valid: diagnostics.count('error') === errorsBefore });
    } else if (isKind(loaded.data, 'ContinuityPlan')) {
      const plan = Promise.resolve(planFromDocument(loaded, diagnostics));
      plans.set(absolute, plan);
      checked.push({ file, kind: 'ContinuityPlan', valid: (await plan) !== undefined });
    } else {
      validateDocument(loaded, diagnostics); // reports the missing or unknown kind
      checked.push({ file, kind: undefined, valid: false });
    }
  }
  return checked;
}

export interface LoadedAnswers {
  file: string;
  sha256: string;
  answers: ExerciseAnswers;
}

/**
 * Loads an answers file and checks it against `scenario` (the one being run), or, when
 * validating files on their own, against the scenario it names.
 */
export async function loadAnswers(file: string, diagnostics: Diagnostics, scenario: LoadedScenario): Promise<LoadedAnswers | undefined> {
  const loaded = await loadDocument(file, diagnostics);
  return loaded ? answersFromDocument(loaded, diagnostics, scenario, {}) : undefined;
}

async function answersFromDocument(
  loaded: LoadedDocument,
  diagnostics: Diagnostics,
  scenario: LoadedScenario | undefined,
  opts: LoadScenarioOptions,
): Promise<LoadedAnswers | undefined> {
  const errorsBefore = diagnostics.count('error');
  const report = reporterFor(loaded, diagnostics);
  const validated = validateDocument(loaded, diagnostics, { expect: 'ExerciseAnswers' });
  if (validated?.kind !== 'ExerciseAnswers') return undefined;
  const named = path.resolve(path.dirname(loaded.absolutePath), validated.value.spec.scenario);
  let target = scenario;
  if (target && path.resolve(target.file) !== named) {
    report(['spec', 'scenario'], `these answers belong to ${named}, not to ${target.file}`, { hint: 'replay answers with the scenario they were recorded for' });
    return undefined;
  }
  if (!target) {
    if (!(await isFile(named))) {
      report(['spec', 'scenario'], `scenario file not found: ${named}`, { hint: 'spec.scenario is relative to the answers file' });
      return undefined;
    }
    const own = new Diagnostics();
    target = await loadScenario(named, own, opts);
    if (!target) {
      report(['spec', 'scenario'], `the scenario ${named} is not valid`, { hint: `run drillbook validate ${named}` });
      return undefined;
    }
  }
  checkAnswers(target.scenario, validated.value, report);
  if (diagnostics.count('error') > errorsBefore) return undefined;
  return { file: loaded.absolutePath, sha256: loaded.sha256, answers: validated.value };
}

function isKind(data: unknown, kind: DocumentKind): boolean {
  return valueAt(data, ['kind']) === kind;
}

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

const YAML_NAME = /\.ya?ml$/i;

/** *.yaml and *.yml under `directory`, in a stable order; symlinked directories are not followed (no loops). */
export async function findYamlFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await findYamlFiles(full)));
    else if (YAML_NAME.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await isFile(full))))) found.push(full);
  }
  return found;
}
