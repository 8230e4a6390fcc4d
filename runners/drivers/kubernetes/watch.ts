/**
 * Watches one named object (a Deployment's readiness, a Velero Restore's phase) through the
 * API server's watch stream instead of polling: every change arrives as it happens, so the
 * timeline shows when it happened, not when a poll noticed.
 *
 * As an informer does: it lists first (the object and the list's resourceVersion), then
 * watches from there with `allowWatchBookmarks` (so the resourceVersion it resumes from stays
 * recent) and a `timeoutSeconds` of its own (the server closes every watch sooner or later);
 * a closed stream is resumed from the last resourceVersion, and a 410 Gone — as an ERROR
 * event or as the HTTP status of the watch request — means that resourceVersion is compacted
 * away: it lists again, which also notices an object deleted in the gap.
 */
import { api, type KubeClients } from './client.js';

export interface WatchedObject {
  metadata?: { name?: string; resourceVersion?: string };
}

/** The server's own limit is 30–60 min; ask for less so a stuck stream is noticed. */
export const WATCH_TIMEOUT_SECONDS = 290;

export class ObjectWatch<T extends WatchedObject> {
  latest: T | undefined;
  deleted = false;
  /** How many times the watch had to list again after a 410 Gone. */
  relists = 0;
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  private stopped = false;
  private lastError: string | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly clients: KubeClients,
    private readonly path: string,
    private readonly name: string,
    private readonly onChange: (object: T, type: string) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    await this.list();
    await this.connect();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** GET the list (not a watch): the current object, or its absence, and a resourceVersion to watch from. */
  private async list(): Promise<void> {
    const list = (await api(`listing ${this.path} (${this.name})`, () => listAt(this.clients, this.path, `metadata.name=${this.name}`))) as { metadata?: { resourceVersion?: string }; items?: T[] };
    this.resourceVersion = list.metadata?.resourceVersion;
    const object = list.items?.find((o) => o.metadata?.name === this.name);
    if (object) {
      const changed = object.metadata?.resourceVersion !== this.latest?.metadata?.resourceVersion || this.deleted;
      this.latest = object;
      this.deleted = false;
      if (changed) this.onChange(object, 'ADDED');
    } else if (this.latest && !this.deleted) {
      this.deleted = true;
      this.onChange(this.latest, 'DELETED');
    }
    this.wake();
  }

  private async relist(): Promise<void> {
    this.relists++;
    this.resourceVersion = undefined;
    await this.list();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const query: Record<string, string | boolean | number> = {
      fieldSelector: `metadata.name=${this.name}`,
      allowWatchBookmarks: true,
      timeoutSeconds: WATCH_TIMEOUT_SECONDS,
    };
    if (this.resourceVersion) query.resourceVersion = this.resourceVersion;
    let gone = false;
    this.controller = await this.clients.watch.watch(
      this.path,
      query,
      (type: string, object: T) => {
        if (type === 'ERROR') {
          const code = (object as { code?: number } | undefined)?.code;
          if (code === 410) gone = true;
          this.lastError = `watch ERROR ${code ?? ''} ${(object as { message?: string } | undefined)?.message ?? ''}`.trim();
          return;
        }
        if (object?.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        this.latest = object;
        this.deleted = type === 'DELETED';
        this.onChange(object, type);
        this.wake();
      },
      (error: unknown) => {
        if (this.stopped) return;
        if ((error as { statusCode?: number } | null)?.statusCode === 410) gone = true;
        this.lastError = error ? (error instanceof Error ? error.message : String(error)) : this.lastError;
        // The server ends watches by design: resume at once; after a failure, pause first;
        // after a 410, list again before watching.
        const resume = async () => {
          if (this.stopped) return;
          if (gone) await this.relist();
          await this.connect();
        };
        setTimeout(() => void resume().catch((e: unknown) => {
          this.lastError = e instanceof Error ? e.message : String(e);
          setTimeout(() => void resume().catch(() => undefined), 1_000).unref();
        }), error && !gone ? 1_000 : 0).unref();
      },
    );
  }

  /** Resolves with the object once `predicate` holds; rejects on timeout or abort. */
  until(predicate: (object: T) => boolean, timeoutMs: number, signal: AbortSignal, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
      };
      const check = () => {
        if (this.latest && !this.deleted && predicate(this.latest)) {
          done();
          resolve(this.latest);
        }
      };
      const onAbort = () => {
        done();
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s${this.lastError ? ` (last watch error: ${this.lastError})` : ''}`));
      }, timeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(check);
      check();
    });
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/** The list call for a watch path (deployments through the apps API, custom resources through the custom objects API). */
async function listAt(clients: KubeClients, path: string, fieldSelector: string): Promise<unknown> {
  let m = path.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments$/);
  if (m) return clients.apps.listNamespacedDeployment({ namespace: m[1]!, fieldSelector });
  m = path.match(/^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)$/);
  if (m) return clients.custom.listNamespacedCustomObject({ group: m[1]!, version: m[2]!, namespace: m[3]!, plural: m[4]!, fieldSelector });
  throw new Error(`no list call for the watch path ${path}`);
}
