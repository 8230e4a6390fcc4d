/**
 * What the postgres driver reads from the scenario's target and restore settings: labels for
 * plan and evidence, backup paths resolved against the scenario file, the restore port.
 */
import path from 'node:path';
import type { LoadedScenario } from '../../../scenarios/load.js';
import type { PgEndpoint, PostgresTarget, Scenario } from '../../../scenarios/schema.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { freePort, isPortFree } from '../../system.js';
import type { BaseBackup } from './backup.js';
import { formatHosts, parseEndpoint } from './endpoint.js';

export function ms(duration: string): number {
  return parseDuration(duration) ?? 0;
}

export function postgresTarget(loaded: LoadedScenario): PostgresTarget {
  return loaded.scenario.spec.target as PostgresTarget;
}

/** How plan and evidence name a cluster target before it is reached: its endpoint, and how the leader is found. */
export function clusterLabel(target: PostgresTarget): string {
  let where = 'target.endpoint';
  try {
    const parsed = parseEndpoint(target.endpoint!);
    where = `${parsed.user}@${formatHosts(parsed.hosts)}/${parsed.database}`;
  } catch {
    // validate reports a bad endpoint
  }
  const how = target.cluster?.patroni ? ` (leader from Patroni ${target.cluster.patroni.api.join(', ')})` : target.cluster?.members ? ' (leader: the member not in recovery)' : '';
  return `${where}${how}`;
}

export function endpointLabel(endpoint: PgEndpoint): string {
  return `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
}

/** target.backup with its paths resolved against the scenario's directory. */
export function resolveBackupPaths(backup: NonNullable<PostgresTarget['backup']>, baseDir: string): unknown {
  const abs = (p: string) => path.resolve(baseDir, p);
  if ('pgbackrest' in backup) return { pgbackrest: { ...backup.pgbackrest, ...(backup.pgbackrest.config ? { config: abs(backup.pgbackrest.config) } : {}) } };
  if ('basebackup' in backup) return { basebackup: { path: abs(backup.basebackup.path), walArchiveDir: abs(backup.basebackup.walArchiveDir) } };
  if ('command' in backup) return backup;
  return { baseBackupDir: abs(backup.baseBackupDir), walArchiveDir: abs(backup.walArchiveDir) };
}

function portRangeOf(restore: Scenario['spec']['restore']): [number, number] | undefined {
  if (restore?.port !== undefined) return [restore.port, restore.port];
  if (!restore?.portRange) return undefined;
  const [from, to] = restore.portRange.split('-').map(Number) as [number, number];
  return [from, to];
}

export function portText(restore: Scenario['spec']['restore']): string {
  const range = portRangeOf(restore);
  return !range ? 'a free port' : range[0] === range[1] ? `port ${range[0]} (restore.port)` : `the first free port of ${range[0]}-${range[1]} (restore.portRange)`;
}

/** restore.port, the first free port of restore.portRange, or one the kernel picks. */
export async function choosePort(restore: Scenario['spec']['restore']): Promise<number> {
  const range = portRangeOf(restore);
  if (!range) return freePort();
  for (let port = range[0]; port <= range[1]; port++) if (await isPortFree(port)) return port;
  throw new Error(range[0] === range[1] ? `restore.port ${range[0]} is taken on 127.0.0.1: nothing was restored` : `no free port in restore.portRange ${range[0]}-${range[1]} on 127.0.0.1: nothing was restored`);
}

export function describeBackup(backup: BaseBackup): string {
  return `base backup ${backup.dir} taken ${backup.takenAt} (pg_backup_start/stop, WAL ${backup.startLsn}–${backup.stopLsn})`;
}
