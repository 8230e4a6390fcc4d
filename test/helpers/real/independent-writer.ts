/**
 * The ground truth for drills: an independent writer that writes one numbered row every
 * `intervalMs` through the endpoint clients use (HAProxy, a libpq string…), with its own
 * connections and its own log, and knows afterwards exactly what it was told.
 *
 * It depends on nothing in drillbook — only `pg` — so drillbook's measurement can be graded
 * against it. For every write it records the sequence number, the client send time, and the
 * acknowledgement time (with the PostgreSQL port that acknowledged it) or the error. From
 * that it tells when writes stopped and resumed, seen from the client; given a connection
 * to the surviving or restored data, it tells which acknowledged writes are missing.
 *
 *   const writer = await IndependentWriter.create({ connection: cluster.endpointConnection() });
 *   writer.start();
 *   … fault …
 *   await writer.stop();
 *   const [outage] = writer.outages();            // stoppedAt / resumedAt / durationMs
 *   const { missing } = await writer.missingAcknowledged(newLeaderConnection);
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

export interface IndependentWriterOptions {
  /**
   * Where to write: a connection string or pg client settings (the endpoint clients use), or
   * a list of hosts tried in order for every new connection, as libpq does with
   * `host=a,b target_session_attrs=…` (node-postgres itself takes one host only).
   */
  connection: string | pg.ClientConfig | Array<string | pg.ClientConfig>;
  /** With a list of hosts: 'read-write' (default) skips a host whose session is read-only, like libpq. */
  targetSessionAttrs?: 'any' | 'read-write';
  /** One write every this many ms (default 20). */
  intervalMs?: number;
  /** The writer's own schema (default `independent_writer`); its table is `<schema>.writes`. */
  schema?: string;
  /** Tells this writer's rows from other runs' in the same table (default random). */
  runId?: string;
  /** A write (connect included) that takes longer fails with "timeout" and its connection is dropped (default 1000 ms). */
  writeTimeoutMs?: number;
  /**
   * Writes in flight at once, each on its own connection, so hung writes do not hide recovery
   * (default 16). While connections hang, a new attempt starts about every
   * writeTimeoutMs / maxInFlight ms: that, or intervalMs if larger, is how late a resumption can be seen.
   */
  maxInFlight?: number;
  /** Idle connections kept for reuse after a burst (default 2); extra ones are closed. */
  maxIdle?: number;
  /** JSON lines, one per finished write (default: none, records stay in memory only). */
  logFile?: string;
}

export interface WriteRecord {
  seq: number;
  /** Client clock, epoch ms (fractional), taken just before the INSERT is sent (or its connection opened). */
  sentAt: number;
  /** When the commit was acknowledged to the client. */
  ackAt?: number;
  /** The PostgreSQL port that acknowledged it (`inet_server_port()`): tells old and new leader apart. */
  serverPort?: number;
  /** When and why it failed. A failed write may still have committed (e.g. a timeout after the commit). */
  errorAt?: number;
  error?: string;
  /** Whether the write opened a new connection (true after every failure: reconnects are visible). */
  newConnection: boolean;
}

export interface WriterOutage {
  /** The last write acknowledged before the gap, and its ack time: writes were known to work until then. */
  lastAckBefore?: WriteRecord;
  stoppedAt: number;
  /** The first write after lastAckBefore that failed, if any did. */
  firstFailure?: WriteRecord;
  /** The first write acknowledged after the gap; undefined when writes never resumed. */
  firstAckAfter?: WriteRecord;
  resumedAt?: number;
  /** resumedAt − stoppedAt (undefined when not resumed). */
  durationMs?: number;
  /** Writes sent inside the gap that failed. */
  failedWrites: number;
}

export interface MissingReport {
  /** Acknowledged writes considered (all, or those sent in the `between` window). */
  acknowledged: number;
  /** Of those, how many are in the table. */
  found: number;
  /** Acknowledged but absent: lost. */
  missing: WriteRecord[];
  /** Failed (never acknowledged) but present: committed without the client knowing. */
  committedUnacknowledged: WriteRecord[];
  /** Highest seq present in the table. */
  maxSeqFound?: number;
}

const now = () => performance.timeOrigin + performance.now();

export class IndependentWriter {
  readonly runId: string;
  readonly schema: string;
  readonly intervalMs: number;
  readonly writeTimeoutMs: number;
  readonly maxInFlight: number;
  readonly maxIdle: number;
  private readonly configs: pg.ClientConfig[];
  private readonly targetSessionAttrs: 'any' | 'read-write';
  private readonly log?: fs.WriteStream;
  private readonly entries: WriteRecord[] = [];
  private idle: pg.Client[] = [];
  private readonly open = new Set<pg.Client>();
  private inFlight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private nextSeq = 1;
  private skippedTicks = 0;
  private startedAt?: number;
  private stoppedAt?: number;

  private constructor(options: IndependentWriterOptions) {
    this.runId = options.runId ?? crypto.randomBytes(6).toString('hex');
    this.schema = options.schema ?? 'independent_writer';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.schema)) throw new Error(`IndependentWriter: schema must be a plain lower-case identifier, got ${this.schema}`);
    this.intervalMs = options.intervalMs ?? 20;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 1_000;
    this.maxInFlight = options.maxInFlight ?? 16;
    this.maxIdle = options.maxIdle ?? 2;
    const list = Array.isArray(options.connection) ? options.connection : [options.connection];
    if (list.length === 0) throw new Error('IndependentWriter: connection is an empty list');
    this.configs = list.map((c) => (typeof c === 'string' ? { connectionString: c } : { ...c }));
    this.targetSessionAttrs = options.targetSessionAttrs ?? (Array.isArray(options.connection) ? 'read-write' : 'any');
    if (options.logFile) this.log = fs.createWriteStream(options.logFile, { flags: 'a' });
  }

  /** Creates the schema and table through the connection (retrying for up to 10 s) and returns a stopped writer. */
  static async create(options: IndependentWriterOptions): Promise<IndependentWriter> {
    const writer = new IndependentWriter(options);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await writer.withWritableClient(async (client) => {
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${writer.schema}`);
          await client.query(`CREATE TABLE IF NOT EXISTS ${writer.schema}.writes (run_id text NOT NULL, seq bigint NOT NULL, sent_at timestamptz NOT NULL, PRIMARY KEY (run_id, seq))`);
        });
        return writer;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`IndependentWriter: could not create ${writer.schema}.writes: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /**
   * Opens `count` connections into the idle pool before writing starts (up to maxIdle), so
   * writes held by a frozen server wait on established sessions: no storm of connections and
   * authentications when it resumes, which would slow the server the drill is measuring.
   */
  async openPool(count: number): Promise<void> {
    const wanted = Math.min(count, this.maxIdle) - this.idle.length;
    const opened = await Promise.all(
      Array.from({ length: Math.max(0, wanted) }, () =>
        this.connectTarget(10_000, (created) => {
          this.open.add(created);
          created.on('error', () => this.discard(created));
        }),
      ),
    );
    this.idle.push(...opened);
  }

  /** Creates the writer, starts it and waits until `acks` writes were acknowledged. */
  static async started(options: IndependentWriterOptions, acks = 20): Promise<IndependentWriter> {
    const writer = await IndependentWriter.create(options);
    writer.start();
    await writer.waitForAcks(acks);
    return writer;
  }

  /** Starts writing: one write per interval, on the clock, whether or not earlier ones finished (up to maxInFlight). */
  start(): void {
    if (this.timer) return;
    this.startedAt = now();
    this.writeLog({ event: 'start', runId: this.runId, at: this.startedAt, intervalMs: this.intervalMs });
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  /** Stops writing, waits for the writes in flight (each bounded by writeTimeoutMs), closes its connections and its log. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.stoppedAt = now();
    for (const client of this.open) await closeClient(client);
    this.open.clear();
    this.idle = [];
    this.writeLog({ event: 'stop', at: this.stoppedAt, writes: this.entries.length, skippedTicks: this.skippedTicks });
    if (this.log) await new Promise<void>((resolve) => this.log!.end(() => resolve()));
  }

  /** Every write so far, in seq order. */
  records(): readonly WriteRecord[] {
    return [...this.entries].sort((a, b) => a.seq - b.seq);
  }

  acknowledged(): WriteRecord[] {
    return this.records().filter((r) => r.ackAt !== undefined);
  }

  failed(): WriteRecord[] {
    return this.records().filter((r) => r.error !== undefined);
  }

  /** Failed writes counted by error message (digits masked), e.g. { 'timeout after 1000 ms': 9 }. */
  errorKinds(): Record<string, number> {
    const kinds: Record<string, number> = {};
    for (const r of this.failed()) {
      const kind = r.error!.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR');
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
  }

  /** Ticks dropped because maxInFlight writes were already in flight. */
  get skipped(): number {
    return this.skippedTicks;
  }

  /** Waits until at least `count` writes have been acknowledged since the call (default 1). */
  async waitForAcks(count = 1, timeoutMs = 10_000): Promise<void> {
    const base = this.acknowledged().length;
    const deadline = Date.now() + timeoutMs;
    while (this.acknowledged().length < base + count) {
      if (Date.now() > deadline) throw new Error(`IndependentWriter: fewer than ${count} acknowledged writes within ${timeoutMs} ms (last error: ${this.failed().at(-1)?.error ?? 'none'})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * The periods in which writes stopped being acknowledged, seen from the client: a gap between
   * two consecutive acknowledgements that holds at least one failed write, or that is longer
   * than `minGapMs` (default 500 ms; set it above the longest hiccup you want to ignore).
   * Writes that failed after the last acknowledgement form a final outage without resumedAt.
   */
  outages(options: { minGapMs?: number } = {}): WriterOutage[] {
    const minGapMs = options.minGapMs ?? 500;
    const acked = this.entries.filter((r) => r.ackAt !== undefined).sort((a, b) => a.ackAt! - b.ackAt!);
    const failures = this.entries.filter((r) => r.error !== undefined).sort((a, b) => a.sentAt - b.sentAt);
    const result: WriterOutage[] = [];
    const failuresBetween = (from: number, to: number) => failures.filter((f) => f.sentAt >= from && f.sentAt < to);
    // Before the first ack: only an outage when writes failed from the start.
    if (acked.length > 0) {
      const before = failures.filter((f) => f.sentAt < acked[0]!.sentAt);
      if (before.length > 0) {
        result.push({ stoppedAt: this.startedAt ?? before[0]!.sentAt, firstFailure: before[0], firstAckAfter: acked[0], resumedAt: acked[0]!.ackAt, durationMs: acked[0]!.ackAt! - (this.startedAt ?? before[0]!.sentAt), failedWrites: before.length });
      }
    }
    for (let i = 1; i < acked.length; i++) {
      const a = acked[i - 1]!;
      const b = acked[i]!;
      const failed = failuresBetween(a.sentAt, b.sentAt);
      const gap = b.ackAt! - a.ackAt!;
      if (failed.length === 0 && gap <= minGapMs) continue;
      result.push({ lastAckBefore: a, stoppedAt: a.ackAt!, firstFailure: failed[0], firstAckAfter: b, resumedAt: b.ackAt, durationMs: gap, failedWrites: failed.length });
    }
    const last = acked.at(-1);
    const trailing = failures.filter((f) => !last || f.sentAt > last.sentAt);
    if (trailing.length > 0) {
      result.push({ lastAckBefore: last, stoppedAt: last?.ackAt ?? this.startedAt ?? trailing[0]!.sentAt, firstFailure: trailing[0], failedWrites: trailing.length });
    }
    return result;
  }

  /**
   * When writing worked again *for every client*, seen by this writer after `afterMs` (epoch
   * ms): the first write served promptly (acknowledged within `promptMs` of its send) from
   * which every write sent in the next `holdMs` was served promptly too (`stable`), and the
   * last write sent before it that was not (`lastFailure`: failed, or held longer than
   * `promptMs`). A single early success is not a resumption: behind a proxy that still routes
   * some connections to the dead leader (HAProxy while both servers are marked UP), clients
   * succeed or hang at random until it stops. The true resumption lies in
   * [lastFailure.sentAt, stable.ackAt]. `promptMs` is for a caller who knows nothing but the
   * outage can hold a write that long (a frozen server on a direct connection): a write held
   * past it was sent while the service was down. Undefined when writing never became stable.
   */
  resumption(afterMs: number, options: { holdMs?: number; promptMs?: number } = {}): { stable: WriteRecord; lastFailure: WriteRecord | undefined } | undefined {
    const holdMs = options.holdMs ?? 2_000;
    const promptMs = options.promptMs ?? Number.POSITIVE_INFINITY;
    const prompt = (r: WriteRecord) => r.ackAt !== undefined && r.ackAt - r.sentAt <= promptMs;
    const sent = this.records()
      .filter((r) => r.sentAt > afterMs)
      .sort((a, b) => a.sentAt - b.sentAt);
    for (const [i, candidate] of sent.entries()) {
      if (!prompt(candidate)) continue;
      const window = sent.slice(i).filter((r) => r.sentAt <= candidate.sentAt + holdMs);
      // Not decided yet: writes in the window still in flight.
      if (window.some((r) => r.ackAt === undefined && r.error === undefined)) return undefined;
      if (!window.every(prompt)) continue;
      const lastFailure = sent.slice(0, i).reverse().find((r) => !prompt(r));
      return { stable: candidate, lastFailure };
    }
    return undefined;
  }

  /**
   * When a frozen server resumed, seen by this writer after `afterMs`: a freeze holds every
   * write sent during it and releases them together. The first release is the writes held
   * longer than `promptMs` and acknowledged within `promptMs` of the first of them; the server
   * resumed after the last of them was sent and before the first was acknowledged. (A later
   * hiccup of the machine, which also holds a write, is not part of the first release.)
   */
  release(afterMs: number, promptMs: number): { fromMs: number; toMs: number } | undefined {
    const held = this.records()
      .filter((r) => r.sentAt > afterMs && r.ackAt !== undefined && r.ackAt - r.sentAt > promptMs)
      .sort((a, b) => a.ackAt! - b.ackAt!);
    const first = held[0]?.ackAt;
    if (first === undefined) return undefined;
    const group = held.filter((r) => r.ackAt! <= first + promptMs);
    return { fromMs: Math.max(...group.map((r) => r.sentAt)), toMs: first };
  }

  /**
   * Which acknowledged writes are absent from the data behind `connection` (the new leader, a
   * restored copy…). `between` limits the check to writes sent in [from, to] (epoch ms), e.g.
   * up to a restore's recovery target.
   */
  async missingAcknowledged(connection: string | pg.ClientConfig, options: { between?: [number, number] } = {}): Promise<MissingReport> {
    const config = typeof connection === 'string' ? { connectionString: connection } : connection;
    const present = await withClient(config, async (client) => {
      const rows = await client.query<{ seq: string }>(`SELECT seq FROM ${this.schema}.writes WHERE run_id = $1`, [this.runId]);
      return new Set(rows.rows.map((r) => Number(r.seq)));
    });
    const inWindow = (r: WriteRecord) => !options.between || (r.sentAt >= options.between[0] && r.sentAt <= options.between[1]);
    const acked = this.acknowledged().filter(inWindow);
    const missing = acked.filter((r) => !present.has(r.seq));
    const committedUnacknowledged = this.failed().filter(inWindow).filter((r) => present.has(r.seq));
    return {
      acknowledged: acked.length,
      found: acked.length - missing.length,
      missing,
      committedUnacknowledged,
      maxSeqFound: present.size > 0 ? Math.max(...present) : undefined,
    };
  }

  /** Drops the writer's schema (the whole `<schema>`, every run's rows) through `connection`, or where it writes. */
  async dropSchema(connection?: string | pg.ClientConfig): Promise<void> {
    const drop = (client: pg.Client) => client.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    if (connection === undefined) await this.withWritableClient(drop);
    else await withClient(typeof connection === 'string' ? { connectionString: connection } : connection, drop);
  }

  private async withWritableClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connectTarget(5_000);
    try {
      return await fn(client);
    } finally {
      await closeClient(client);
    }
  }

  /**
   * A connected client on the first host that takes it (and, for 'read-write', whose
   * `transaction_read_only` is off), trying hosts in order the way libpq does.
   */
  private async connectTarget(timeoutMs: number, onCreate?: (client: pg.Client) => void, signal?: AbortSignal): Promise<pg.Client> {
    const errors: string[] = [];
    for (const config of this.configs) {
      if (signal?.aborted) throw new Error('abandoned: the write timed out');
      const client = new pg.Client({ ...config, connectionTimeoutMillis: timeoutMs });
      client.on('error', () => undefined);
      onCreate?.(client);
      try {
        await client.connect();
        if (this.targetSessionAttrs === 'read-write') {
          const { rows } = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
          if (rows[0]?.transaction_read_only !== 'off') {
            errors.push(`${config.host ?? 'host'}:${config.port ?? ''} is read-only`);
            this.open.delete(client);
            await closeClient(client);
            continue;
          }
        }
        return client;
      } catch (error) {
        errors.push((error as Error).message);
        this.open.delete(client);
        await closeClient(client);
      }
    }
    throw new Error(this.configs.length === 1 ? errors[0]! : `no host accepted a ${this.targetSessionAttrs} session: ${errors.join('; ')}`);
  }

  private tick(): void {
    if (this.inFlight.size >= this.maxInFlight) {
      this.skippedTicks++;
      return;
    }
    const write = this.write(this.nextSeq++);
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
  }

  private async write(seq: number): Promise<void> {
    let client = this.idle.pop();
    const record: WriteRecord = { seq, sentAt: now(), newConnection: client === undefined };
    this.entries.push(record);
    let timer: NodeJS.Timeout | undefined;
    let current: pg.Client | undefined = client;
    const abandoned = new AbortController();
    try {
      const attempt = (async () => {
        if (!client) {
          const connected = await this.connectTarget(
            this.writeTimeoutMs,
            (created) => {
              current = created;
              this.open.add(created);
              // An idle connection that HAProxy shuts or the server drops emits 'error': forget it.
              created.on('error', () => this.discard(created));
            },
            abandoned.signal,
          );
          // Connected after the write was given up: do not keep a connection nobody tracks.
          if (abandoned.signal.aborted) {
            this.discard(connected);
            throw new Error('abandoned: the write timed out');
          }
          client = connected;
          current = client;
        }
        const result = await client.query<{ port: number }>(`INSERT INTO ${this.schema}.writes (run_id, seq, sent_at) VALUES ($1, $2, to_timestamp($3 / 1000.0)) RETURNING inet_server_port() AS port`, [this.runId, seq, record.sentAt]);
        return result.rows[0]?.port;
      })();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandoned.abort();
          reject(new Error(`timeout after ${this.writeTimeoutMs} ms`));
        }, this.writeTimeoutMs);
      });
      attempt.catch(() => undefined);
      const port = await Promise.race([attempt, timeout]);
      record.ackAt = now();
      record.serverPort = port;
      if (this.idle.length < this.maxIdle) this.idle.push(client!);
      else this.discard(client!);
    } catch (error) {
      record.errorAt = now();
      record.error = (error as Error).message || String(error);
      if (current) this.discard(current);
    } finally {
      if (timer) clearTimeout(timer);
      this.writeLog(record);
    }
  }

  private discard(client: pg.Client): void {
    this.idle = this.idle.filter((c) => c !== client);
    if (!this.open.delete(client)) return;
    void closeClient(client);
  }

  private writeLog(entry: object): void {
    this.log?.write(`${JSON.stringify(entry)}\n`);
  }
}

/** Ends a client without waiting on a dead peer: the socket is destroyed if end() does not finish at once. */
async function closeClient(client: pg.Client): Promise<void> {
  const socket = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 200))]);
  socket?.destroy();
}

async function withClient<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionTimeoutMillis: 5_000, query_timeout: 10_000, ...config });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await closeClient(client);
  }
}
