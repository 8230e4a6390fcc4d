/**
 * Endpoints as clients connect to them, and which server answers: against a real primary
 * and streaming standby (embedded PostgreSQL 18), a second, unrelated cluster (the system's
 * PostgreSQL 15, when installed) and real sockets that refuse or hold a connection. The
 * ground truth is what the servers and their files say (postmaster.pid, pg_controldata,
 * timeline history files), never drillbook's own reading of it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBinaries } from '../../../runners/drivers/postgres/binaries.js';
import { type ParsedEndpoint, EndpointConnectError, connectEndpoint, describeProblem, parseEndpoint, preflightEndpoint } from '../../../runners/drivers/postgres/endpoint.js';
import { type ServerIdentity, checkProcessesBelong, readControlFile, readPostmasterPid, sameServer, serverIdentity } from '../../../runners/drivers/postgres/identity.js';
import { membersLeader } from '../../../runners/drivers/postgres/topology.js';
import { connect, initCluster, postmasterPid, startServer, stopServer, waitUntilAccepting } from '../../../runners/drivers/postgres/server.js';
import { chownTree, databaseUser, freePort } from '../../../runners/system.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../../helpers/pg-cluster.js';

const PG15 = '/usr/lib/postgresql/15/bin';
const hasPg15 = fs.existsSync(path.join(PG15, 'postgres')) && fs.existsSync(path.join(PG15, 'pg_controldata'));

let cluster: TestCluster;
let primary: TestCluster['primary'];
let standby: NonNullable<TestCluster['standby']>;
/** A listener that accepts TCP connections and never answers: HAProxy with no backend up. */
let holder: net.Server;
let holderPort: number;
const held: net.Socket[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ withStandby: true });
  primary = cluster.primary;
  standby = cluster.standby!;
  holder = net.createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  holderPort = (holder.address() as net.AddressInfo).port;
  // The standby must be streaming before its role and timeline mean anything.
  const client = await connect(standby);
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await client.query<{ status: string | null }>('SELECT (SELECT status FROM pg_stat_wal_receiver) AS status');
      if (rows[0]?.status === 'streaming') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
  await cluster?.destroy();
});

const hostsOf = (...ports: number[]) => ports.map((p) => `127.0.0.1:${p}`).join(',');
const endpoint = (host: string, targetSessionAttrs: ParsedEndpoint['targetSessionAttrs']) => parseEndpoint({ host, targetSessionAttrs, user: 'postgres', database: 'postgres' });

async function withEndpoint<T>(parsed: ParsedEndpoint, use: (client: pg.Client, answered: { host: string; port: number }) => Promise<T>, timeoutMs = 2_000): Promise<T> {
  const connected = await connectEndpoint(parsed, { password: cluster.password, connectTimeoutMs: timeoutMs });
  try {
    return await use(connected.client, connected.answered);
  } finally {
    await connected.client.end();
  }
}

describe('connecting to a multi-host endpoint the way libpq does', () => {
  it('read-write skips the standby listed first and lands on the primary', async () => {
    const connected = await connectEndpoint(endpoint(hostsOf(standby.port, primary.port), 'read-write'), { password: cluster.password, connectTimeoutMs: 2_000 });
    try {
      expect(connected.answered).toEqual({ host: '127.0.0.1', port: primary.port });
      expect(connected.attempts.map((a) => [a.port, a.problem?.kind])).toEqual([
        [standby.port, 'not-writable'],
        [primary.port, undefined],
      ]);
      // Ground truth from the server itself: the session is the primary's and takes a write.
      const { rows } = await connected.client.query<{ port: number; in_recovery: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS in_recovery');
      expect(rows[0]).toEqual({ port: primary.port, in_recovery: false });
      await connected.client.query('CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (1)');
    } finally {
      await connected.client.end();
    }
  });

  it('primary checks pg_is_in_recovery(); any takes the first host that answers', async () => {
    await withEndpoint(endpoint(hostsOf(standby.port, primary.port), 'primary'), async (client, answered) => {
      expect(answered.port).toBe(primary.port);
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
    });
    await withEndpoint(endpoint(hostsOf(standby.port, primary.port), 'any'), async (client, answered) => {
      expect(answered.port).toBe(standby.port);
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
    });
  });

  it('a host that holds the connection costs its timeout, then the next host is tried', async () => {
    const started = performance.now();
    const connected = await connectEndpoint(endpoint(hostsOf(holderPort, primary.port), 'read-write'), { password: cluster.password, connectTimeoutMs: 600 });
    const elapsed = performance.now() - started;
    await connected.client.end();
    expect(connected.answered.port).toBe(primary.port);
    expect(connected.attempts[0]).toMatchObject({ port: holderPort, problem: { kind: 'timeout' } });
    expect(connected.attempts[0]!.elapsedMs).toBeGreaterThanOrEqual(590);
    expect(elapsed).toBeLessThan(600 + 1_500);
  });

  it('no host that fits is an error naming every host and why', async () => {
    const closed = await freePort();
    const error = await connectEndpoint(endpoint(hostsOf(standby.port, closed), 'read-write'), { password: cluster.password, connectTimeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointConnectError);
    const attempts = (error as EndpointConnectError).attempts;
    expect(attempts.map((a) => a.problem?.kind)).toEqual(['not-writable', 'refused']);
    expect((error as Error).message).toContain(`127.0.0.1:${closed} connection refused`);
    expect((error as Error).message).not.toContain(cluster.password);
  });
});

describe('preflight before T0', () => {
  it('classifies an unknown host, a closed port, a held connection, a wrong password and a missing database', async () => {
    const closed = await freePort();
    const hosts = `drillbook-no-such-host.invalid:5432,127.0.0.1:${closed},127.0.0.1:${holderPort},${hostsOf(standby.port, primary.port)}`;
    const started = performance.now();
    const report = await preflightEndpoint(endpoint(hosts, 'read-write'), { password: cluster.password, connectTimeoutMs: 800 });
    expect(performance.now() - started).toBeLessThan(800 + 1_000); // hosts are asked at once
    expect(report.hosts.map((h) => h.problem?.kind)).toEqual(['unknown-host', 'refused', 'timeout', 'not-writable', undefined]);
    // One bad member does not stop the drill when a writable one answers, but each is named.
    expect(report.ok).toBe(true);
    expect(report.chosen).toEqual({ host: '127.0.0.1', port: primary.port });
    expect(report.problems).toEqual([
      expect.stringMatching(/^target\.endpoint: drillbook-no-such-host\.invalid:5432: unknown host: the host name does not resolve \((ENOTFOUND|EAI_AGAIN)\)/),
      expect.stringContaining(`target.endpoint: 127.0.0.1:${closed}: refused`),
      expect.stringContaining(`target.endpoint: 127.0.0.1:${holderPort}: timeout: no answer within 800 ms`),
    ]);
    expect(report.hosts[3]).toMatchObject({ inRecovery: true, readOnly: true, addresses: ['127.0.0.1'] });
    expect(report.hosts[4]).toMatchObject({ inRecovery: false, readOnly: false });

    const wrongPassword = await preflightEndpoint(endpoint(hostsOf(primary.port), 'read-write'), { password: 'not-the-password', connectTimeoutMs: 2_000 });
    expect(wrongPassword.ok).toBe(false);
    expect(wrongPassword.hosts[0]!.problem).toMatchObject({ kind: 'auth', code: '28P01' });
    expect(wrongPassword.problems[0]).toContain('authentication failed');
    const noPassword = await preflightEndpoint(endpoint(hostsOf(primary.port), 'any'), { connectTimeoutMs: 2_000 });
    expect(noPassword.hosts[0]!.problem?.kind).toBe('auth');

    const missingDb = await preflightEndpoint(parseEndpoint({ host: hostsOf(primary.port), database: 'no_such_db' }), { password: cluster.password, connectTimeoutMs: 2_000 });
    expect(missingDb.hosts[0]!.problem).toMatchObject({ kind: 'database', code: '3D000' });
  });

  it('an endpoint with no writable server is not ok, and says the standby answered read-only', async () => {
    const report = await preflightEndpoint(endpoint(hostsOf(standby.port), 'read-write'), { password: cluster.password, connectTimeoutMs: 2_000 });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`target.endpoint: no host of 127.0.0.1:${standby.port} is writable (127.0.0.1:${standby.port} answered as read-only)`]);
  });

  it('an unresolvable name reported through the real resolver (the ENOTFOUND of finding 8)', async () => {
    const report = await preflightEndpoint(parseEndpoint({ host: 'pg1.drillbook.invalid:5432,pg2.drillbook.invalid:5433', targetSessionAttrs: 'read-write' }), { connectTimeoutMs: 1_000 });
    expect(report.ok).toBe(false);
    expect(report.hosts.map((h) => h.problem?.kind)).toEqual(['unknown-host', 'unknown-host']);
    expect(describeProblem(report.hosts[0]!.problem!)).toContain('check the spelling');
  });
});

describe('target.cluster.members: the leader is the member not in recovery', () => {
  it('finds the primary among real members, and names a member that does not answer', async () => {
    const closed = await freePort();
    const found = await membersLeader([`127.0.0.1:${standby.port}`, `127.0.0.1:${closed}`, `127.0.0.1:${primary.port}`], { database: 'postgres', user: 'postgres' }, { password: cluster.password, connectTimeoutMs: 1_000 });
    expect(found).toMatchObject({ name: `127.0.0.1:${primary.port}`, host: '127.0.0.1', port: primary.port, timeline: 1 });
    expect(found.statuses.map((s) => [s.port, s.inRecovery])).toEqual([
      [standby.port, true],
      [primary.port, false],
    ]);
    expect(found.unreachable).toEqual([{ member: `127.0.0.1:${closed}`, problem: expect.stringContaining('connection refused') }]);
    await expect(membersLeader([`127.0.0.1:${standby.port}`], { database: 'postgres', user: 'postgres' }, { password: cluster.password, connectTimeoutMs: 1_000 })).rejects.toThrow('no member is out of recovery');
  });
});

describe('server identity', () => {
  let primaryIdentity: ServerIdentity;
  let standbyIdentity: ServerIdentity;

  beforeAll(async () => {
    primaryIdentity = await withEndpoint(endpoint(hostsOf(primary.port), 'any'), (client) => serverIdentity(client));
    standbyIdentity = await withEndpoint(endpoint(hostsOf(standby.port), 'any'), (client) => serverIdentity(client));
  });

  it('reads system identifier, role, timeline, data directory, port and version', async () => {
    expect(primaryIdentity).toMatchObject({ inRecovery: false, timeline: 1, timelineSource: 'wal-insert', serverPort: primary.port, dataDirectory: fs.realpathSync(primary.dataDir) });
    expect(standbyIdentity).toMatchObject({ inRecovery: true, timeline: 1, timelineSource: 'wal-receiver', serverPort: standby.port, dataDirectory: fs.realpathSync(standby.dataDir) });
    // A standby made from a base backup shares the primary's system identifier.
    expect(standbyIdentity.systemIdentifier).toBe(primaryIdentity.systemIdentifier);
    expect(primaryIdentity.systemIdentifier).toMatch(/^\d{15,20}$/);
    expect(primaryIdentity.serverVersionNum).toBeGreaterThanOrEqual(150000);
    // postmaster.pid (written by the server) names the same start second.
    expect(Math.abs(readPostmasterPid(primary.dataDir)!.startedAt - primaryIdentity.postmasterStartedAt)).toBeLessThanOrEqual(1);
  });

  it('reads pg_control and postmaster.pid of a local data directory', () => {
    const control = readControlFile(primary.dataDir);
    expect(control.systemIdentifier).toBe(primaryIdentity.systemIdentifier);
    expect(control.state).toBe('in production');
    expect(readControlFile(standby.dataDir).state).toBe('in archive recovery');
    const pidFile = readPostmasterPid(standby.dataDir)!;
    expect(pidFile).toMatchObject({ pid: postmasterPid(standby.dataDir), port: standby.port, dataDirectory: standby.dataDir });
    // A hot standby that accepts connections reports `ready` like a primary: the role must come from elsewhere.
    expect(readPostmasterPid(primary.dataDir)!.status).toBe('ready');
    expect(pidFile.status).toBe('ready');
  });

  it("accepts the primary's own data directory", () => {
    const result = checkProcessesBelong(primaryIdentity, primary.dataDir);
    expect(result).toMatchObject({ belongs: true, pid: postmasterPid(primary.dataDir) });
  });

  it("refuses the standby's data directory against the primary endpoint (role)", () => {
    const result = checkProcessesBelong(primaryIdentity, standby.dataDir);
    expect(result.belongs).toBe(false);
    if (result.belongs) return;
    expect(result.kind).toBe('role');
    expect(result.reason).toContain('is a standby (in recovery), but the endpoint\'s server is the primary');
  });

  it('refuses a directory that is not a data directory', () => {
    const empty = sharedTempDir('drillbook-not-a-datadir-');
    try {
      expect(checkProcessesBelong(primaryIdentity, empty)).toMatchObject({ belongs: false, kind: 'not-a-data-directory' });
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasPg15)("refuses another cluster's data directory (system identifier), and parses PostgreSQL 15's pg_control as pg_controldata does", async () => {
    const user = databaseUser();
    const root = sharedTempDir('drillbook-other-cluster-');
    chownTree(root, user);
    const dataDir = path.join(root, 'data');
    const binaries = await pgBinaries(PG15);
    await initCluster(binaries, dataDir, cluster.password, user);
    const port = await freePort();
    try {
      await startServer(binaries, { dataDir, port, logFile: `${dataDir}.log`, user });
      await waitUntilAccepting({ host: '127.0.0.1', port, database: 'postgres', user: 'postgres', password: cluster.password }, 30_000);
      const result = checkProcessesBelong(primaryIdentity, dataDir);
      expect(result).toMatchObject({ belongs: false, kind: 'system-identifier' });
      if (!result.belongs) expect(result.reason).toContain(primaryIdentity.systemIdentifier);

      const controldata = execFileSync(path.join(PG15, 'pg_controldata'), ['-D', dataDir], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(controldata)![1]!.trim();
      const control = readControlFile(dataDir);
      expect(control.systemIdentifier).toBe(field('Database system identifier'));
      expect(String(control.controlVersion)).toBe(field('pg_control version number'));
      expect(control.state).toBe(field('Database cluster state'));
      expect(String(control.checkpointTimeline)).toBe(field("Latest checkpoint's TimeLineID"));
      const other = await connect({ host: '127.0.0.1', port, database: 'postgres', user: 'postgres', password: cluster.password });
      try {
        expect((await serverIdentity(other)).systemIdentifier).toBe(field('Database system identifier'));
      } finally {
        await other.end();
      }
    } finally {
      await stopServer(dataDir).catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('an unprivileged user: a clear error without pg_control_system(), and no data directory without pg_read_all_settings', async () => {
    const admin = await connect(primary);
    const login = { ...primary, user: 'drill_reader', password: 'reader-pw' };
    try {
      await admin.query("CREATE ROLE drill_reader LOGIN PASSWORD 'reader-pw'");
      await admin.query('REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC');
      const reader = await connect(login);
      try {
        await expect(serverIdentity(reader)).rejects.toThrow('GRANT EXECUTE ON FUNCTION pg_control_system() TO the drill user');
        await admin.query('GRANT EXECUTE ON FUNCTION pg_control_system() TO drill_reader');
        const identity = await serverIdentity(reader);
        expect(identity).toMatchObject({ systemIdentifier: primaryIdentity.systemIdentifier, dataDirectory: null, inRecovery: false, serverPort: primary.port });
        // Without the data directory, the port and postmaster start still tell the nodes apart.
        expect(checkProcessesBelong(identity, primary.dataDir).belongs).toBe(true);
        expect(checkProcessesBelong(identity, standby.dataDir)).toMatchObject({ belongs: false, kind: 'role' });
      } finally {
        await reader.end();
      }
    } finally {
      await admin.query('GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC');
      await admin.query('REVOKE EXECUTE ON FUNCTION pg_control_system() FROM drill_reader');
      await admin.query('DROP ROLE drill_reader');
      await admin.end();
    }
  });

  // Last: it promotes the standby, which changes the cluster for anything after it.
  it('after a promotion: the new timeline at once, a changed identity, and the old directories refused', async () => {
    const client = await connect(standby);
    try {
      await client.query('SELECT pg_promote(true, 60)');
      const promoted = await serverIdentity(client);
      // Ground truth: the server wrote the history file of the timeline it switched to.
      const histories = fs.readdirSync(path.join(standby.dataDir, 'pg_wal')).filter((f) => f.endsWith('.history'));
      expect(histories).toContain('00000002.history');
      expect(promoted).toMatchObject({ inRecovery: false, timeline: 2, timelineSource: 'wal-insert', systemIdentifier: primaryIdentity.systemIdentifier });
      expect(sameServer(standbyIdentity, promoted)).toEqual({ same: false, reason: 'the timeline changed from 1 to 2' });
      expect(sameServer(promoted, promoted)).toEqual({ same: true });
      expect(sameServer(promoted, standbyIdentity)).toEqual({ same: false, reason: 'the server went into recovery (demoted)' });
      // Two primaries of one cluster (split brain): the other one's directory is another instance.
      const result = checkProcessesBelong(primaryIdentity, standby.dataDir);
      expect(result).toMatchObject({ belongs: false, kind: 'instance' });
      if (!result.belongs) expect(result.reason).toContain(`port ${standby.port} here, ${primary.port} behind the endpoint`);
      await expect(membersLeader([`127.0.0.1:${primary.port}`, `127.0.0.1:${standby.port}`], { database: 'postgres', user: 'postgres' }, { password: cluster.password, connectTimeoutMs: 1_000 })).rejects.toThrow('the cluster has more than one primary');
    } finally {
      await client.end();
    }
  });
});
