/**
 * coordination.k8s.io/v1 Leases for the fake Kubernetes API server (fake-kube-api.ts), as
 * strict as a real API server where a lock depends on it:
 * - create of an existing Lease: 409 AlreadyExists;
 * - update (PUT) must carry the resourceVersion it read; another one: 409 Conflict ("the
 *   object has been modified"); none at all: 422 (Leases allow no unconditional update);
 * - every write gets a new resourceVersion;
 * - `acquireTime` / `renewTime` are MicroTime: exactly six fractional digits, else 400 as the
 *   real server answers a `Date#toISOString()` stamp (kubernetes/kubernetes#141204).
 * `beforeWrite` lets a test slip a competing write in between a contender's read and write.
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PATH = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

export interface LeaseAnswer {
  status: number;
  body: Json;
}

export class FakeLeases {
  /** By `<namespace>/<name>`. */
  readonly leases = new Map<string, Json>();
  /** Every write that reached the store, in order (ground truth for the tests). */
  readonly writes: { verb: 'create' | 'update'; key: string; holder: string | null; status: number }[] = [];
  beforeWrite: ((verb: 'create' | 'update', key: string) => void) | undefined;
  private uid = 0;

  constructor(private readonly nextRv: () => number) {}

  /** The answer for a Lease request, or undefined when the path is not a Lease one. */
  handle(method: string, path: string, body: Json): LeaseAnswer | undefined {
    const m = PATH.exec(path);
    if (!m) return undefined;
    const namespace = m[1]!;
    const name = m[2];
    if (name === undefined) {
      if (method === 'GET') return { status: 200, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'LeaseList', metadata: { resourceVersion: String(this.nextRv()) }, items: [...this.leases.values()].filter((l) => l.metadata.namespace === namespace) } };
      if (method !== 'POST') return undefined;
      const key = `${namespace}/${body.metadata?.name}`;
      const bad = this.invalid(body);
      if (bad) return this.record('create', key, body, bad);
      this.beforeWrite?.('create', key);
      if (this.leases.has(key)) return this.record('create', key, body, failure(409, 'AlreadyExists', `leases.coordination.k8s.io "${body.metadata.name}" already exists`));
      const lease = { ...body, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...body.metadata, namespace, uid: `lease-${++this.uid}`, resourceVersion: String(this.nextRv()), creationTimestamp: new Date().toISOString() } };
      this.leases.set(key, lease);
      return this.record('create', key, lease, { status: 201, body: structuredClone(lease) });
    }
    const key = `${namespace}/${name}`;
    const current = this.leases.get(key);
    if (method === 'GET') return current ? { status: 200, body: structuredClone(current) } : failure(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
    if (method !== 'PUT') return undefined;
    const bad = this.invalid(body);
    if (bad) return this.record('update', key, body, bad);
    this.beforeWrite?.('update', key);
    const now = this.leases.get(key);
    if (!now) return this.record('update', key, body, failure(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`));
    const rv = body.metadata?.resourceVersion;
    if (!rv) return this.record('update', key, body, failure(422, 'Invalid', `Lease.coordination.k8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`));
    if (rv !== now.metadata.resourceVersion)
      return this.record('update', key, body, failure(409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`));
    // A PUT replaces the object: fields left out (a released holderIdentity) are gone.
    const lease = { ...body, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...body.metadata, namespace, uid: now.metadata.uid, creationTimestamp: now.metadata.creationTimestamp, resourceVersion: String(this.nextRv()) } };
    this.leases.set(key, lease);
    return this.record('update', key, lease, { status: 200, body: structuredClone(lease) });
  }

  private invalid(body: Json): LeaseAnswer | undefined {
    for (const field of ['acquireTime', 'renewTime']) {
      const value = body.spec?.[field];
      if (value !== undefined && (typeof value !== 'string' || !MICRO_TIME.test(value)))
        return failure(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time "${String(value)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse as ".000000"`);
    }
    if (body.spec?.leaseDurationSeconds !== undefined && !(Number.isInteger(body.spec.leaseDurationSeconds) && body.spec.leaseDurationSeconds > 0))
      return failure(422, 'Invalid', 'spec.leaseDurationSeconds: Invalid value: must be greater than 0');
    return undefined;
  }

  private record(verb: 'create' | 'update', key: string, lease: Json, answer: LeaseAnswer): LeaseAnswer {
    this.writes.push({ verb, key, holder: lease.spec?.holderIdentity ?? null, status: answer.status });
    return answer;
  }
}

function failure(code: number, reason: string, message: string): LeaseAnswer {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code } };
}
