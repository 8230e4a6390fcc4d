/**
 * Append-only evidence files (timeline.jsonl, probes.csv): writes reach the OS at once, fsyncs
 * are batched to at most one per 200 ms per file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { EvidenceError } from '../evidence-files.js';

const FSYNC_BATCH_MS = 200;

/**
 * An append-only file whose writes are serialised (one chain of promises, so lines never
 * interleave) and whose fsyncs are batched.
 */
export class DurableAppender {
  private queue: Promise<void> = Promise.resolve();
  private lastSyncAt = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private closed = false;

  constructor(private readonly handle: FileHandle, private readonly file: string) {}

  static async open(file: string): Promise<DurableAppender> {
    return new DurableAppender(await open(file, 'a'), file);
  }

  append(text: string): Promise<void> {
    if (this.closed) return Promise.reject(new EvidenceError(`${this.file} is already closed`));
    const write = this.queue.then(async () => {
      await this.handle.appendFile(text);
      this.dirty = true;
      if (Date.now() - this.lastSyncAt >= FSYNC_BATCH_MS) await this.sync();
      else this.scheduleSync();
    });
    // A failed write rejects its own caller but must not wedge the writes after it.
    this.queue = write.catch(() => undefined);
    return write;
  }

  async flush(): Promise<void> {
    await this.queue;
    if (this.dirty) await this.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearTimeout(this.syncTimer);
    await this.handle.close();
  }

  private scheduleSync(): void {
    if (this.syncTimer !== undefined) return;
    const delay = Math.max(0, FSYNC_BATCH_MS - (Date.now() - this.lastSyncAt));
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      // Runs through the queue so it never races a close(); errors surface on flush/close.
      this.queue = this.queue.then(() => (this.dirty && !this.closed ? this.sync() : undefined)).catch(() => undefined);
    }, delay);
    // A pending fsync must not keep the process alive; close() syncs anyway.
    this.syncTimer.unref();
  }

  private async sync(): Promise<void> {
    this.lastSyncAt = Date.now();
    await this.handle.sync();
    // Only after success: a failed fsync is retried, and reported, by the next flush().
    this.dirty = false;
  }
}
