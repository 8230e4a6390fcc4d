/**
 * The AWS RDS driver: failover drills (Multi-AZ instance or cluster failover, reboot, stop)
 * and parallel restores (point in time or snapshot, instance or Aurora cluster) into an
 * isolated, tagged copy that teardown deletes and verifies gone.
 *
 * The RTO clock is always the client-side SQL probe through the endpoint the user declares
 * (the same probe, heartbeat and check SQL as the postgres driver, from runners/sql/). RDS
 * states and events are secondary evidence only: they lag what clients see by seconds to
 * minutes. Credentials and region come from the standard AWS provider chain.
 */
import path from 'node:path';
import { driverFault, faultsOf } from '../../faults/registry.js';
import { specAt, type Driver } from '../types.js';
import { type RdsDepsInput, call, describeCluster, describeError, describeInstance, resolveDeps } from './api.js';
import { preparedSession } from '../prepared.js';
import { copyIdentifier, findSnapshot, type LiveFacts, planItems, rdsTarget, resourceOf } from './plan.js';
import { SWEEP_FILE, sweepOrphans } from './sweep.js';
import { registerRdsUndos } from './undo.js';
import { RdsSession } from './session.js';

export { copyIdentifier };

/** Builds the driver; tests pass a mocked client and a short sleep. */
export function createRdsDriver(input: RdsDepsInput = {}): Driver {
  const deps = resolveDeps(input);
  return {
    name: 'rds',
    // Deleting an RDS copy takes 5–15 minutes in real accounts.
    teardownTimeoutMs: 60 * 60_000,

    registerUndos(registry) {
      registerRdsUndos(registry, input);
    },

    async sweep(evidenceDir, options) {
      const runId = 'rds-orphan-sweep';
      try {
        const swept = (await sweepOrphans(evidenceDir, { ...input, ...options })).filter((c) => c.status !== 'left');
        const failed = swept.filter((c) => c.status === 'failed').map((c) => ({ description: `delete orphaned RDS copy DB ${c.kind} ${c.id} (run ${c.runId})`, error: c.reason }));
        if (swept.length === 0) return null;
        const removed = swept.length - failed.length;
        return { runId, removed, failed, summary: `RDS orphan sweep: ${removed} drill cop${removed === 1 ? 'y' : 'ies'} of finished runs deleted (recorded in ${path.join(evidenceDir, SWEEP_FILE)})` };
      } catch (error) {
        return { runId, removed: 0, failed: [{ description: 'sweep RDS copies left by finished runs', error: error instanceof Error ? error.message : String(error) }], summary: 'RDS orphan sweep failed' };
      }
    },

    validate(loaded, report) {
      const spec = loaded.scenario.spec;
      const target = rdsTarget(loaded);
      const at = specAt;
      if (!target.instance === !target.cluster)
        report(at('target'), 'declare exactly one of target.instance or target.cluster', { hint: 'instance: <DB instance identifier> or cluster: <DB cluster identifier>' });
      for (const [index, fault] of spec.faults.entries()) {
        const module = driverFault('rds', fault.type);
        if (!module) report(at('faults', index, 'type'), `fault ${fault.type} does not apply to the rds driver`, { hint: `rds faults: ${faultsOf('rds').map((m) => m.type).join(', ')}` });
        else module.validate?.(fault, { settings: { ...target, drill: { recovery: spec.recovery, probeEndpoint: spec.probes.endpoint ?? 'primary' } }, report, at: (...p) => at('faults', index, ...p) });
      }
      if (spec.type === 'failover') {
        if (spec.faults.length === 0) report(at('faults'), 'a failover drill needs at least one fault', { hint: 'e.g. faults: [ { type: rds-failover } ]' });
        if (!target.production) report(at('target'), 'a failover drill needs target.production: the SQL endpoint the RTO probe writes through', { hint: 'production: { user: drillbook, password: { env: PGPASSWORD } } (host defaults to the endpoint RDS reports)' });
        if (spec.recovery?.action === 'promote') report(at('recovery', 'action'), 'promote is a postgres action: RDS fails over by itself', { hint: 'recovery: { action: none }' });
      }
      if (spec.recovery?.action === 'command' && !spec.recovery.command) report(at('recovery', 'command'), 'recovery.action command needs recovery.command');
      if ((spec.probes.endpoint ?? 'primary') === 'standby' && !target.standby) report(at('probes', 'endpoint'), 'no target.standby is declared');
      if (target.standby && (!target.standby.host || !target.standby.port)) report(at('target', 'standby'), 'target.standby needs host and port (RDS reports no endpoint for it)');
      if (spec.probes.endpoint === 'restored' && spec.type !== 'parallel-restore') report(at('probes', 'endpoint'), 'the restored endpoint exists in parallel-restore drills only');
      if (spec.type === 'parallel-restore') {
        if (spec.faults.length > 0) report(at('faults'), 'a parallel-restore drill leaves production running: it takes no faults');
        if (!target.copy) report(at('target'), 'parallel-restore needs target.copy (subnetGroup, securityGroups, probe)', { hint: 'the copy goes into an isolated DB subnet group, never public' });
        if (target.copy?.snapshot && spec.restore && spec.restore.restoreTo !== 'latest')
          report(at('restore', 'restoreTo'), 'a snapshot restore recovers to the snapshot: leave restore.restoreTo at latest', { hint: 'or drop target.copy.snapshot for a point-in-time restore' });
        if (target.cluster && !target.copy?.instanceClass) report(at('target', 'copy', 'instanceClass'), 'a cluster copy needs instanceClass for its member instance', { hint: 'e.g. instanceClass: db.r6g.large' });
        if (spec.restore?.keep && !spec.restore.reason) report(at('restore', 'reason'), 'a kept copy needs a reason (recorded in evidence)');
      }
      for (const [index, check] of spec.checks.entries()) {
        const comparesWithSource = check.type === 'checksum' || (check.type === 'row-count' && check.compareWithSource);
        if (comparesWithSource && spec.type !== 'parallel-restore') report(at('checks', index), 'comparing with the source applies to parallel-restore only');
        if (comparesWithSource && !target.production) report(at('checks', index), 'comparing with the source needs target.production (the source SQL endpoint)');
        if (check.type === 'row-count' && check.compareWithSource && !check.key) report(at('checks', index, 'key'), 'compareWithSource needs key (a monotonic column such as id)');
      }
    },

    plan(loaded) {
      return planItems(loaded, null);
    },

    async planLive(loaded, signal) {
      const target = rdsTarget(loaded);
      const d = await deps();
      const { kind, id } = resourceOf(target);
      const facts: LiveFacts = { source: kind === 'instance' ? await describeInstance(d, id, signal) : await describeCluster(d, id, signal) };
      if (target.copy) {
        const groups = await call(d, signal, (o) => d.client.send(new d.sdk.DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: target.copy!.subnetGroup }), o)).catch((error: unknown) => {
          facts.subnetGroupError = describeError(error);
          return undefined;
        });
        facts.subnetGroup = groups?.DBSubnetGroups?.[0];
        if (target.copy.snapshot) facts.snapshot = await findSnapshot(d, kind, id, target.copy.snapshot, signal).catch((error: unknown) => describeError(error));
      }
      return planItems(loaded, facts);
    },

    async open(ctx) {
      return preparedSession(new RdsSession(ctx, await deps()));
    },
  };
}

export const rdsDriver: Driver = createRdsDriver();
