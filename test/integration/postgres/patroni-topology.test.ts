/**
 * The Patroni side of "who leads": `GET /cluster`, `POST /switchover` and the re-join wait,
 * against a local HTTP server that answers as Patroni's REST API does (routes, status codes,
 * content types and the `/cluster` document of Patroni 3.0 `utils.cluster_as_json`, and the
 * later 3.x/4.x shape with `scope` and `streaming` replicas). The same calls against a real
 * Patroni cluster belong to the HA integration test.
 */
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PatroniApiError, leaderOf, parseClusterResponse, patroniCluster, patroniLeader, pickMembersLeader, rejoinProblem, switchover, waitRejoined } from '../../../runners/drivers/postgres/topology.js';
import { freePort } from '../../../runners/system.js';

/**
 * Recorded from a real Patroni 3.0.2 (Debian bookworm, PostgreSQL 15) two-node cluster on
 * 127.0.0.1, `GET /cluster` right after start: members sorted by name, no `scope`, replicas
 * `running`. The same run answered a switchover with 200 `Successfully switched over to
 * "node2"` after 2.1 s, a second one from the old leader with 412 `leader name does not
 * match`, and showed node1 back as `replica`, `running`, lag 0 on timeline 2 after 4 s.
 */
const PATRONI_3_0 = {
  members: [
    { name: 'node1', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:26325/patroni', host: '127.0.0.1', port: 29768, timeline: 1 },
    { name: 'node2', role: 'replica', state: 'running', api_url: 'http://127.0.0.1:25385/patroni', host: '127.0.0.1', port: 23862, timeline: 1, lag: 0 },
  ],
};

/** The later shape (3.0.3+ `streaming`, 4.x `scope`, `receive_lag`/`replay_lag`, tags, a scheduled switchover). */
const PATRONI_4 = {
  members: [
    { name: 'pg-a', role: 'replica', state: 'streaming', api_url: 'http://10.0.0.1:8008/patroni', host: '10.0.0.1', port: 5432, timeline: 7, tags: { clonefrom: true }, receive_lag: 0, replay_lag: 0, lag: 0, lsn: '0/5000060' },
    { name: 'pg-b', role: 'leader', state: 'running', api_url: 'http://10.0.0.2:8008/patroni', host: '10.0.0.2', port: 5432, timeline: 7, tags: { clonefrom: true } },
    { name: 'pg-c', role: 'sync_standby', state: 'streaming', api_url: 'http://10.0.0.3:8008/patroni', host: '10.0.0.3', port: 5432, timeline: 7, lag: 'unknown' },
  ],
  scope: 'orders',
  scheduled_switchover: { at: '2026-12-01T10:00:00+00:00', from: 'pg-b', to: 'pg-a' },
};

interface FakeMember { name: string; role: string; state: string; host: string; port: number; timeline: number; lag?: number | string }

/** A REST API that keeps a small cluster state and changes it as Patroni would on a switchover. */
class FakePatroni {
  members: FakeMember[] = [
    { name: 'node1', role: 'leader', state: 'running', host: '127.0.0.1', port: 5432, timeline: 1 },
    { name: 'node2', role: 'replica', state: 'streaming', host: '127.0.0.1', port: 5433, timeline: 1, lag: 0 },
  ];
  requests: { method: string; url: string; body: string; authorization?: string }[] = [];
  requireAuth: string | undefined;
  /** Poll answers to give the old leader after a switchover, one per GET /cluster. */
  rejoinSteps: Partial<FakeMember>[] = [];
  switchoverDelayMs = 200;
  server: http.Server;
  sockets = new Set<net.Socket>();
  url = '';

  constructor(private readonly hang = false) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, status: number, body: string, type = 'text/html'): void {
    res.writeHead(status, { 'Content-Type': type });
    res.end(body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    this.requests.push({ method: req.method!, url: req.url!, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (this.hang) return; // holds the request open, as a frozen node would
    if (req.method === 'GET' && req.url === '/cluster') {
      const step = this.rejoinSteps.shift();
      if (step) Object.assign(this.members.find((m) => m.role !== 'leader')!, step);
      const members = [...this.members].sort((a, b) => a.name.localeCompare(b.name)).map((m) => ({ ...m, api_url: `${this.url}/patroni` }));
      return this.send(res, 200, JSON.stringify({ members }), 'application/json');
    }
    if (req.method === 'POST' && req.url === '/switchover') {
      if (this.requireAuth && req.headers.authorization !== this.requireAuth) {
        res.setHeader('WWW-Authenticate', 'Basic realm="Patroni"');
        return this.send(res, 401, 'no auth header received');
      }
      const request = JSON.parse(body || '{}') as { leader?: string; candidate?: string; scheduled_at?: string };
      const leader = this.members.find((m) => m.role === 'leader')!;
      if (!request.leader) return this.send(res, 400, 'Switchover could be performed only from a specific leader');
      if (request.scheduled_at) return this.send(res, 202, 'Switchover scheduled');
      if (request.leader !== leader.name) return this.send(res, 412, 'leader name does not match');
      const candidate = request.candidate ? this.members.find((m) => m.name === request.candidate) : this.members.find((m) => m.role !== 'leader');
      if (!candidate) return this.send(res, 412, 'candidate does not exists');
      await new Promise((r) => setTimeout(r, this.switchoverDelayMs));
      Object.assign(candidate, { role: 'leader', state: 'running', timeline: leader.timeline + 1, lag: undefined });
      Object.assign(leader, { role: 'replica', state: 'stopped', lag: 'unknown' });
      return this.send(res, 200, `Successfully switched over to "${candidate.name}"`);
    }
    this.send(res, 404, 'not found');
  }
}

const started: FakePatroni[] = [];
async function fake(hang = false): Promise<FakePatroni> {
  const f = await new FakePatroni(hang).start();
  started.push(f);
  return f;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()));
});

describe('reading /cluster', () => {
  it('parses the Patroni 3.0 and 4.x documents and finds the leader', () => {
    const v3 = parseClusterResponse(PATRONI_3_0);
    expect(v3.members[1]).toEqual({ name: 'node2', role: 'replica', state: 'running', apiUrl: 'http://127.0.0.1:25385/patroni', host: '127.0.0.1', port: 23862, timeline: 1, lag: 0 });
    expect(leaderOf(v3)).toEqual({ name: 'node1', host: '127.0.0.1', port: 29768, timeline: 1 });
    const v4 = parseClusterResponse(PATRONI_4);
    expect(v4.scope).toBe('orders');
    expect(v4.members.map((m) => m.lag)).toEqual([0, undefined, 'unknown']);
    expect(leaderOf(v4)).toEqual({ name: 'pg-b', host: '10.0.0.2', port: 5432, timeline: 7 });
  });

  it('refuses a cluster with no leader, two leaders, or a leader that is not running', () => {
    const replicaOnly = { members: [PATRONI_3_0.members[1]] };
    expect(() => leaderOf(parseClusterResponse(replicaOnly))).toThrow('the cluster has no leader right now (members: node2 replica running)');
    const twoLeaders = { members: [PATRONI_3_0.members[0], { ...PATRONI_3_0.members[1], role: 'leader' }] };
    expect(() => leaderOf(parseClusterResponse(twoLeaders))).toThrow('2 leaders: node1, node2');
    const starting = { members: [{ ...PATRONI_3_0.members[0], state: 'starting' }] };
    expect(() => leaderOf(parseClusterResponse(starting))).toThrow('the leader node1 is not running (state starting)');
    expect(() => parseClusterResponse({ members: [{ role: 'leader' }] }, 'http://x')).toThrow(/http:\/\/x answered \/cluster with an unexpected document: members\.0\.name/);
  });

  it('asks the APIs in order and takes the first that answers', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const hung = await fake(true);
    const live = await fake();
    const leader = await patroniLeader([closed, hung.url, live.url], { timeoutMs: 400 });
    expect(leader).toEqual({ name: 'node1', host: '127.0.0.1', port: 5432, timeline: 1, answeredBy: live.url });
    expect(hung.requests.map((r) => r.url)).toEqual(['/cluster']);
  });

  it('names every API and why when none answers', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const hung = await fake(true);
    const error = await patroniCluster([closed, hung.url], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PatroniApiError);
    expect((error as Error).message).toMatch(new RegExp(`no Patroni REST API answered: ${closed}: ECONNREFUSED.*; ${hung.url}: no answer within 300 ms`));
  });
});

describe('switchover', () => {
  it('posts leader and candidate, waits for Patroni, and names the new leader', async () => {
    const api = await fake();
    const t = performance.now();
    const result = await switchover([api.url], { leader: 'node1', candidate: 'node2' }, { timeoutMs: 5_000 });
    expect(performance.now() - t).toBeGreaterThanOrEqual(190); // blocks until Patroni saw the new leader
    expect(result).toEqual({ status: 200, message: 'Successfully switched over to "node2"', newLeader: 'node2', answeredBy: api.url });
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ leader: 'node1', candidate: 'node2' });
    expect(await patroniLeader([api.url], { timeoutMs: 1_000 })).toMatchObject({ name: 'node2', timeline: 2 });
  });

  it('reports 412, 401 and 202 as Patroni means them', async () => {
    const api = await fake();
    const wrongLeader = await switchover([api.url], { leader: 'node2' }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(wrongLeader).toMatchObject({ status: 412, message: `${api.url}: the switchover is not possible now: leader name does not match` });
    api.requireAuth = `Basic ${Buffer.from('patroni:s3cret').toString('base64')}`;
    const noAuth = await switchover([api.url], { leader: 'node1' }, { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(noAuth).toMatchObject({ status: 401 });
    expect((noAuth as Error).message).toContain('restapi.authentication');
    const scheduled = await switchover([api.url], { leader: 'node1', scheduledAt: '2030-01-01T00:00:00+00:00' }, { timeoutMs: 2_000, auth: { username: 'patroni', password: 's3cret' } });
    expect(scheduled).toMatchObject({ status: 202, message: 'Switchover scheduled' });
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ leader: 'node1', scheduled_at: '2030-01-01T00:00:00+00:00' });
  });

  it('never re-sends a switchover that timed out (it may still happen)', async () => {
    const hung = await fake(true);
    const other = await fake();
    const error = await switchover([hung.url, other.url], { leader: 'node1' }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('may still happen');
    expect(other.requests).toEqual([]);
  });
});

describe('waiting for the old leader to re-join', () => {
  it('waits through stopped, unknown lag and another timeline until it streams on the leader timeline', async () => {
    const api = await fake();
    await switchover([api.url], { leader: 'node1' }, { timeoutMs: 5_000 });
    api.rejoinSteps = [{ state: 'stopped' }, { state: 'starting' }, { state: 'running', lag: 'unknown' }, { state: 'running', lag: 1024, timeline: 1 }, { state: 'streaming', lag: 0, timeline: 2 }];
    const result = await waitRejoined([api.url], 'node1', 5_000, { timeoutMs: 1_000, pollMs: 20 });
    expect(result.member).toMatchObject({ name: 'node1', role: 'replica', state: 'streaming', timeline: 2, lag: 0 });
    expect(result.leader.name).toBe('node2');
    // One poll per step: it returned at the first answer that showed it streaming on timeline 2.
    expect(api.requests.filter((r) => r.url === '/cluster').length).toBe(5);
  });

  it('gives up at the deadline with what it saw last', async () => {
    const api = await fake();
    await switchover([api.url], { leader: 'node1' }, { timeoutMs: 5_000 });
    const t = performance.now();
    const error = await waitRejoined([api.url], 'node1', 300, { timeoutMs: 1_000, pollMs: 50 }).catch((e: unknown) => e);
    expect(performance.now() - t).toBeLessThan(1_000);
    expect((error as Error).message).toBe('node1 did not re-join as a replica within 300 ms: node1 is stopped');
  });

  it('tells each way of not being rejoined apart', () => {
    const cluster = parseClusterResponse(PATRONI_4);
    expect(rejoinProblem(cluster, 'pg-a')).toBeUndefined();
    expect(rejoinProblem(cluster, 'pg-c')).toBe("pg-c's replication position is unknown");
    expect(rejoinProblem(cluster, 'pg-b')).toBe('pg-b is leader, not a replica');
    expect(rejoinProblem(cluster, 'pg-z')).toBe('pg-z is not a member of the cluster');
  });
});

describe('members: the leader is the one not in recovery', () => {
  const member = (port: number, inRecovery: boolean, systemIdentifier = '7000') => ({ host: 'db', port, inRecovery, timeline: 4, systemIdentifier });
  it('picks it, and refuses none, two, or members of different clusters', () => {
    expect(pickMembersLeader([member(1, true), member(2, false)])).toEqual({ name: 'db:2', host: 'db', port: 2, timeline: 4 });
    expect(() => pickMembersLeader([member(1, true)])).toThrow('no member is out of recovery');
    expect(() => pickMembersLeader([member(1, false), member(2, false)])).toThrow('more than one primary');
    expect(() => pickMembersLeader([member(1, true, '1'), member(2, false, '2')])).toThrow('different clusters');
  });
});
