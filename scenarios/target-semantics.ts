/**
 * Rules between fields of a Scenario that the schema cannot express: how a PostgreSQL cluster
 * target fits together (SPEC v1.1 "Clusters whose leader moves"), and settings that are
 * accepted but would change nothing — reported as warnings, because a setting silently
 * ignored reads like a setting honoured (issue 11, finding 7: `recovery.timeout` with action
 * `none`). Like crossfile.ts, these read the raw document so they run even when the schema
 * found problems elsewhere.
 */
import { valueAt as get } from './crossfile.js';
import type { Reporter } from './diagnostics.js';
import { parseDuration } from './duration.js';
import { parseEndpoint, type EndpointInput } from './pg-endpoint.js';

const has = (data: unknown, path: readonly (string | number)[]) => get(data, path) !== undefined;

/** A PostgreSQL target that names a cluster: what it needs and what it must not also say. */
export function checkClusterTarget(data: unknown, report: Reporter): void {
  const target = get(data, ['spec', 'target']);
  if (get(target, ['driver']) !== 'postgres') return;
  const at = (...p: string[]) => ['spec', 'target', ...p];
  const cluster = get(target, ['cluster']);
  if (cluster !== undefined) {
    if (!has(target, ['endpoint']))
      report(at('cluster'), 'a cluster needs target.endpoint: what clients use (the leader moves, the endpoint stays)', {
        hint: 'e.g. endpoint: { host: haproxy.internal, port: 5000 } or endpoint: { host: "pg1:5432,pg2:5432", targetSessionAttrs: read-write }',
      });
    for (const fixed of ['primary', 'standby'] as const) {
      if (has(target, [fixed]))
        report(at(fixed), `target.${fixed} names a fixed server, but with target.cluster the leader is found at run time`, {
          hint: 'remove it; members that run on this host can name their dataDir under cluster.members',
        });
    }
    if (get(target, ['sandbox']) === true) report(at('sandbox'), 'the sandbox builds its own primary and standby: target.cluster names an existing cluster', { hint: 'remove sandbox: true, or remove cluster' });
  }
  const endpoint = get(target, ['endpoint']);
  if (endpoint !== null && typeof endpoint === 'object' && get(endpoint, ['targetSessionAttrs']) === undefined) {
    let hosts = 0;
    let fromUri = false;
    try {
      const parsed = parseEndpoint(endpoint as EndpointInput);
      hosts = parsed.hosts.length;
      fromUri = typeof get(endpoint, ['url']) === 'string' && /target_session_attrs=/.test(String(get(endpoint, ['url'])));
    } catch {
      // the schema reports a bad endpoint text
    }
    if (hosts > 1 && !fromUri)
      report(at('endpoint'), `${hosts} hosts and no targetSessionAttrs: like libpq's default (any), the first host that answers is used, even a standby`, {
        severity: 'warning',
        hint: 'add targetSessionAttrs: read-write (or primary), as clients of a multi-host list do',
      });
  }
}

/** Settings that are accepted but change nothing, as warnings at the setting. */
export function checkNoEffectSettings(data: unknown, report: Reporter): void {
  const spec = get(data, ['spec']);
  const type = get(spec, ['type']);
  const recovery = get(spec, ['recovery']);
  const action = get(recovery, ['action']);
  if (action === 'none') {
    if (has(recovery, ['timeout']))
      report(['spec', 'recovery', 'timeout'], 'recovery.timeout has no effect with action none: no recovery action runs that could time out', {
        severity: 'warning',
        hint: 'remove it; how long drillbook waits for the system to heal itself is probes.maxWait',
      });
    if (has(recovery, ['after']))
      report(['spec', 'recovery', 'after'], 'recovery.after has no effect with action none: it delays a recovery action, and there is none', { severity: 'warning', hint: 'remove it' });
  }
  if (has(recovery, ['command']) && (action === 'promote' || action === 'none'))
    report(['spec', 'recovery', 'command'], `recovery.command has no effect with action ${action}: it runs only with action: command`, { severity: 'warning', hint: 'set action: command, or remove command' });
  if (type === 'tabletop' && has(spec, ['probes']))
    report(['spec', 'probes'], 'probes have no effect in a tabletop: nothing is probed or measured', { severity: 'warning', hint: 'remove spec.probes' });
  if ((type === 'failover' || type === 'tabletop' || type === 'simulation') && has(spec, ['restore']))
    report(['spec', 'restore'], `spec.restore has no effect in a ${type} drill: it describes the copy of a parallel-restore`, { severity: 'warning', hint: 'remove it, or use type: parallel-restore' });
  const target = get(spec, ['target']);
  if (get(target, ['driver']) === 'postgres' && has(target, ['workload']) && get(target, ['sandbox']) !== true)
    report(['spec', 'target', 'workload'], 'workload has no effect without sandbox: true: it is the sandbox\'s synthetic load', { severity: 'warning', hint: 'remove it, or set sandbox: true' });
  const stableFor = get(spec, ['probes', 'stableFor']);
  if (typeof stableFor === 'string') {
    const holdMs = parseDuration(stableFor);
    const intervalText = get(spec, ['probes', 'interval']);
    const intervalMs = typeof intervalText === 'string' ? parseDuration(intervalText) : 250;
    if (holdMs !== undefined && intervalMs !== undefined && holdMs < intervalMs)
      report(['spec', 'probes', 'stableFor'], `stableFor ${stableFor} is shorter than one probe interval (${typeof intervalText === 'string' ? intervalText : '250ms'}): the recovery is confirmed by a single further success`, {
        severity: 'warning',
        hint: 'a recovery that holds only this long can still be a restart in place about to be demoted; e.g. stableFor: 5s',
      });
  }
}
