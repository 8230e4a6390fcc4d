/**
 * The PostgreSQL driver: failover (fault the primary, promote the standby) and parallel
 * restore (base backup + WAL archive into a scratch copy), against the sandbox it builds or
 * against an existing self-managed server described in the scenario. This file checks and
 * plans a scenario; a run is a PostgresSession (session.ts).
 */
import path from 'node:path';
import { databaseUser } from '../../system.js';
import { driverFault, faultsOf } from '../../faults/registry.js';
import { specAt, type Driver, type PlanItem } from '../types.js';
import { warmupPlanItem } from './archive-cycle.js';
import { backupSourceFor } from './backup-sources/registry.js';
import type { BackupFacts } from './backup-sources/types.js';
import { binariesForMajor } from './binaries.js';
import { DRILL_SCHEMA, HEARTBEAT_TABLE, PROBE_TABLE } from '../../sql/drill-tables.js';
import { preparedSession } from '../prepared.js';
import { postgresUndoHandlers } from './undo.js';
import { PostgresSession } from './session.js';
import { clusterLabel, endpointLabel, portText, postgresTarget, resolveBackupPaths } from './target-settings.js';

export const postgresDriver: Driver = {
  name: 'postgres',

  registerUndos: (registry) => registry.registerAll(postgresUndoHandlers),

  validate(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const at = specAt;
    const usesStandby = spec.type === 'failover' && spec.recovery?.action === 'promote';
    if (!target.sandbox) {
      if (!target.primary && !target.cluster && !target.endpoint)
        report(at('target'), 'an existing server needs target.primary, or target.cluster with target.endpoint (or set sandbox: true)', { hint: 'add primary: { host, port, user, password: { env: PGPASSWORD } }' });
      if (usesStandby && !target.standby) report(at('target'), 'recovery.action promote needs target.standby');
      if (spec.type === 'parallel-restore' && !target.backup)
        report(at('target'), 'parallel-restore needs target.backup', { hint: 'pgbackrest: { stanza }, basebackup: { path, walArchiveDir }, command: { restore, restoreCommand }, or baseBackupDir + walArchiveDir; or set sandbox: true to drill the built-in sandbox' });
    if (spec.restore?.port !== undefined && spec.restore.portRange !== undefined) report(at('restore', 'port'), 'set restore.port or restore.portRange, not both');
    } else {
      for (const key of ['primary', 'standby', 'backup'] as const) {
        if (target[key]) report(at('target', key), `${key} is ignored when sandbox: true (the sandbox builds its own)`, { severity: 'warning' });
      }
    }
    if (spec.type === 'failover') {
      if (spec.faults.length === 0) report(at('faults'), 'a failover drill needs at least one fault', { hint: 'e.g. faults: [ { type: kill-primary } ]' });
      if (!spec.recovery) report(at(), 'a failover drill needs spec.recovery', { hint: 'recovery: { action: promote } (or none for a fault that heals itself)' });
    }
    if (spec.type === 'parallel-restore' && spec.faults.length > 0)
      report(at('faults'), 'a parallel-restore drill leaves production running: it takes no faults');
    for (const [index, fault] of spec.faults.entries()) {
      const module = driverFault('postgres', fault.type);
      if (!module) report(at('faults', index, 'type'), `fault ${fault.type} does not apply to the postgres driver`, { hint: `postgres faults: ${faultsOf('postgres').map((m) => m.type).join(', ')}` });
      else module.validate?.(fault, { settings: target, report, at: (...p) => at('faults', index, ...p) });
    }
    if (spec.recovery?.action === 'command' && !spec.recovery.command) report(at('recovery', 'command'), 'recovery.action command needs recovery.command');
    if (spec.recovery?.action === 'promote' && spec.type !== 'failover') report(at('recovery', 'action'), 'promote applies to failover drills only');
    for (const [index, check] of spec.checks.entries()) {
      const comparesWithSource = check.type === 'checksum' || (check.type === 'row-count' && check.compareWithSource);
      if (comparesWithSource && spec.type !== 'parallel-restore')
        report(at('checks', index), `${check.type === 'checksum' ? 'a checksum check' : 'compareWithSource'} compares a restored copy with its source: parallel-restore only`);
      if (check.type === 'row-count' && check.compareWithSource && !check.key) report(at('checks', index, 'key'), 'compareWithSource needs key (a monotonic column such as id)');
    }
    if (spec.probes.endpoint === 'restored' && spec.type !== 'parallel-restore') report(at('probes', 'endpoint'), 'the restored endpoint exists in parallel-restore drills only');
    if (spec.probes.endpoint === 'standby' && !usesStandby && !target.standby) report(at('probes', 'endpoint'), 'no standby is declared');
  },

  preflight(loaded, report) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    if (spec.type !== 'parallel-restore' || target.sandbox || !target.backup) return;
    const at = ['spec', 'target', 'backup'];
    let facts: BackupFacts;
    try {
      const { source, spec: backup } = backupSourceFor(resolveBackupPaths(target.backup, path.dirname(loaded.file)));
      facts = source.preflight(backup, { user: databaseUser(target.runAs) });
    } catch (error) {
      report(at, `the backup cannot be restored: ${(error as Error).message}`, { hint: 'checked before T0; nothing was touched' });
      return;
    }
    if (facts.major === null) return; // a command source: the version is known once it has run
    try {
      binariesForMajor(facts.major, target.binDir ? path.resolve(path.dirname(loaded.file), target.binDir) : undefined);
    } catch (error) {
      report(target.binDir ? ['spec', 'target', 'binDir'] : at, (error as Error).message, { hint: `install PostgreSQL ${facts.major} (e.g. the postgresql-${facts.major} package) or set target.binDir to its bin directory` });
    }
  },

  plan(loaded) {
    const spec = loaded.scenario.spec;
    const target = postgresTarget(loaded);
    const items: PlanItem[] = [];
    const primary = target.sandbox ? 'sandbox primary (temporary directory, free port)' : target.primary ? endpointLabel(target.primary) : clusterLabel(target);
    if (target.sandbox) {
      items.push({
        action: `build a sandbox: primary with WAL archiving${spec.type === 'failover' ? ', streaming standby' : ''}, base backup, orders schema, ${target.workload?.ordersPerSecond ?? 20} orders/s workload`,
        touches: `a new directory under the system temp dir; ${spec.type === 'failover' ? 'two' : 'one'} PostgreSQL server(s) on free 127.0.0.1 ports`,
        undo: 'stop every sandbox server, delete the directory, verify both',
      });
    } else {
      items.push({ action: `create schema ${DRILL_SCHEMA} (${HEARTBEAT_TABLE}, ${PROBE_TABLE}) if missing, once; write this run's heartbeat and probe rows`, touches: primary, undo: `drop what this run created (schema ${DRILL_SCHEMA} or its tables); else delete this run's rows` });
    }
    for (const fault of spec.faults) items.push(driverFault('postgres', fault.type)?.plan(fault, { primary }) ?? { action: `${fault.type}: not a postgres fault (refused by validate)`, touches: 'nothing', undo: 'none' });
    if (spec.recovery?.action === 'promote')
      items.push({ action: 'promote the standby: SELECT pg_promote()', touches: target.sandbox ? 'sandbox standby' : endpointLabel(target.standby!), undo: 'none automatic: failing back is a DBA procedure (listed in the evidence)' });
    if (spec.recovery?.action === 'command') items.push({ action: `run recovery command: ${spec.recovery.command}`, touches: 'what the command touches', undo: 'none automatic' });
    if (spec.type === 'parallel-restore') {
      items.push({
        action: `restore ${target.sandbox ? 'the sandbox base backup + WAL archive' : backupSourceFor(resolveBackupPaths(target.backup!, path.dirname(loaded.file))).source.plan(resolveBackupPaths(target.backup!, path.dirname(loaded.file)))} to ${spec.restore?.restoreTo ?? 'latest'} into a scratch copy (all of it after T0: inside the RTO)`,
        touches: `a new directory (mode 0700) under the system temp dir; a PostgreSQL server on 127.0.0.1 only, ${portText(spec.restore)} (archive_mode off, archive_command empty, read-only restore_command: it never writes to the archive or repository)`,
        undo: spec.restore?.keep ? `kept for ${spec.restore.keep} (${spec.restore.reason ?? 'no reason given'}); then \`drillbook recover\` destroys it and verifies` : 'stop the copy, delete its directory, verify process gone, directory gone, port free',
      });
      items.push(warmupPlanItem(spec.probes));
    }
    return items;
  },

  open(ctx) {
    return preparedSession(new PostgresSession(ctx));
  },
};
