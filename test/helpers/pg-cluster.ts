/**
 * Real PostgreSQL servers that tests build themselves (with drillbook's own server helpers),
 * to stand in for "an existing self-managed server" the driver is pointed at.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { archiveSettings, takeBaseBackup } from '../../runners/drivers/postgres/backup.js';
import { pgBinaries } from '../../runners/drivers/postgres/binaries.js';
import { type ConnectionSettings, connect, initCluster, startServer, stopServer, waitUntilAccepting, writeSettings } from '../../runners/drivers/postgres/server.js';
import { chownTree, databaseUser, freePort } from '../../runners/system.js';

export interface TestServer extends ConnectionSettings {
  dataDir: string;
  password: string;
}

export interface TestCluster {
  root: string;
  /** The WAL archive, when started with `archive: true`. */
  archiveDir?: string;
  password: string;
  passwordEnv: string;
  primary: TestServer;
  standby?: TestServer;
  /** Starts (again) a server from a data directory, e.g. the killed primary after a drill. */
  start(dataDir: string, port?: number): Promise<TestServer>;
  destroy(): Promise<void>;
}

/** A world-traversable temp dir: PostgreSQL runs as an unprivileged user when tests run as root. */
export function sharedTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export async function startTestCluster(
  options: { standbyPrimaryPort?: (primaryPort: number) => Promise<number>; withStandby?: boolean; archive?: boolean; /** Other PostgreSQL binaries than the embedded ones (e.g. /usr/lib/postgresql/15/bin). */ binDir?: string } = {},
): Promise<TestCluster> {
  const binaries = await pgBinaries(options.binDir);
  const user = databaseUser();
  const root = sharedTempDir('drillbook-test-cluster-');
  chownTree(root, user);
  const password = crypto.randomBytes(12).toString('hex');
  const passwordEnv = `DRILLBOOK_TEST_PW_${crypto.randomBytes(4).toString('hex').toUpperCase()}`;
  process.env[passwordEnv] = password;
  const started: string[] = [];

  const start = async (dataDir: string, port?: number): Promise<TestServer> => {
    const chosen = port ?? (await freePort());
    await startServer(binaries, { dataDir, port: chosen, logFile: `${dataDir}.log`, user });
    started.push(dataDir);
    const server = { host: '127.0.0.1', port: chosen, database: 'postgres', user: 'postgres', password, dataDir };
    await waitUntilAccepting(server, 30_000);
    return server;
  };

  const primaryDir = path.join(root, 'primary');
  await initCluster(binaries, primaryDir, password, user);
  writeSettings(primaryDir, { wal_level: 'replica', max_wal_senders: 5, wal_keep_size: '64MB', hot_standby: 'on', max_connections: 200 }, user);
  let archiveDir: string | undefined;
  if (options.archive) {
    archiveDir = path.join(root, 'archive');
    fs.mkdirSync(archiveDir, { mode: 0o700 });
    chownTree(archiveDir, user);
    writeSettings(primaryDir, archiveSettings(archiveDir, '1s'), user);
  }
  const primary = await start(primaryDir);

  let standby: TestServer | undefined;
  if (options.withStandby) {
    const admin = await connect(primary);
    const standbyDir = path.join(root, 'standby');
    try {
      await takeBaseBackup(admin, primaryDir, standbyDir, user);
    } finally {
      await admin.end();
    }
    const upstreamPort = options.standbyPrimaryPort ? await options.standbyPrimaryPort(primary.port) : primary.port;
    writeSettings(standbyDir, { primary_conninfo: `host=127.0.0.1 port=${upstreamPort} user=postgres password=${password}` }, user);
    fs.writeFileSync(path.join(standbyDir, 'standby.signal'), '');
    chownTree(standbyDir, user);
    standby = await start(standbyDir);
  }

  return {
    root,
    archiveDir,
    password,
    passwordEnv,
    primary,
    standby,
    start,
    async destroy() {
      for (const dataDir of started.reverse()) await stopServer(dataDir).catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
      delete process.env[passwordEnv];
    },
  };
}
