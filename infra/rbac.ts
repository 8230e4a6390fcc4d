/**
 * Least-privilege Kubernetes RBAC for the drillbook ServiceAccount, derived from what the
 * scheduled scenarios do: each Kubernetes fault, the readiness probes, Velero restores and the
 * per-system Lease every scheduled run takes map to the exact verbs and resources they need. Namespaced resources are granted through
 * a Role in each namespace a scenario names; only what cannot be namespaced goes into the
 * ClusterRole: nodes and namespaces, and reading pods and deployments where no namespace is
 * known in advance (the pods on a node being drained, a Velero scratch namespace).
 * No rule ever holds a `*`; `findWildcards` is the check, used by the program and the tests.
 */
import { faultsOf } from '../runners/faults/registry.js';
import { clusterGrant, type Grant, nsGrant, type PermissionSet } from '../runners/faults/types.js';
import type { ScheduledScenario } from './scenarios.js';
import { InfraError } from './settings.js';

export type Scope = Grant['scope'];
export type { Grant, PermissionSet };

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** A rule and what needs it: `pod-delete (checkout-pod-delete)`. */
export interface ExplainedRule extends PolicyRule {
  neededBy: string[];
}

export interface DerivedRbac {
  /** One Role per namespace the scenarios act in, sorted by namespace. */
  namespaced: { namespace: string; rules: ExplainedRule[] }[];
  /** The ClusterRole's rules; empty when nothing cluster-scoped is needed (then no ClusterRole exists). */
  cluster: ExplainedRule[];
}

const ns = nsGrant;
const cluster = clusterGrant;

/** Fault type → what it needs: the `rbac` of each Kubernetes fault module (runners/faults/). */
export const KUBERNETES_FAULT_PERMISSIONS: Readonly<Record<string, PermissionSet>> = Object.fromEntries(
  faultsOf('kubernetes').map((fault) => [fault.type, fault.rbac] as const),
);

/** Recovery probes of a Kubernetes drill: ready replicas back to the expected count (watched). */
export const READINESS_PERMISSIONS: PermissionSet = {
  why: 'watch the workload until its ready replicas are back (the recovery probe)',
  grants: [ns('apps', 'deployments', ['get', 'list', 'watch']), ns('', 'pods', ['get', 'list', 'watch'])],
};

/** A Kubernetes parallel-restore: a Velero Restore into a scratch namespace. */
export const VELERO_RESTORE_PERMISSIONS: PermissionSet = {
  why:
    'create a Velero Restore of the named backup in the Velero namespace, watch it to a terminal phase and delete it at ' +
    'teardown; delete the scratch namespace Velero restored into (Velero creates it through namespaceMapping) and check ' +
    'that it is gone; fetch the Restore log and results through DownloadRequests before deleting it (its finalizer deletes ' +
    'them); set the PersistentVolumes the copy claimed to reclaim policy Delete and delete the VolumeSnapshotContents the ' +
    'restore made (cluster-scoped: they outlive the namespace); watch the restored workload get ready (the scratch namespace is new for every run, so this read ' +
    'access is cluster-wide)',
  grants: [
    ns('velero.io', 'restores', ['create', 'get', 'list', 'watch', 'delete']),
    ns('velero.io', 'backups', ['get', 'list']),
    ns('velero.io', 'downloadrequests', ['create', 'get', 'delete']),
    cluster('', 'namespaces', ['get', 'delete']),
    cluster('', 'persistentvolumes', ['get', 'list', 'patch']),
    cluster('snapshot.storage.k8s.io', 'volumesnapshotcontents', ['get', 'list', 'delete']),
    cluster('apps', 'deployments', ['get', 'list', 'watch']),
    cluster('', 'pods', ['get', 'list', 'watch']),
  ],
};

/**
 * One drill per system across runners (issue 16): every scheduled run takes its system's Lease
 * in drillbook's own namespace (runners/coordination/lease-backend.ts): read it, create it the
 * first time, update it to take, renew and release it. It is never deleted, listed or watched.
 */
export const COORDINATION_PERMISSIONS: PermissionSet = {
  why: "take, renew and release the system's Lease (one drill per system across CronJobs and other runners): read it, create it the first time, update it; never delete, list or watch",
  grants: [ns('coordination.k8s.io', 'leases', ['create', 'get', 'update'])],
};

export const DEFAULT_VELERO_NAMESPACE = 'velero';

export interface PermissionTable {
  faults: Readonly<Record<string, PermissionSet>>;
  readiness: PermissionSet;
  veleroRestore: PermissionSet;
  coordination: PermissionSet;
}

export const PERMISSIONS: PermissionTable = {
  faults: KUBERNETES_FAULT_PERMISSIONS,
  readiness: READINESS_PERMISSIONS,
  veleroRestore: VELERO_RESTORE_PERMISSIONS,
  coordination: COORDINATION_PERMISSIONS,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The Roles and ClusterRole the scheduled scenarios need. Only scenarios with
 * `spec.target.driver: kubernetes` need any. Throws an InfraError listing every scenario whose
 * needs cannot be derived (an unknown fault type, a fault without a namespace).
 */
export function deriveRbac(scenarios: readonly ScheduledScenario[], table: PermissionTable = PERMISSIONS, options: { leaseNamespace?: string } = {}): DerivedRbac {
  const problems: string[] = [];
  // scope key ('' for the cluster, else the namespace) → "group|resource" → verbs and reasons
  const collected = new Map<string, Map<string, { apiGroup: string; resource: string; verbs: Set<string>; neededBy: Set<string> }>>();
  const add = (set: PermissionSet, label: string, namespaces: readonly string[]) => {
    for (const grant of set.grants) {
      const scopes = grant.scope === 'cluster' ? [''] : namespaces;
      for (const scope of scopes) {
        const rules = collected.get(scope) ?? new Map();
        collected.set(scope, rules);
        const key = `${grant.apiGroup}|${grant.resource}`;
        const rule = rules.get(key) ?? { apiGroup: grant.apiGroup, resource: grant.resource, verbs: new Set<string>(), neededBy: new Set<string>() };
        for (const verb of grant.verbs) rule.verbs.add(verb);
        rule.neededBy.add(label);
        rules.set(key, rule);
      }
    }
  };

  for (const scenario of scenarios) {
    if (scenario.driver !== 'kubernetes') continue;
    const where = `${scenario.file} (${scenario.name})`;
    const veleroNamespace = veleroNamespaceOf(scenario.target);
    const workloadNamespaces = new Set(scenario.targetNamespaces.filter((name) => name !== veleroNamespace || scenario.type !== 'parallel-restore'));
    for (const [index, fault] of scenario.faults.entries()) {
      const set = table.faults[fault.type];
      if (set === undefined) {
        problems.push(
          `${where}: spec.faults[${index}].type: no permissions are known for the Kubernetes fault "${fault.type}" ` +
            `(known: ${Object.keys(table.faults).join(', ')})`,
        );
        continue;
      }
      const namespaces = fault.namespaces.length > 0 ? fault.namespaces : [...workloadNamespaces];
      const needsNamespace = set.grants.some((grant) => grant.scope === 'namespace');
      if (needsNamespace && namespaces.length === 0) {
        problems.push(`${where}: spec.faults[${index}]: the ${fault.type} fault names no namespace, so no Role can be scoped to it`);
        continue;
      }
      for (const name of namespaces) workloadNamespaces.add(name);
      add(set, `${fault.type} (${scenario.name})`, namespaces);
    }
    if (scenario.faults.length > 0 || scenario.type === 'failover') {
      add(table.readiness, `readiness probe (${scenario.name})`, [...workloadNamespaces]);
    }
    if (scenario.type === 'parallel-restore') add(table.veleroRestore, `velero restore (${scenario.name})`, [veleroNamespace]);
  }

  // Every CronJob, whatever its driver, takes its system's Lease where it runs.
  if (options.leaseNamespace !== undefined) {
    for (const scenario of scenarios) add(table.coordination, `system lease (${scenario.name})`, [options.leaseNamespace]);
  }

  for (const scope of collected.keys()) {
    if (scope !== '' && !DNS_LABEL.test(scope)) problems.push(`namespace "${scope}" named by a scenario is not a valid namespace name`);
  }
  if (problems.length > 0) throw new InfraError(`cannot derive the Kubernetes permissions:\n${problems.join('\n')}`);

  const toRules = (rules: Map<string, { apiGroup: string; resource: string; verbs: Set<string>; neededBy: Set<string> }>) =>
    [...rules.values()]
      .sort((a, b) => a.apiGroup.localeCompare(b.apiGroup) || a.resource.localeCompare(b.resource))
      .map((rule) => ({ apiGroups: [rule.apiGroup], resources: [rule.resource], verbs: [...rule.verbs].sort(), neededBy: [...rule.neededBy].sort() }));
  const derived: DerivedRbac = {
    namespaced: [...collected.entries()]
      .filter(([scope]) => scope !== '')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([namespace, rules]) => ({ namespace, rules: toRules(rules) })),
    cluster: collected.has('') ? toRules(collected.get('')!) : [],
  };
  const wildcards = [...derived.cluster, ...derived.namespaced.flatMap((role) => role.rules)].flatMap((rule) => findWildcards([rule]));
  if (wildcards.length > 0) throw new InfraError(`refusing RBAC with wildcards: ${wildcards.join('; ')}`);
  return derived;
}

/** Every `*` in a rule's verbs, resources, apiGroups, resourceNames or nonResourceURLs, described. */
export function findWildcards(rules: readonly Partial<Record<'apiGroups' | 'resources' | 'verbs' | 'resourceNames' | 'nonResourceURLs', readonly string[]>>[]): string[] {
  const found: string[] = [];
  rules.forEach((rule, index) => {
    for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
      for (const value of rule[field] ?? []) {
        if (value.includes('*')) found.push(`rule ${index}: ${field} contains "${value}"`);
      }
    }
  });
  return found;
}

/** The Velero namespace a restore scenario names (`target.velero.namespace` or `target.veleroNamespace`), else velero. */
export function veleroNamespaceOf(target: Record<string, unknown>): string {
  const velero = target.velero;
  if (typeof velero === 'object' && velero !== null && typeof (velero as Record<string, unknown>).namespace === 'string') {
    return (velero as Record<string, string>).namespace!;
  }
  if (typeof target.veleroNamespace === 'string') return target.veleroNamespace;
  return DEFAULT_VELERO_NAMESPACE;
}

/** The rules without their explanations, as Kubernetes takes them. */
export function policyRules(rules: readonly ExplainedRule[]): PolicyRule[] {
  return rules.map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs }));
}
