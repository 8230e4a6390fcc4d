/** What a postgres fault may act on (runners/faults/*.ts with driver 'postgres'). */
import type { PostgresTarget } from '../../../scenarios/schema.js';
import { faultSchema } from '../../faults/schema.js';
import type { FaultValidateEnv } from '../../faults/types.js';
import type { ClusterTarget } from './cluster.js';

export interface PostgresFaultTarget {
  /** The primary's postmaster and its backends (throws when none runs). */
  primaryProcesses(): number[];
  /**
   * Before T0: the primary's processes, after checking they belong to the server behind the
   * primary endpoint (system identifier, role, instance); throws RefusedBeforeT0 otherwise.
   */
  checkedPrimaryProcesses(type: string): Promise<number[]>;
  /** Commands run here (the scenario's directory). */
  baseDir: string;
  /** A cluster whose leader moves (target.cluster): leader faults act through it. */
  cluster?: ClusterTarget;
}

export interface PostgresPlanEnv {
  /** How the plan names the primary. */
  primary: string;
}

export type PostgresFaultSettings = PostgresTarget;

/** Process faults find the postmaster through the data directory on this host. */
export function requireDataDir(type: string, env: FaultValidateEnv<PostgresFaultSettings>): void {
  if (!env.settings.sandbox && !env.settings.primary?.dataDir)
    env.report(env.at('type'), `${type} needs target.primary.dataDir on this host to find the postmaster`, { hint: 'or use type: command with your own fault command' });
}

/** What every process fault of the primary shares: its type, driver, schema and the data-directory check. */
export function primaryProcessFault<T extends string>(type: T) {
  return {
    type,
    driver: 'postgres' as const,
    schema: faultSchema(type),
    validate: (_fault: unknown, env: FaultValidateEnv<PostgresFaultSettings>) => requireDataDir(type, env),
  };
}

/** Leader faults need target.cluster (and its target.endpoint, checked by the language). */
export function requireCluster(type: string, env: FaultValidateEnv<PostgresFaultSettings>, options: { patroni?: boolean } = {}): void {
  if (!env.settings.cluster) env.report(env.at('type'), `${type} needs target.cluster (patroni.api or members): the leader is found at run time`, { hint: 'or use kill-primary / pause-primary with a fixed target.primary' });
  else if (options.patroni && !env.settings.cluster.patroni)
    env.report(env.at('type'), `${type} goes through Patroni's REST API: it needs target.cluster.patroni.api`, { hint: 'for plain members, use type: command with your own switchover command' });
}

/** Fills a leader command template ({leader}, {host}, {port}, {signal}, {dataDir}); values are shell-quoted. */
export function fillLeaderCommand(template: string, values: { leader: string; host: string; port: number; signal?: string; dataDir?: string | null }): string {
  const quote = (v: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`);
  return template.replace(/\{(leader|host|port|signal|dataDir)\}/g, (_, key: string) => {
    const value = key === 'leader' ? values.leader : key === 'host' ? values.host : key === 'port' ? String(values.port) : key === 'signal' ? (values.signal ?? '') : (values.dataDir ?? '');
    return quote(value);
  });
}
