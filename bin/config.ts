/**
 * Defaults for options that otherwise go on every command line. Precedence, highest first:
 * the flag, the environment (`DRILLBOOK_EVIDENCE`), `drillbook.config.yaml` (the nearest one
 * found walking up from the working directory, as git finds `.git`), the built-in default.
 *
 * ```yaml
 * # drillbook.config.yaml
 * evidence: ./evidence            # or s3://bucket/prefix
 * plan: scenarios/plan.yaml       # coverage --plan
 * signKey: env:DRILLBOOK_SIGNING_KEY
 * metrics:
 *   push: http://pushgateway:9091 # run --metrics-push
 *   file: /var/lib/node_exporter/textfile/drillbook.prom
 * ```
 * Relative paths are relative to the config file's directory, so the same file works from any
 * sub-directory. YAML is only parsed when a config file exists (cold start).
 */
import fs from 'node:fs';
import path from 'node:path';

export const CONFIG_FILE_NAMES = ['drillbook.config.yaml', 'drillbook.config.yml'];

export interface CliDefaults {
  evidence: string;
  /** Where `evidence` came from, for messages: flag default, env or the config file. */
  evidenceSource: 'default' | 'DRILLBOOK_EVIDENCE' | string;
  plan?: string;
  signKey?: string;
  metricsPush?: string;
  metricsFile?: string;
  /** The config file in use, when one was found. */
  configFile?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The nearest config file at or above `from`, or undefined. */
export function findConfigFile(from: string = process.cwd()): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (fs.existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const KNOWN_KEYS = ['evidence', 'plan', 'signKey', 'metrics'] as const;
const KNOWN_METRICS_KEYS = ['push', 'file'] as const;

/** Reads the defaults; a broken config file is a ConfigError naming the file, line and key. */
export async function loadDefaults(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<CliDefaults> {
  const defaults: CliDefaults = { evidence: 'evidence', evidenceSource: 'default' };
  const file = findConfigFile(cwd);
  if (file) {
    const yaml = await import('yaml');
    // esbuild's split bundle hands an inlined CommonJS package to import() as its default
    // export only; Node's own loader gives both. Take whichever holds the API.
    const { LineCounter, parseDocument } = (yaml as unknown as { default?: typeof import('yaml') }).default ?? yaml;
    const lineCounter = new LineCounter();
    const text = fs.readFileSync(file, 'utf8');
    const doc = parseDocument(text, { lineCounter });
    const at = (offset: number | undefined) => {
      const { line, col } = lineCounter.linePos(offset ?? 0);
      return `${file}:${line}:${col}`;
    };
    if (doc.errors.length > 0) throw new ConfigError(`${at(doc.errors[0]!.pos[0])}: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value = doc.toJS({ maxAliasCount: 10 }) as unknown;
    if (value !== null && value !== undefined) {
      if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}:1:1: the config must be a mapping of ${KNOWN_KEYS.join(', ')}`);
      const record = value as Record<string, unknown>;
      const base = path.dirname(file);
      const resolvePath = (p: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : path.resolve(base, p));
      const problems: string[] = [];
      // The position of a key (not its value), so "unknown key" points at the typo.
      const where = (key: string) => {
        const parts = key.split('.');
        const map = (parts.length > 1 ? doc.getIn(parts.slice(0, -1), true) : doc.contents) as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null;
        const pair = map?.items?.find((item) => item.key?.value === parts[parts.length - 1]);
        return at(pair?.key?.range?.[0]);
      };
      const text = (key: string, v: unknown): string | undefined => {
        if (v === undefined) return undefined;
        if (typeof v !== 'string' || v.trim() === '') {
          problems.push(`${where(key)}: ${key}: expected a non-empty text`);
          return undefined;
        }
        return v;
      };
      for (const key of Object.keys(record)) {
        if (!(KNOWN_KEYS as readonly string[]).includes(key)) problems.push(`${where(key)}: ${key}: unknown key (known: ${KNOWN_KEYS.join(', ')})`);
      }
      const evidence = text('evidence', record.evidence);
      if (evidence) Object.assign(defaults, { evidence: resolvePath(evidence), evidenceSource: file });
      const plan = text('plan', record.plan);
      if (plan) defaults.plan = resolvePath(plan);
      const signKey = text('signKey', record.signKey);
      if (signKey) defaults.signKey = signKey.startsWith('file:') ? `file:${resolvePath(signKey.slice(5))}` : signKey;
      if (record.metrics !== undefined) {
        if (typeof record.metrics !== 'object' || record.metrics === null || Array.isArray(record.metrics)) {
          problems.push(`${where('metrics')}: metrics: expected a mapping with push and/or file`);
        } else {
          const metrics = record.metrics as Record<string, unknown>;
          for (const key of Object.keys(metrics)) {
            if (!(KNOWN_METRICS_KEYS as readonly string[]).includes(key)) problems.push(`${where(`metrics.${key}`)}: metrics.${key}: unknown key (known: push, file)`);
          }
          const push = text('metrics.push', metrics.push);
          if (push) defaults.metricsPush = push;
          const metricsFile = text('metrics.file', metrics.file);
          if (metricsFile) defaults.metricsFile = resolvePath(metricsFile);
        }
      }
      if (problems.length > 0) throw new ConfigError(problems.join('\n'));
    }
    defaults.configFile = file;
  }
  const fromEnv = env.DRILLBOOK_EVIDENCE;
  if (fromEnv !== undefined && fromEnv.trim() !== '') Object.assign(defaults, { evidence: fromEnv, evidenceSource: 'DRILLBOOK_EVIDENCE' });
  return defaults;
}
