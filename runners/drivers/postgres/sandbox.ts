/**
 * The sandbox: a small "production" built from scratch in a temporary directory — a primary
 * archiving its WAL, a streaming standby, a base backup, an orders schema and a steady
 * synthetic write workload. Every piece registers its undo before it is created, so the
 * whole sandbox disappears at teardown, after an abort, or through `drillbook recover`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { RunContext } from '../../context.js';
import { type OsUser, chownTree, freePort } from '../../system.js';
import { type BaseBackup, archiveSettings, copyDataDirectory, takeBaseBackup } from './backup.js';
import type { PgBinaries } from './binaries.js';
import { type ConnectionSettings, connect, initCluster, startServer, waitUntilAccepting, writeSettings } from './server.js';

export interface Sandbox {
  root: string;
  primary: ConnectionSettings & { dataDir: string };
  standby: (ConnectionSettings & { dataDir: string }) | undefined;
  archiveDir: string;
  baseBackup: BaseBackup;
  workload: Workload;
}

export interface SandboxOptions {
  withStandby: boolean;
  ordersPerSecond: number;
  seedOrders: number;
}

export async function buildSandbox(ctx: RunContext, binaries: PgBinaries, user: OsUser | undefined, options: SandboxOptions): Promise<Sandbox> {
  const root = path.join(ctx.scratchRoot, `drillbook-sandbox-${ctx.runId.slice(0, 8)}`);
  ctx.undo.push({ type: 'fs.remove-dir', params: { path: root, what: 'sandbox' } }, `remove the sandbox directory ${root}`);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  chownTree(root, user);

  // The password lives only in this process and in the sandbox (destroyed at teardown).
  const password = crypto.randomBytes(18).toString('base64url');
  const archiveDir = path.join(root, 'archive');
  fs.mkdirSync(archiveDir, { mode: 0o700 });
  chownTree(archiveDir, user);

  const primaryDir = path.join(root, 'primary');
  const primaryPort = await freePort();
  ctx.log(`sandbox: initdb ${primaryDir}`);
  await initCluster(binaries, primaryDir, password, user);
  writeSettings(
    primaryDir,
    {
      wal_level: 'replica',
      // A real archive ships a segment when it fills or after archive_timeout; the sandbox
      // uses a short timeout so the parallel-restore RPO is seconds, as it would be tuned.
      ...archiveSettings(archiveDir, '2s'),
      max_wal_senders: 5,
      wal_keep_size: '128MB',
      hot_standby: 'on',
      synchronous_commit: 'on',
    },
    user,
  );
  ctx.undo.push({ type: 'postgres.stop-server', params: { dataDir: primaryDir } }, `stop the sandbox primary (port ${primaryPort})`);
  const primaryServer = await startServer(binaries, { dataDir: primaryDir, port: primaryPort, logFile: path.join(root, 'primary.log'), user });
  fs.writeFileSync(`${primaryDir}.pgid`, String(primaryServer.pid));
  const primary = { host: '127.0.0.1', port: primaryPort, database: 'postgres', user: 'postgres', password, dataDir: primaryDir };
  await waitUntilAccepting(primary, 30_000, ctx.signal, ctx.clock);
  ctx.record('sandbox primary started', { port: primaryPort });

  const admin = await connect(primary);
  let baseBackup: BaseBackup;
  try {
    await createOrdersSchema(admin, options.seedOrders);
    baseBackup = await takeBaseBackup(admin, primaryDir, path.join(root, 'backup', 'base'), user, ctx.clock);
    ctx.record('sandbox base backup taken', { startLsn: baseBackup.startLsn, stopLsn: baseBackup.stopLsn });
  } finally {
    await admin.end();
  }

  let standby: Sandbox['standby'];
  if (options.withStandby) {
    const standbyDir = path.join(root, 'standby');
    const standbyPort = await freePort();
    copyDataDirectory(baseBackup.dir, standbyDir);
    writeSettings(
      standbyDir,
      {
        primary_conninfo: `host=127.0.0.1 port=${primaryPort} user=postgres password=${password} application_name=drillbook-standby`,
        restore_command: `cp "${archiveDir}/%f" "%p"`,
        hot_standby: 'on',
      },
      user,
    );
    fs.writeFileSync(path.join(standbyDir, 'standby.signal'), '');
    fs.chmodSync(standbyDir, 0o700);
    chownTree(standbyDir, user);
    ctx.undo.push({ type: 'postgres.stop-server', params: { dataDir: standbyDir } }, `stop the sandbox standby (port ${standbyPort})`);
    const standbyServer = await startServer(binaries, { dataDir: standbyDir, port: standbyPort, logFile: path.join(root, 'standby.log'), user });
    fs.writeFileSync(`${standbyDir}.pgid`, String(standbyServer.pid));
    standby = { host: '127.0.0.1', port: standbyPort, database: 'postgres', user: 'postgres', password, dataDir: standbyDir };
    await waitUntilAccepting(standby, 30_000, ctx.signal, ctx.clock);
    ctx.record('sandbox standby started', { port: standbyPort });
  }

  const workload = new Workload(primary, options.ordersPerSecond);
  await workload.start();
  ctx.record('sandbox workload started', { ordersPerSecond: options.ordersPerSecond });
  return { root, primary, standby, archiveDir, baseBackup, workload };
}

async function createOrdersSchema(client: pg.Client, seedOrders: number): Promise<void> {
  await client.query(`
    CREATE TABLE orders (
      id bigserial PRIMARY KEY,
      customer text NOT NULL,
      amount_cents integer NOT NULL CHECK (amount_cents > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  await client.query(
    `INSERT INTO orders (customer, amount_cents)
     SELECT 'customer-' || (g % 500), (g * 37) % 10000 + 1 FROM generate_series(1, $1) AS g`,
    [seedOrders],
  );
}

/** The application stand-in: inserts orders at a steady rate and counts what fails. */
export class Workload {
  private timer: NodeJS.Timeout | undefined;
  private client: pg.Client | undefined;
  private busy = false;
  written = 0;
  failed = 0;

  constructor(
    private readonly endpoint: ConnectionSettings,
    private readonly perSecond: number,
  ) {}

  async start(): Promise<void> {
    this.client = await connect(this.endpoint);
    this.timer = setInterval(() => void this.tick(), Math.max(1, Math.round(1000 / this.perSecond)));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.client) return; // never queue writes behind a hung server
    this.busy = true;
    try {
      await this.client.query(`INSERT INTO orders (customer, amount_cents) VALUES ('customer-' || (random() * 500)::int, (random() * 9999)::int + 1)`);
      this.written++;
    } catch {
      this.failed++;
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
