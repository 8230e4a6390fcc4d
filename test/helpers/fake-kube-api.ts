/**
 * A real local HTTP server speaking the Kubernetes API paths the kubernetes driver uses, with
 * in-memory state and a tiny "controller manager": deployments keep their replica count
 * (deleted or evicted pods come back, not ready, then ready after a delay), evictions honour
 * PodDisruptionBudgets (429), namespaces pass through Terminating before they are gone, and a
 * Velero stand-in walks Restores through New → InProgress → a terminal phase, copying the
 * source namespace's deployments into the mapped one.
 *
 * Protocol details that matter are real: list responses with resourceVersion, watch streams
 * (?watch=true, chunked JSON lines, synthetic ADDED events for the current state, resume from
 * a resourceVersion), Status bodies with 404 / 409 / 415 / 429, and 415 for a PATCH without a
 * merge-patch Content-Type. Every request is recorded (method, path, content type) so a test
 * can assert that nothing mutating happened.
 *
 * As strict as a real cluster where drills depend on it:
 * - deletion is graceful: a deleted (or evicted) pod gets a deletionTimestamp and keeps
 *   running — and serving — for its grace period (`terminationGraceMs`, or the request's
 *   gracePeriodSeconds) before it is gone; its ReplicaSet replaces it at once;
 * - the endpoints controller is asynchronous: EndpointSlices (discovery.k8s.io/v1, one per
 *   deployment, `kubernetes.io/service-name: <deployment>`) follow pod changes only after
 *   `endpointDelayMs`, and list terminating pods as ready: false, terminating: true;
 * - watches honour timeoutSeconds (and close by themselves after `watchTimeoutMs`
 *   otherwise), send BOOKMARKs when asked (allowWatchBookmarks), and answer a
 *   resourceVersion older than the compacted history with an ERROR 410 event (or an HTTP 410,
 *   `gone410: 'http'`);
 * - NetworkPolicies take effect `policyDelayMs` after creation, and not at all when
 *   `networkPolicyEnforced` is false (a CNI that does not enforce them);
 * - Velero: restores walk New → InProgress → WaitingForPluginOperations → Finalizing → a
 *   terminal phase; `spec.scheduleName` restores the newest Completed backup of that schedule
 *   (its name written to spec.backupName); scheduled backups are named
 *   `<schedule>-<YYYYMMDDhhmmss>` and labelled `velero.io/schedule-name`; each restore writes
 *   its log and results to the "object store", served through DownloadRequests, and its
 *   finalizer deletes them when the Restore is deleted; restored volumes become
 *   PersistentVolumes (cluster-scoped, Retain: they outlive the namespace, Released) and
 *   VolumeSnapshotContents (cluster-scoped, Retain).
 *
 * `/_app/<namespace>/<deployment>/healthz` is the "application": 200 while the deployment's
 * EndpointSlice lists a ready endpoint whose pod still runs and no enforced deny-ingress
 * NetworkPolicy selects its pods, 503 otherwise.
 */
import zlib from 'node:zlib';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { matchesSelector, parseSelector, type StructuredSelector } from '../../runners/drivers/kubernetes/selector.js';
import { FakeLeases } from './fake-kube-leases.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | null;
  /** The status the fake answered (set once the response is sent; 200 for a watch stream). */
  status?: number;
}

interface FakePod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  nodeName: string;
  ready: boolean;
  owner: { kind: string; name: string } | null;
  deployment: string | null;
  mirror: boolean;
  rv: number;
  uid: string;
  /** Set by a graceful delete: the pod is Terminating (still running) until it is removed. */
  deletionTimestamp: string | null;
  graceSeconds: number;
}

interface SliceEndpoint {
  pod: string;
  uid: string;
  ready: boolean;
  terminating: boolean;
}

interface FakeDeployment {
  name: string;
  namespace: string;
  replicas: number;
  labels: Record<string, string>;
  rv: number;
  lastReady: number;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Watcher {
  kind: string;
  namespace: string | null;
  filter: (object: Json) => boolean;
  res: http.ServerResponse;
  bookmarks: boolean;
}

export interface FakeKubeOptions {
  /** A replacement pod becomes ready this long after it is created. */
  readyDelayMs?: number;
  /** A deleted namespace stays Terminating this long. */
  terminatingMs?: number;
  /** Each Velero phase step takes this long. */
  veleroStepMs?: number;
  /** The terminal phase the Velero stand-in gives restores. */
  veleroOutcome?: 'Completed' | 'PartiallyFailed' | 'Failed';
  /** A pod's terminationGracePeriod (ms here; its spec shows whole seconds, rounded up). */
  terminationGraceMs?: number;
  /** The endpoints controller updates EndpointSlices this long after a pod change. */
  endpointDelayMs?: number;
  /** A NetworkPolicy takes effect this long after it is created. */
  policyDelayMs?: number;
  /** False: a CNI that ignores NetworkPolicies (the API accepts them all the same). */
  networkPolicyEnforced?: boolean;
  /** A watch without timeoutSeconds is closed by the server after this long. */
  watchTimeoutMs?: number;
  /** BOOKMARK events this often on watches that ask for them. */
  bookmarkMs?: number;
  /** How a too-old resourceVersion is answered: an ERROR event in a 200 stream, or HTTP 410. */
  gone410?: 'event' | 'http';
}

const MERGE_TYPES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json']);

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** Called on every mutating request, before it is handled (tests break the app from here). */
  onMutation: ((request: RecordedRequest) => void) | undefined;
  /** Forced answers of the app probe, by `<namespace>/<deployment>` (e.g. 503: the app is broken). */
  readonly appStatus = new Map<string, number>();
  readonly options: Required<FakeKubeOptions>;
  private server!: http.Server;
  port = 0;
  private rv = 1000;
  private uid = 0;
  readonly pods = new Map<string, FakePod>();
  readonly deployments = new Map<string, FakeDeployment>();
  readonly nodes = new Map<string, { name: string; labels: Record<string, string>; unschedulable: boolean; rv: number }>();
  readonly pdbs: { namespace: string; name: string; selector: StructuredSelector; minAvailable: number }[] = [];
  readonly policies = new Map<string, Json>();
  readonly restores = new Map<string, Json>();
  readonly backups = new Map<string, Json>();
  readonly namespaces = new Map<string, { name: string; phase: 'Active' | 'Terminating'; rv: number }>();
  /** EndpointSlice contents by `<namespace>/<deployment>`, as the (delayed) endpoints controller last wrote them. */
  readonly slices = new Map<string, SliceEndpoint[]>();
  /** When each NetworkPolicy takes effect (performance.now()), by `<namespace>/<name>`. */
  private readonly policyEffective = new Map<string, number>();
  readonly persistentVolumes = new Map<string, Json>();
  readonly snapshotContents = new Map<string, Json>();
  /** The backup storage location's objects (restore logs and results), by key. */
  readonly objectStore = new Map<string, Buffer>();
  readonly downloadRequests = new Map<string, Json>();
  /** Every transition of the app's availability (ground truth for RTO tests), performance.now(). */
  readonly appTransitions: { at: number; healthy: boolean }[] = [];
  private lastAppHealthy = new Map<string, boolean>();
  /** History at or below this resourceVersion is compacted: older watches get 410. */
  private compactedRv = 0;
  /** Storage left behind when a Retain object was deleted (kind/name): the volume or snapshot still exists. */
  readonly retainedStorage: string[] = [];
  private readonly history: { rv: number; kind: string; type: string; object: Json }[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** coordination.k8s.io/v1 Leases (fake-kube-leases.ts). */
  readonly leases = new FakeLeases(() => this.nextRv());

  constructor(options: FakeKubeOptions = {}) {
    this.options = {
      readyDelayMs: 150,
      terminatingMs: 150,
      veleroStepMs: 100,
      veleroOutcome: 'Completed',
      terminationGraceMs: 300,
      endpointDelayMs: 100,
      policyDelayMs: 50,
      networkPolicyEnforced: true,
      watchTimeoutMs: 60_000,
      bookmarkMs: 200,
      gone410: 'event',
      ...options,
    };
    for (const ns of ['default', 'kube-system', 'velero']) this.namespaces.set(ns, { name: ns, phase: 'Active', rv: this.nextRv() });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        try {
          this.handle(req, res, body);
        } catch (error) {
          this.send(res, 500, status(500, 'InternalError', error instanceof Error ? error.message : String(error)));
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A kubeconfig file pointing at this server (plain HTTP, so skip-tls-verify). */
  writeKubeconfig(dir: string, file = 'kubeconfig'): string {
    const target = path.join(dir, file);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      target,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
        'users:',
        '- name: fake\n  user:\n    token: fake-token',
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: fake',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return target;
  }

  /** Requests that could change something (everything but GET, app probes excluded). */
  mutations(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !r.path.startsWith('/_app/'));
  }

  // ------------------------------------------------------------------ state setup

  addNamespace(name: string): void {
    this.namespaces.set(name, { name, phase: 'Active', rv: this.nextRv() });
  }

  addNode(name: string, labels: Record<string, string> = {}): void {
    this.nodes.set(name, { name, labels: { 'kubernetes.io/hostname': name, ...labels }, unschedulable: false, rv: this.nextRv() });
  }

  /** A deployment with `replicas` ready pods spread over the given nodes in turn. */
  addDeployment(namespace: string, name: string, replicas: number, labels: Record<string, string>, nodes: string[] = [...this.nodes.keys()]): void {
    if (!this.namespaces.has(namespace)) this.addNamespace(namespace);
    const deployment: FakeDeployment = { name, namespace, replicas, labels, rv: this.nextRv(), lastReady: replicas };
    this.deployments.set(`${namespace}/${name}`, deployment);
    for (let i = 0; i < replicas; i++) this.createPod(deployment, nodes[i % Math.max(1, nodes.length)] ?? '', true);
  }

  /** A pod not owned by a deployment: a DaemonSet's, a static (mirror) pod, or a bare pod. */
  addPod(namespace: string, name: string, labels: Record<string, string>, nodeName: string, kind: 'DaemonSet' | 'mirror' | 'bare'): void {
    if (!this.namespaces.has(namespace)) this.addNamespace(namespace);
    this.pods.set(`${namespace}/${name}`, {
      name,
      namespace,
      labels,
      nodeName,
      ready: true,
      owner: kind === 'DaemonSet' ? { kind: 'DaemonSet', name: `${name}-ds` } : kind === 'mirror' ? { kind: 'Node', name: nodeName } : null,
      deployment: null,
      mirror: kind === 'mirror',
      rv: this.nextRv(),
      uid: `uid-${++this.uid}`,
      deletionTimestamp: null,
      graceSeconds: Math.ceil(this.options.terminationGraceMs / 1000),
    });
  }

  addPdb(namespace: string, name: string, selector: string, minAvailable: number): void {
    this.pdbs.push({ namespace, name, selector: parseSelector(selector), minAvailable });
  }

  addBackup(name: string, includedNamespaces: string[], options: { schedule?: string; ageMs?: number; phase?: string; volumes?: number } = {}): void {
    const started = new Date(Date.now() - (options.ageMs ?? 3_600_000));
    this.backups.set(name, {
      apiVersion: 'velero.io/v1',
      kind: 'Backup',
      metadata: { name, namespace: 'velero', resourceVersion: String(this.nextRv()), labels: options.schedule ? { 'velero.io/schedule-name': options.schedule } : {} },
      spec: { includedNamespaces },
      status: { phase: options.phase ?? 'Completed', startTimestamp: started.toISOString(), completionTimestamp: new Date(started.getTime() + 60_000).toISOString() },
      _volumes: options.volumes ?? 0,
    });
  }

  /** A backup of a Velero Schedule, named as Velero names them: `<schedule>-<YYYYMMDDhhmmss>` (UTC start time). */
  addScheduledBackup(schedule: string, includedNamespaces: string[], ageMs: number, options: { phase?: string; volumes?: number } = {}): string {
    const started = new Date(Date.now() - ageMs);
    const stamp = started.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const name = `${schedule}-${stamp}`;
    this.addBackup(name, includedNamespaces, { schedule, ageMs, ...options });
    return name;
  }

  /** Server-side close of every watch stream (as an API server restart or its request timeout does). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Compacts the history: a watch from any resourceVersion seen so far is answered 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  // ------------------------------------------------------------------ observations for tests

  podsOf(namespace: string, deployment: string): FakePod[] {
    return [...this.pods.values()].filter((p) => p.namespace === namespace && p.deployment === deployment);
  }

  /** Pods of the deployment that are not terminating (what its ReplicaSet counts). */
  activePods(namespace: string, deployment: string): FakePod[] {
    return this.podsOf(namespace, deployment).filter((p) => !p.deletionTimestamp);
  }

  readyPods(namespace: string, deployment: string): number {
    return this.activePods(namespace, deployment).filter((p) => p.ready).length;
  }

  appHealthy(namespace: string, deployment: string): boolean {
    const d = this.deployments.get(`${namespace}/${deployment}`);
    if (!d) return false;
    // Traffic follows the EndpointSlice (possibly stale), and reaches only pods still running.
    const serving = (this.slices.get(`${namespace}/${deployment}`) ?? []).filter((e) => e.ready && this.pods.get(`${namespace}/${e.pod}`)?.uid === e.uid);
    if (serving.length === 0) return false;
    if (this.options.networkPolicyEnforced)
      for (const [key, policy] of this.policies) {
        if (policy.metadata.namespace !== namespace) continue;
        if ((this.policyEffective.get(key) ?? 0) > performance.now()) continue;
        const types: string[] = policy.spec?.policyTypes ?? ['Ingress'];
        if (types.includes('Ingress') && (policy.spec?.ingress ?? []).length === 0 && matchesSelector(d.labels, policy.spec?.podSelector ?? {})) return false;
      }
    return true;
  }

  // ------------------------------------------------------------------ internals

  private nextRv(): number {
    return ++this.rv;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private createPod(d: FakeDeployment, nodeName: string, ready: boolean): FakePod {
    const name = `${d.name}-${Math.random().toString(36).slice(2, 7)}`;
    const pod: FakePod = {
      name,
      namespace: d.namespace,
      labels: { ...d.labels },
      nodeName,
      ready,
      owner: { kind: 'ReplicaSet', name: `${d.name}-7c9f` },
      deployment: d.name,
      mirror: false,
      rv: this.nextRv(),
      uid: `uid-${++this.uid}`,
      deletionTimestamp: null,
      graceSeconds: Math.ceil(this.options.terminationGraceMs / 1000),
    };
    this.pods.set(`${d.namespace}/${name}`, pod);
    this.endpointsChanged();
    this.emit('pods', 'ADDED', this.podJson(pod));
    if (!ready)
      this.later(this.options.readyDelayMs, () => {
        if (this.pods.get(`${pod.namespace}/${pod.name}`) !== pod || pod.deletionTimestamp) return;
        pod.ready = true;
        this.endpointsChanged();
        pod.rv = this.nextRv();
        this.emit('pods', 'MODIFIED', this.podJson(pod));
        this.reconcile();
      });
    return pod;
  }

  private removePod(pod: FakePod): void {
    if (this.pods.get(`${pod.namespace}/${pod.name}`) !== pod) return;
    this.pods.delete(`${pod.namespace}/${pod.name}`);
    pod.rv = this.nextRv();
    this.emit('pods', 'DELETED', this.podJson(pod));
    this.endpointsChanged();
  }

  /**
   * A graceful delete: deletionTimestamp now, the pod keeps running (and serving, until the
   * endpoints controller catches up) for the grace period, then it is gone. 0: at once.
   */
  private deletePodGracefully(pod: FakePod, graceSeconds: number | undefined): void {
    const graceMs = graceSeconds === undefined ? this.options.terminationGraceMs : graceSeconds * 1000;
    if (graceMs <= 0) return this.removePod(pod);
    if (pod.deletionTimestamp) return; // already terminating
    pod.deletionTimestamp = new Date(Date.now() + graceMs).toISOString();
    pod.graceSeconds = Math.ceil(graceMs / 1000);
    pod.rv = this.nextRv();
    this.emit('pods', 'MODIFIED', this.podJson(pod));
    this.endpointsChanged();
    this.later(graceMs, () => {
      this.removePod(pod);
      this.reconcile();
    });
  }

  /** The endpoints controller: EndpointSlices follow the pods, `endpointDelayMs` later. */
  private endpointsChanged(): void {
    this.later(this.options.endpointDelayMs, () => this.syncEndpoints());
  }

  private syncEndpoints(): void {
    for (const d of this.deployments.values()) {
      const key = `${d.namespace}/${d.name}`;
      this.slices.set(
        key,
        this.podsOf(d.namespace, d.name).map((p) => ({ pod: p.name, uid: p.uid, ready: p.ready && !p.deletionTimestamp, terminating: Boolean(p.deletionTimestamp) })),
      );
      const healthy = this.appHealthy(d.namespace, d.name);
      if (this.lastAppHealthy.get(key) !== healthy) {
        this.lastAppHealthy.set(key, healthy);
        if (key === this.groundTruthKey) this.appTransitions.push({ at: performance.now(), healthy });
      }
    }
  }

  /** The deployment whose availability transitions are recorded in appTransitions. */
  groundTruthKey = 'shop/checkout';

  private sliceJson(d: FakeDeployment): Json {
    const endpoints = (this.slices.get(`${d.namespace}/${d.name}`) ?? []).map((e, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      conditions: { ready: e.ready, serving: e.ready || e.terminating, terminating: e.terminating },
      targetRef: { kind: 'Pod', namespace: d.namespace, name: e.pod, uid: e.uid },
    }));
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${d.name}-abcde`, namespace: d.namespace, labels: { 'kubernetes.io/service-name': d.name }, resourceVersion: String(this.rv) },
      addressType: 'IPv4',
      endpoints,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
  }

  /** The controller manager: replica counts kept, deployment status updated (and watched). */
  private reconcile(): void {
    for (const d of this.deployments.values()) {
      const owned = this.activePods(d.namespace, d.name);
      if (owned.length < d.replicas) {
        const schedulable = [...this.nodes.values()].filter((n) => !n.unschedulable).map((n) => n.name);
        for (let i = owned.length; i < d.replicas; i++) this.createPod(d, schedulable[i % Math.max(1, schedulable.length)] ?? '', false);
      } else if (owned.length > d.replicas) {
        for (const pod of owned.slice(d.replicas)) this.deletePodGracefully(pod, undefined);
      }
      const ready = this.readyPods(d.namespace, d.name);
      if (ready !== d.lastReady) {
        d.lastReady = ready;
        d.rv = this.nextRv();
        this.emit('deployments', 'MODIFIED', this.deploymentJson(d));
      }
    }
  }

  private podJson(p: FakePod): Json {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        uid: p.uid,
        labels: p.labels,
        resourceVersion: String(p.rv),
        ...(p.deletionTimestamp ? { deletionTimestamp: p.deletionTimestamp, deletionGracePeriodSeconds: p.graceSeconds } : {}),
        ...(p.owner ? { ownerReferences: [{ apiVersion: 'v1', kind: p.owner.kind, name: p.owner.name, uid: `owner-${p.owner.name}`, controller: true }] } : {}),
        ...(p.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'abc123' } } : {}),
      },
      spec: { nodeName: p.nodeName, terminationGracePeriodSeconds: p.graceSeconds, containers: [{ name: 'app', image: 'example/app:1' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }] },
    };
  }

  private deploymentJson(d: FakeDeployment): Json {
    const ready = this.readyPods(d.namespace, d.name);
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: d.name, namespace: d.namespace, resourceVersion: String(d.rv), uid: `dep-${d.namespace}-${d.name}` },
      spec: { replicas: d.replicas, selector: { matchLabels: d.labels }, template: { metadata: { labels: d.labels }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } } },
      status: { replicas: this.activePods(d.namespace, d.name).length, readyReplicas: ready, availableReplicas: ready, observedGeneration: 1 },
    };
  }

  private scaleJson(d: FakeDeployment): Json {
    return { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: d.name, namespace: d.namespace, resourceVersion: String(d.rv) }, spec: { replicas: d.replicas }, status: { replicas: this.podsOf(d.namespace, d.name).length } };
  }

  private nodeJson(n: { name: string; labels: Record<string, string>; unschedulable: boolean; rv: number }): Json {
    return { apiVersion: 'v1', kind: 'Node', metadata: { name: n.name, labels: n.labels, resourceVersion: String(n.rv) }, spec: n.unschedulable ? { unschedulable: true } : {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  }

  private namespaceJson(n: { name: string; phase: string; rv: number }): Json {
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, resourceVersion: String(n.rv) }, status: { phase: n.phase } };
  }

  private emit(kind: string, type: string, object: Json): void {
    const rv = Number(object.metadata?.resourceVersion ?? this.nextRv());
    this.history.push({ rv, kind, type, object });
    for (const w of this.watchers) {
      if (w.kind !== kind) continue;
      if (w.namespace !== null && object.metadata?.namespace !== w.namespace) continue;
      if (!w.filter(object)) continue;
      w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private send(res: http.ServerResponse, code: number, body: Json): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private list(kind: string, apiVersion: string, items: Json[]): Json {
    return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: String(this.rv) }, items };
  }

  private filterFor(query: URLSearchParams): (o: Json) => boolean {
    const label = query.get('labelSelector');
    const field = query.get('fieldSelector');
    const labelSel = label ? parseSelector(label) : null;
    const fields = (field ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('=') as [string, string]);
    return (o) => {
      if (labelSel && !matchesSelector(o.metadata?.labels ?? {}, labelSel)) return false;
      for (const [key, value] of fields) {
        const actual = key === 'metadata.name' ? o.metadata?.name : key === 'spec.nodeName' ? o.spec?.nodeName : key === 'metadata.namespace' ? o.metadata?.namespace : undefined;
        if (actual !== value) return false;
      }
      return true;
    };
  }

  /** A list GET, or a watch stream when ?watch=true. */
  private listOrWatch(res: http.ServerResponse, query: URLSearchParams, kind: string, apiVersion: string, namespace: string | null, current: Json[]): void {
    const filter = this.filterFor(query);
    const matching = current.filter(filter);
    if (query.get('watch') !== 'true') return this.send(res, 200, this.list(kind, apiVersion, matching));
    const from = query.get('resourceVersion');
    if (from && from !== '0' && Number(from) <= this.compactedRv) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv + 1})`);
      if (this.options.gone410 === 'http') return this.send(res, 410, gone);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      return void res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    if (!from || from === '0') for (const object of matching) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    else
      for (const h of this.history)
        if (h.kind === kind.toLowerCase() + 's' && h.rv > Number(from) && (namespace === null || h.object.metadata?.namespace === namespace) && filter(h.object))
          res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
    const watcher: Watcher = { kind: kind.toLowerCase() + 's', namespace, filter, res, bookmarks: query.get('allowWatchBookmarks') === 'true' };
    this.watchers.add(watcher);
    // The server ends every watch: at timeoutSeconds when asked, after its own limit otherwise.
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    const closer = setTimeout(() => res.end(), timeoutSeconds > 0 ? timeoutSeconds * 1000 : this.options.watchTimeoutMs);
    const bookmarker = watcher.bookmarks
      ? setInterval(() => res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(this.rv) } } })}\n`), this.options.bookmarkMs)
      : undefined;
    res.on('close', () => {
      clearTimeout(closer);
      clearInterval(bookmarker);
      this.watchers.delete(watcher);
    });
  }

  private patchAllowed(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (MERGE_TYPES.has(type)) return true;
    this.send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${type || 'none'})`));
    return false;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const p = url.pathname;
    const q = url.searchParams;
    const recorded: RecordedRequest = { method, path: p, query: url.search, contentType: req.headers['content-type'] ?? null };
    this.requests.push(recorded);
    res.on('finish', () => (recorded.status = res.statusCode));
    if (method !== 'GET' && !p.startsWith('/_app/')) this.onMutation?.(recorded);
    const body = raw ? (JSON.parse(raw) as Json) : {};
    let m: RegExpMatchArray | null;
    const notFound = (what: string) => this.send(res, 404, status(404, 'NotFound', `${what} not found`));

    if ((m = p.match(/^\/_app\/([^/]+)\/([^/]+)\/healthz$/))) {
      const forced = this.appStatus.get(`${m[1]}/${m[2]}`);
      const healthy = forced === undefined ? this.appHealthy(m[1]!, m[2]!) : forced < 400;
      res.writeHead(forced ?? (healthy ? 200 : 503), { 'Content-Type': 'text/plain' });
      return void res.end(healthy ? 'ok' : 'unavailable');
    }
    // ---- pods
    if (p === '/api/v1/pods' && method === 'GET') return this.listOrWatch(res, q, 'Pod', 'v1', null, [...this.pods.values()].map((x) => this.podJson(x)));
    if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods$/)) && method === 'GET')
      return this.listOrWatch(res, q, 'Pod', 'v1', m[1]!, [...this.pods.values()].filter((x) => x.namespace === m![1]).map((x) => this.podJson(x)));
    if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/))) {
      const pod = this.pods.get(`${m[1]}/${m[2]}`);
      if (!pod) return notFound(`pods "${m[2]}"`);
      if (method === 'GET') return this.send(res, 200, this.podJson(pod));
      if (method === 'DELETE') {
        const grace = q.get('gracePeriodSeconds') ?? body.gracePeriodSeconds;
        this.deletePodGracefully(pod, grace === undefined || grace === null ? undefined : Number(grace));
        this.reconcile();
        return this.send(res, 200, this.podJson(pod));
      }
    }
    if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/)) && method === 'POST') {
      const pod = this.pods.get(`${m[1]}/${m[2]}`);
      if (!pod) return notFound(`pods "${m[2]}"`);
      for (const pdb of this.pdbs.filter((b) => b.namespace === pod.namespace && matchesSelector(pod.labels, b.selector))) {
        const healthy = [...this.pods.values()].filter((x) => x.namespace === pdb.namespace && x.ready && !x.deletionTimestamp && matchesSelector(x.labels, pdb.selector)).length;
        if (pod.ready && !pod.deletionTimestamp && healthy - 1 < pdb.minAvailable)
          return this.send(res, 429, status(429, 'TooManyRequests', `Cannot evict pod as it would violate the pod's disruption budget ${pdb.name}.`));
      }
      const grace = body.deleteOptions?.gracePeriodSeconds;
      this.deletePodGracefully(pod, typeof grace === 'number' ? grace : undefined);
      this.reconcile();
      return this.send(res, 201, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 });
    }
    // ---- nodes
    if (p === '/api/v1/nodes' && method === 'GET') return this.listOrWatch(res, q, 'Node', 'v1', null, [...this.nodes.values()].map((n) => this.nodeJson(n)));
    if ((m = p.match(/^\/api\/v1\/nodes\/([^/]+)$/))) {
      const node = this.nodes.get(m[1]!);
      if (!node) return notFound(`nodes "${m[1]}"`);
      if (method === 'GET') return this.send(res, 200, this.nodeJson(node));
      if (method === 'PATCH') {
        if (!this.patchAllowed(req, res)) return;
        if (body.spec && 'unschedulable' in body.spec) node.unschedulable = Boolean(body.spec.unschedulable);
        node.rv = this.nextRv();
        return this.send(res, 200, this.nodeJson(node));
      }
    }
    // ---- namespaces
    if (p === '/api/v1/namespaces' && method === 'GET') return this.listOrWatch(res, q, 'Namespace', 'v1', null, [...this.namespaces.values()].map((n) => this.namespaceJson(n)));
    if ((m = p.match(/^\/api\/v1\/namespaces\/([^/]+)$/))) {
      const ns = this.namespaces.get(m[1]!);
      if (!ns) return notFound(`namespaces "${m[1]}"`);
      if (method === 'GET') return this.send(res, 200, this.namespaceJson(ns));
      if (method === 'DELETE') {
        if (ns.phase !== 'Terminating') {
          ns.phase = 'Terminating';
          ns.rv = this.nextRv();
          this.emit('namespaces', 'MODIFIED', this.namespaceJson(ns));
          this.later(this.options.terminatingMs, () => this.dropNamespace(ns.name));
        }
        return this.send(res, 200, this.namespaceJson(ns));
      }
    }
    // ---- deployments
    if ((m = p.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments$/)) && method === 'GET')
      return this.listOrWatch(res, q, 'Deployment', 'apps/v1', m[1]!, [...this.deployments.values()].filter((d) => d.namespace === m![1]).map((d) => this.deploymentJson(d)));
    if ((m = p.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/))) {
      const d = this.deployments.get(`${m[1]}/${m[2]}`);
      if (!d) return notFound(`deployments.apps "${m[2]}"`);
      if (method === 'GET') return this.send(res, 200, m[3] ? this.scaleJson(d) : this.deploymentJson(d));
      if (method === 'PATCH' && m[3]) {
        if (!this.patchAllowed(req, res)) return;
        if (typeof body.spec?.replicas === 'number') d.replicas = body.spec.replicas;
        d.rv = this.nextRv();
        this.emit('deployments', 'MODIFIED', this.deploymentJson(d));
        this.reconcile();
        return this.send(res, 200, this.scaleJson(d));
      }
    }
    // ---- network policies
    if ((m = p.match(/^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies$/))) {
      const ns = m[1]!;
      if (method === 'GET') return this.listOrWatch(res, q, 'NetworkPolicy', 'networking.k8s.io/v1', ns, [...this.policies.values()].filter((x) => x.metadata.namespace === ns));
      if (method === 'POST') {
        const name = body.metadata?.name;
        if (this.policies.has(`${ns}/${name}`)) return this.send(res, 409, status(409, 'AlreadyExists', `networkpolicies.networking.k8s.io "${name}" already exists`));
        const policy = { ...body, metadata: { ...body.metadata, namespace: ns, uid: `uid-${++this.uid}`, resourceVersion: String(this.nextRv()), creationTimestamp: new Date().toISOString() } };
        this.policies.set(`${ns}/${name}`, policy);
        this.policyEffective.set(`${ns}/${name}`, performance.now() + this.options.policyDelayMs);
        return this.send(res, 201, policy);
      }
    }
    if ((m = p.match(/^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies\/([^/]+)$/))) {
      const policy = this.policies.get(`${m[1]}/${m[2]}`);
      if (!policy) return notFound(`networkpolicies.networking.k8s.io "${m[2]}"`);
      if (method === 'GET') return this.send(res, 200, policy);
      if (method === 'DELETE') {
        this.policies.delete(`${m[1]}/${m[2]}`);
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 });
      }
    }
    // ---- endpoint slices
    if ((m = p.match(/^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/)) && method === 'GET')
      return this.listOrWatch(res, q, 'EndpointSlice', 'discovery.k8s.io/v1', m[1]!, [...this.deployments.values()].filter((d) => d.namespace === m![1]).map((d) => this.sliceJson(d)));
    // ---- persistent volumes and volume snapshot contents (cluster-scoped)
    for (const [re, store, kind, apiVersion, policyField] of [
      [/^\/api\/v1\/persistentvolumes(?:\/([^/]+))?$/, this.persistentVolumes, 'PersistentVolume', 'v1', 'persistentVolumeReclaimPolicy'],
      [/^\/apis\/snapshot\.storage\.k8s\.io\/v1\/volumesnapshotcontents(?:\/([^/]+))?$/, this.snapshotContents, 'VolumeSnapshotContent', 'snapshot.storage.k8s.io/v1', 'deletionPolicy'],
    ] as const) {
      if (!(m = p.match(re))) continue;
      const name = m[1];
      if (!name && method === 'GET') return this.listOrWatch(res, q, kind, apiVersion, null, [...store.values()]);
      const object = name ? store.get(name) : undefined;
      if (!object) return notFound(`${kind.toLowerCase()}s "${name}"`);
      if (method === 'GET') return this.send(res, 200, object);
      if (method === 'PATCH') {
        if (!this.patchAllowed(req, res)) return;
        if (body.spec?.[policyField]) object.spec[policyField] = body.spec[policyField];
        object.metadata.resourceVersion = String(this.nextRv());
        // The PV controller reclaims a Released volume whose policy is now Delete: volume and PV go.
        if (kind === 'PersistentVolume' && object.spec[policyField] === 'Delete' && object.status?.phase === 'Released') this.later(this.options.veleroStepMs, () => store.delete(name!));
        return this.send(res, 200, object);
      }
      if (method === 'DELETE') {
        // The object goes; with Delete its backing volume/snapshot is deleted, with Retain it is left.
        this.later(this.options.veleroStepMs, () => {
          store.delete(name!);
          if (object.spec[policyField] === 'Retain') this.retainedStorage.push(`${kind}/${name}`);
        });
        return this.send(res, 200, object);
      }
    }
    // ---- velero
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/backups$/)) && method === 'GET')
      return this.listOrWatch(res, q, 'Backup', 'velero.io/v1', m[1]!, [...this.backups.values()].map(({ _volumes, ...b }) => b));
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/downloadrequests$/)) && method === 'POST') {
      const name = body.metadata?.name;
      const request: Json = { ...body, metadata: { ...body.metadata, namespace: m[1], resourceVersion: String(this.nextRv()) }, status: {} };
      this.downloadRequests.set(name, request);
      // The Velero server processes it: a (pre-signed) URL of the object, valid for a while.
      this.later(this.options.veleroStepMs, () => {
        const target = request.spec?.target ?? {};
        const suffix = target.kind === 'RestoreLog' ? 'logs' : target.kind === 'RestoreResults' ? 'results' : null;
        const key = suffix ? `restores/${target.name}/restore-${target.name}-${suffix}.gz` : '';
        request.status = { phase: 'Processed', expiration: new Date(Date.now() + 600_000).toISOString(), ...(this.objectStore.has(key) ? { downloadURL: `${this.url}/_objectstore/${key}?X-Amz-Signature=fake` } : {}) };
        request.metadata.resourceVersion = String(this.nextRv());
      });
      return this.send(res, 201, request);
    }
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/downloadrequests\/([^/]+)$/))) {
      const request = this.downloadRequests.get(m[2]!);
      if (!request) return notFound(`downloadrequests.velero.io "${m[2]}"`);
      if (method === 'GET') return this.send(res, 200, request);
      if (method === 'DELETE') {
        this.downloadRequests.delete(m[2]!);
        return this.send(res, 200, request);
      }
    }
    if ((m = p.match(/^\/_objectstore\/(.+)$/)) && method === 'GET') {
      const object = this.objectStore.get(m[1]!);
      if (!object) return this.send(res, 404, { message: 'NoSuchKey' });
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      return void res.end(object);
    }
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/backups\/([^/]+)$/)) && method === 'GET') {
      const backup = this.backups.get(m[2]!);
      if (!backup) return notFound(`backups.velero.io "${m[2]}"`);
      const { _volumes, ...json } = backup;
      return this.send(res, 200, json);
    }
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/restores$/))) {
      const ns = m[1]!;
      if (method === 'GET') return this.listOrWatch(res, q, 'Restore', 'velero.io/v1', ns, [...this.restores.values()].filter((x) => x.metadata.namespace === ns));
      if (method === 'POST') {
        const name = body.metadata?.name;
        if (this.restores.has(`${ns}/${name}`)) return this.send(res, 409, status(409, 'AlreadyExists', `restores.velero.io "${name}" already exists`));
        const restore: Json = {
          ...body,
          metadata: { ...body.metadata, namespace: ns, uid: `uid-${++this.uid}`, resourceVersion: String(this.nextRv()), finalizers: ['restores.velero.io/external-resources-finalizer'] },
          status: {},
        };
        this.restores.set(`${ns}/${name}`, restore);
        this.emit('restores', 'ADDED', restore);
        this.runVelero(`${ns}/${name}`);
        return this.send(res, 201, restore);
      }
    }
    if ((m = p.match(/^\/apis\/velero\.io\/v1\/namespaces\/([^/]+)\/restores\/([^/]+)$/))) {
      const restore = this.restores.get(`${m[1]}/${m[2]}`);
      if (!restore) return notFound(`restores.velero.io "${m[2]}"`);
      if (method === 'GET') return this.send(res, 200, restore);
      if (method === 'DELETE') {
        // Velero's finalizer: the restore's log and results are deleted from the object store, then the object goes.
        const key = `${m[1]}/${m[2]}`;
        if (!restore.metadata.deletionTimestamp) {
          restore.metadata.deletionTimestamp = new Date().toISOString();
          restore.metadata.resourceVersion = String(this.nextRv());
          this.emit('restores', 'MODIFIED', structuredClone(restore));
          this.later(this.options.veleroStepMs, () => {
            for (const k of [...this.objectStore.keys()]) if (k.startsWith(`restores/${restore.metadata.name}/`)) this.objectStore.delete(k);
            this.restores.delete(key);
            this.emit('restores', 'DELETED', { ...restore, metadata: { ...restore.metadata, resourceVersion: String(this.nextRv()) } });
          });
        }
        return this.send(res, 200, restore);
      }
    }
    const lease = this.leases.handle(method, p, body);
    if (lease) return this.send(res, lease.status, lease.body);
    this.send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${method} ${p})`));
  }

  private updateRestore(key: string, status: Json): void {
    const restore = this.restores.get(key);
    if (!restore) return;
    restore.status = { ...restore.status, ...status };
    restore.metadata.resourceVersion = String(this.nextRv());
    this.emit('restores', 'MODIFIED', structuredClone(restore));
  }

  /**
   * The Velero stand-in: New → InProgress (namespace created, objects and volumes restored) →
   * WaitingForPluginOperations → Finalizing → terminal; the log and results go to the object store.
   */
  private runVelero(key: string): void {
    const step = this.options.veleroStepMs;
    this.later(step, () => {
      const restore = this.restores.get(key);
      if (!restore) return;
      let backupName: string | undefined = restore.spec?.backupName;
      const schedule: string | undefined = restore.spec?.scheduleName;
      if (!backupName && schedule) {
        // As Velero does: the most recent Completed backup of the schedule.
        const newest = [...this.backups.values()]
          .filter((b) => b.metadata.labels?.['velero.io/schedule-name'] === schedule && b.status?.phase === 'Completed')
          .sort((a, b) => Date.parse(b.status.startTimestamp) - Date.parse(a.status.startTimestamp))[0];
        if (!newest) return this.updateRestore(key, { phase: 'FailedValidation', validationErrors: [`No backups found for schedule ${schedule}`] });
        backupName = newest.metadata.name as string;
        restore.spec = { ...restore.spec, backupName };
      }
      const backup = backupName ? this.backups.get(backupName) : undefined;
      if (!backup) return this.updateRestore(key, { phase: 'FailedValidation', validationErrors: [`backup ${backupName ?? '(none)'} not found`] });
      this.updateRestore(key, { phase: 'InProgress', startTimestamp: new Date().toISOString() });
      const mapping: Record<string, string> = restore.spec?.namespaceMapping ?? {};
      const restoreName: string = restore.metadata.name;
      let items = 0;
      for (const [source, target] of Object.entries(mapping)) {
        if (!this.namespaces.has(target)) this.addNamespace(target);
        for (const d of [...this.deployments.values()].filter((x) => x.namespace === source)) {
          this.deployments.set(`${target}/${d.name}`, { name: d.name, namespace: target, replicas: d.replicas, labels: { ...d.labels }, rv: this.nextRv(), lastReady: -1 });
          items++;
        }
        for (let v = 0; v < Number(backup._volumes ?? 0); v++) {
          // A PVC restored from a CSI snapshot: Velero restores the VolumeSnapshotContent (Retain:
          // it points at the backup's snapshot) and the provisioner makes a new PV for the claim.
          const pv = `pvc-${restoreName}-${v}`;
          this.persistentVolumes.set(pv, {
            apiVersion: 'v1',
            kind: 'PersistentVolume',
            metadata: { name: pv, resourceVersion: String(this.nextRv()), labels: {} },
            spec: { persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: target, name: `data-${v}` }, capacity: { storage: '1Gi' } },
            status: { phase: 'Bound' },
          });
          const vsc = `velero-${restoreName}-${v}`;
          this.snapshotContents.set(vsc, {
            apiVersion: 'snapshot.storage.k8s.io/v1',
            kind: 'VolumeSnapshotContent',
            metadata: { name: vsc, resourceVersion: String(this.nextRv()), labels: { 'velero.io/restore-name': restoreName, 'velero.io/backup-name': backupName } },
            spec: { deletionPolicy: 'Retain', volumeSnapshotRef: { namespace: target, name: `data-${v}-snap` }, source: { snapshotHandle: `snap-${backupName}-${v}` } },
            status: { readyToUse: true },
          });
          items += 2;
        }
      }
      this.reconcile();
      const outcome = this.options.veleroOutcome;
      this.objectStore.set(
        `restores/${restoreName}/restore-${restoreName}-logs.gz`,
        zlib.gzipSync(`time="${new Date().toISOString()}" level=info msg="starting restore" restore=velero/${restoreName} backup=${backupName}\n` + `time="${new Date().toISOString()}" level=info msg="restore completed" restore=velero/${restoreName}\n`),
      );
      this.objectStore.set(
        `restores/${restoreName}/restore-${restoreName}-results.gz`,
        zlib.gzipSync(JSON.stringify({ errors: outcome === 'Completed' ? {} : { namespaces: { [Object.values(mapping)[0] ?? '']: ['error restoring deployments.apps/checkout'] } }, warnings: outcome === 'PartiallyFailed' ? { cluster: ['could not restore, CustomResourceDefinition exists'] } : {} })),
      );
      if (outcome === 'Failed') return this.later(step, () => this.finishRestore(key, outcome, items));
      this.later(step, () => {
        this.updateRestore(key, { phase: 'WaitingForPluginOperations' });
        this.later(step, () => {
          this.updateRestore(key, { phase: 'Finalizing' });
          this.later(step, () => this.finishRestore(key, outcome, items));
        });
      });
    });
  }

  private finishRestore(key: string, outcome: string, items: number): void {
    this.updateRestore(key, {
      phase: outcome,
      completionTimestamp: new Date().toISOString(),
      progress: { totalItems: items, itemsRestored: outcome === 'Failed' ? 0 : items },
      warnings: outcome === 'PartiallyFailed' ? 1 : 0,
      errors: outcome === 'Completed' ? 0 : 1,
      ...(outcome === 'Failed' ? { failureReason: 'error restoring: the backup storage location is unavailable' } : {}),
    });
  }

  private dropNamespace(name: string): void {
    const ns = this.namespaces.get(name);
    if (!ns) return;
    for (const pod of [...this.pods.values()].filter((x) => x.namespace === name)) this.removePod(pod);
    for (const key of [...this.deployments.keys()].filter((k) => k.startsWith(`${name}/`))) this.deployments.delete(key);
    for (const key of [...this.policies.keys()].filter((k) => k.startsWith(`${name}/`))) this.policies.delete(key);
    for (const key of [...this.slices.keys()].filter((k) => k.startsWith(`${name}/`))) this.slices.delete(key);
    // The claims go with the namespace; their PVs (cluster-scoped) stay Released under Retain, or go under Delete.
    for (const [pvName, pv] of this.persistentVolumes) {
      if (pv.spec.claimRef?.namespace !== name) continue;
      if (pv.spec.persistentVolumeReclaimPolicy === 'Delete') this.persistentVolumes.delete(pvName);
      else pv.status = { phase: 'Released' };
    }
    this.namespaces.delete(name);
    ns.rv = this.nextRv();
    this.emit('namespaces', 'DELETED', this.namespaceJson(ns));
  }
}

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export async function startFakeKubeApi(options: FakeKubeOptions = {}): Promise<FakeKubeApi> {
  return new FakeKubeApi(options).start();
}
