/**
 * Watches one named object (a Deployment's readiness, a Velero Restore's phase) through the
 * API server's watch stream instead of polling: every change arrives as it happens, so the
 * timeline shows when it happened, not when a poll noticed. A stream the server closes is
 * resumed from the last resourceVersion (from scratch after 410 Gone).
 */
import type { KubeClients } from './client.js';

export interface WatchedObject {
  metadata?: { name?: string; resourceVersion?: string };
}

export class ObjectWatch<T extends WatchedObject> {
  latest: T | undefined;
  deleted = false;
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
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const query: Record<string, string> = { fieldSelector: `metadata.name=${this.name}` };
    if (this.resourceVersion) query.resourceVersion = this.resourceVersion;
    this.controller = await this.clients.watch.watch(
      this.path,
      query,
      (type: string, object: T) => {
        if (type === 'ERROR') {
          // 410 Gone: our resourceVersion is too old; start over from the current state.
          this.resourceVersion = undefined;
          return;
        }
        if (object?.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        this.latest = object;
        this.deleted = type === 'DELETED';
        this.onChange(object, type);
        for (const wake of [...this.waiters]) wake();
      },
      (error: unknown) => {
        if (this.stopped) return;
        this.lastError = error ? (error instanceof Error ? error.message : String(error)) : undefined;
        // The server ends watches after a while by design; resume (after a pause when it failed).
        setTimeout(() => void this.connect().catch(() => undefined), error ? 1_000 : 0).unref();
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
