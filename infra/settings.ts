/**
 * The stack settings of the drillbook Pulumi program (`pulumi config set drillbook:<key>`),
 * read and checked in one place so that every mistake is reported at once, by key, before a
 * single resource is planned. docs/infra.md lists every key.
 */
import path from 'node:path';

/** A problem with the stack settings or the scenario directory; index.ts turns it into a clean Pulumi error. */
export class InfraError extends Error {
  override readonly name = 'InfraError';
}

export interface ContainerResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface SecretEnvRef {
  /** A Kubernetes Secret in the drillbook namespace. */
  secret: string;
  key: string;
}

export interface InfraSettings {
  /** Absolute path of the directory whose *.yaml scenarios (and their plans) are deployed. */
  scenariosDir: string;
  image: string;
  /** The container's command; the image must provide it. */
  command: string[];
  namespace: string;
  evidenceBucketName: string | undefined;
  evidencePrefix: string;
  retentionDays: number;
  kmsKeyArn: string | undefined;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
  resources: ContainerResources;
  env: Record<string, string>;
  secretEnv: Record<string, SecretEnvRef>;
  /** RDS copies drillbook creates are named with this prefix; only they may be deleted. */
  copyNamePrefix: string;
  /** IAM OIDC provider of the EKS cluster: when set, an IRSA role is created for the ServiceAccount. */
  oidcProviderArn: string | undefined;
  /** Scenarios in a `production` environment that may run unattended (each is passed `--confirm`). */
  confirmProduction: string[];
  /** Recorded as the approver of those production runs. */
  approver: string | undefined;
}

/** What the program reads config through: `pulumi.Config` has this shape. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

export const DEFAULTS = {
  command: ['drillbook'],
  namespace: 'drillbook',
  evidencePrefix: 'drills',
  // An audit period is 12 months; the report on it is written months later.
  retentionDays: 400,
  successfulJobsHistoryLimit: 3,
  failedJobsHistoryLimit: 5,
  resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
  copyNamePrefix: 'drillbook-',
} as const;

const MAX_RETENTION_DAYS = 36_500;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/**
 * Reads `drillbook:*` settings. `baseDir` resolves a relative `scenariosDir` (Pulumi runs the
 * program in the project directory, where Pulumi.yaml is). Throws one InfraError listing every
 * problem.
 */
export function readSettings(config: ConfigSource, baseDir: string = process.cwd()): InfraSettings {
  const problems: string[] = [];
  const problem = (key: string, message: string) => problems.push(`drillbook:${key}: ${message}`);

  const text = (key: string): string | undefined => {
    const value = config.get(key);
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const json = (key: string): unknown => {
    const value = text(key);
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      problem(key, 'is not valid JSON (set it with `pulumi config set --path` or as a YAML object in the stack file)');
      return undefined;
    }
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const value = text(key);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      problem(key, `must be a whole number from ${min} to ${max}, got "${value}"`);
      return fallback;
    }
    return n;
  };

  const scenariosDirText = text('scenariosDir');
  if (scenariosDirText === undefined) problem('scenariosDir', 'is required: the directory of the scenarios to schedule (e.g. ./drills)');
  const image = text('image');
  if (image === undefined) problem('image', 'is required: the drillbook container image, e.g. ghcr.io/acme/drillbook:0.1.0');
  else if (/\s/.test(image)) problem('image', `"${image}" contains whitespace`);

  const namespace = text('namespace') ?? DEFAULTS.namespace;
  if (!DNS_LABEL.test(namespace)) problem('namespace', `"${namespace}" is not a Kubernetes namespace name (a lowercase DNS label)`);

  const bucket = text('evidenceBucketName');
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    problem('evidenceBucketName', `"${bucket}" is not a valid S3 bucket name (3–63 lowercase letters, digits, '.' and '-')`);
  }
  const evidencePrefix = (text('evidencePrefix') ?? DEFAULTS.evidencePrefix).replace(/^\/+|\/+$/g, '');
  if (evidencePrefix === '' || evidencePrefix.split('/').some((part) => part === '' || part === '.' || part === '..') || /[*?\\\s]/.test(evidencePrefix)) {
    problem('evidencePrefix', `"${evidencePrefix}" must be a plain key prefix such as drills or prod/drills`);
  }

  const kmsKeyArn = text('kmsKeyArn');
  if (kmsKeyArn !== undefined && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/.test(kmsKeyArn)) {
    problem('kmsKeyArn', `"${kmsKeyArn}" is not a KMS key ARN`);
  }

  const copyNamePrefix = text('copyNamePrefix') ?? DEFAULTS.copyNamePrefix;
  if (!/^[a-z][a-z0-9-]{2,30}$/.test(copyNamePrefix)) {
    problem('copyNamePrefix', `"${copyNamePrefix}" must be 3–31 lowercase letters, digits or '-', starting with a letter (RDS identifiers)`);
  }

  const oidcProviderArn = text('oidcProviderArn');
  if (oidcProviderArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/.test(oidcProviderArn)) {
    problem('oidcProviderArn', `"${oidcProviderArn}" is not an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>)`);
  }

  const resources = readResources(json('resources'), problem);
  const env = readStringMap(json('env'), 'env', problem);
  const secretEnv = readSecretEnv(json('secretEnv'), problem);
  for (const name of Object.keys(secretEnv)) {
    if (name in env) problem('secretEnv', `${name} is also set in drillbook:env; set it in one of them`);
  }
  const command = readStringList(json('command'), 'command', problem) ?? [...DEFAULTS.command];
  if (command.length === 0) problem('command', 'must name at least the executable');
  const confirmProduction = readStringList(json('confirmProduction'), 'confirmProduction', problem) ?? [];
  const approver = text('approver');
  if (confirmProduction.length > 0 && approver === undefined) {
    problem('approver', 'is required when drillbook:confirmProduction lists scenarios: the person who approved unattended production drills');
  }

  const settings: InfraSettings = {
    scenariosDir: path.resolve(baseDir, scenariosDirText ?? '.'),
    image: image ?? '',
    command,
    namespace,
    evidenceBucketName: bucket,
    evidencePrefix,
    retentionDays: integer('retentionDays', DEFAULTS.retentionDays, 1, MAX_RETENTION_DAYS),
    kmsKeyArn,
    successfulJobsHistoryLimit: integer('successfulJobsHistoryLimit', DEFAULTS.successfulJobsHistoryLimit, 0, 100),
    failedJobsHistoryLimit: integer('failedJobsHistoryLimit', DEFAULTS.failedJobsHistoryLimit, 0, 100),
    resources,
    env,
    secretEnv,
    copyNamePrefix,
    oidcProviderArn,
    confirmProduction,
    approver,
  };
  if (problems.length > 0) throw new InfraError(`invalid stack settings:\n  ${problems.join('\n  ')}`);
  return settings;
}

type Problem = (key: string, message: string) => void;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readResources(value: unknown, problem: Problem): ContainerResources {
  const result: ContainerResources = {
    requests: { ...DEFAULTS.resources.requests },
    limits: { ...DEFAULTS.resources.limits },
  };
  if (value === undefined) return result;
  if (!isRecord(value)) {
    problem('resources', 'must be an object: { requests: { cpu, memory }, limits: { cpu, memory } }');
    return result;
  }
  for (const [section, entries] of Object.entries(value)) {
    if (section !== 'requests' && section !== 'limits') {
      problem(`resources.${section}`, 'unknown key: use requests and limits');
      continue;
    }
    if (!isRecord(entries)) {
      problem(`resources.${section}`, 'must be an object with cpu and/or memory');
      continue;
    }
    for (const [resource, quantity] of Object.entries(entries)) {
      if (resource !== 'cpu' && resource !== 'memory') {
        problem(`resources.${section}.${resource}`, 'unknown key: use cpu and memory');
      } else if (typeof quantity !== 'string' && typeof quantity !== 'number') {
        problem(`resources.${section}.${resource}`, 'must be a Kubernetes quantity such as 250m or 512Mi');
      } else if (!QUANTITY.test(String(quantity))) {
        problem(`resources.${section}.${resource}`, `"${quantity}" is not a Kubernetes quantity such as 250m or 512Mi`);
      } else {
        result[section][resource] = String(quantity);
      }
    }
  }
  return result;
}

function readStringMap(value: unknown, key: string, problem: Problem): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problem(key, 'must be an object of NAME: value');
    return {};
  }
  const result: Record<string, string> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (!ENV_NAME.test(name)) problem(`${key}.${name}`, 'is not an environment variable name');
    else if (typeof entry !== 'string' && typeof entry !== 'number' && typeof entry !== 'boolean') problem(`${key}.${name}`, 'must be a plain value');
    else result[name] = String(entry);
  }
  return result;
}

function readSecretEnv(value: unknown, problem: Problem): Record<string, SecretEnvRef> {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problem('secretEnv', 'must be an object of NAME: { secret, key }');
    return {};
  }
  const result: Record<string, SecretEnvRef> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (!ENV_NAME.test(name)) {
      problem(`secretEnv.${name}`, 'is not an environment variable name');
    } else if (!isRecord(entry) || typeof entry.secret !== 'string' || typeof entry.key !== 'string' || entry.secret === '' || entry.key === '') {
      problem(`secretEnv.${name}`, 'must be { secret: <Secret name>, key: <key in it> } (a reference: the value never goes into the stack)');
    } else {
      result[name] = { secret: entry.secret, key: entry.key };
    }
  }
  return result;
}

function readStringList(value: unknown, key: string, problem: Problem): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    problem(key, 'must be a list of non-empty strings');
    return undefined;
  }
  return value as string[];
}
