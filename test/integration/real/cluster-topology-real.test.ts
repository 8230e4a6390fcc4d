/**
 * The cluster building blocks (topology.ts, endpoint.ts, identity.ts) against a real Patroni 3
 * + etcd + HAProxy cluster from Debian's packages, built by the real-component harness
 * (test/helpers/real, the real-harness branch). The harness's own view of the cluster
 * (its member list, data directories, leader) is the ground truth.
 *
 * The harness is imported by path at run time so this file compiles before that branch is
 * merged; until then (or without root and the packages) it skips loudly, and under
 * DRILLBOOK_REQUIRE_REAL=1 a skip is a failure. DRILLBOOK_REAL_HARNESS points at another
 * copy of test/helpers/real.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEndpoint, parseEndpoint, preflightEndpoint } from '../../../runners/drivers/postgres/endpoint.js';
import { checkProcessesBelong, serverIdentity } from '../../../runners/drivers/postgres/identity.js';
import { patroniLeader, switchover, waitRejoined } from '../../../runners/drivers/postgres/topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const harnessDir = process.env.DRILLBOOK_REAL_HARNESS ?? path.resolve(here, '../../helpers/real');
const requireReal = process.env.DRILLBOOK_REQUIRE_REAL === '1';

interface HarnessMember { name: string; host: string; port: number; apiUrl: string; dataDir: string }
interface HarnessInfo { patroniApis: string[]; members: HarnessMember[]; superuser: { user: string; password: string }; haproxy: { host: string; port: number } }
interface Harness { start(): Promise<HarnessInfo>; stop(): Promise<unknown[]>; leader(): Promise<{ name: string; timeline?: number } | undefined> }

async function loadHarness(): Promise<{ cluster?: Harness; reason?: string }> {
  const file = (name: string) => [`${name}.ts`, `${name}.js`].map((f) => path.join(harnessDir, f)).find((f) => fs.existsSync(f));
  const clusterFile = file('patroni-cluster');
  const requireFile = file('require-real');
  if (!clusterFile || !requireFile) return { reason: `the real-component harness is not in this tree (${harnessDir}/patroni-cluster.ts)` };
  const { checkReal } = (await import(requireFile)) as { checkReal: (c: string[]) => { available: boolean; reasons: string[] } };
  const availability = checkReal(['postgres', 'patroni', 'etcd', 'haproxy']);
  if (!availability.available) return { reason: availability.reasons.join('; ') };
  const module = (await import(clusterFile)) as { PatroniCluster: new () => Harness };
  return { cluster: new module.PatroniCluster() };
}

const loaded = await loadHarness().catch((error: unknown) => ({ reason: `the harness did not load: ${String(error)}` }) as { cluster?: Harness; reason?: string });
if (!loaded.cluster) {
  if (requireReal) throw new Error(`DRILLBOOK_REQUIRE_REAL=1 but the real cluster tests cannot run: ${loaded.reason}`);
  console.warn(`SKIPPED real cluster topology tests: ${loaded.reason}`);
}

describe.skipIf(!loaded.cluster)('cluster building blocks on a real Patroni cluster', () => {
  const cluster = loaded.cluster!;
  let info: HarnessInfo;

  beforeAll(async () => {
    info = await cluster.start();
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('finds the leader, connects as libpq does, and refuses the replica directory; after a switchover the old leader re-joins and its directory is refused', async () => {
    const truth = (await cluster.leader())!;
    const leader = await patroniLeader(info.patroniApis, { timeoutMs: 3_000 });
    const leaderMember = info.members.find((m) => m.name === truth.name)!;
    const replicaMember = info.members.find((m) => m.name !== truth.name)!;
    expect(leader).toMatchObject({ name: truth.name, host: leaderMember.host, port: leaderMember.port });

    const su = info.superuser;
    const multi = parseEndpoint({ host: `${replicaMember.host}:${replicaMember.port},${leaderMember.host}:${leaderMember.port}`, targetSessionAttrs: 'read-write', user: su.user });
    const direct = await connectEndpoint(multi, { password: su.password, connectTimeoutMs: 2_000 });
    expect(direct.answered.port).toBe(leaderMember.port);
    await direct.client.end();

    const viaProxy = parseEndpoint({ host: info.haproxy.host, port: info.haproxy.port, user: su.user, targetSessionAttrs: 'read-write' });
    expect((await preflightEndpoint(viaProxy, { password: su.password, connectTimeoutMs: 2_000 })).ok).toBe(true);
    const proxied = await connectEndpoint(viaProxy, { password: su.password, connectTimeoutMs: 2_000 });
    const before = await serverIdentity(proxied.client);
    await proxied.client.end();
    expect(before).toMatchObject({ inRecovery: false, serverPort: leaderMember.port });
    expect(checkProcessesBelong(before, leaderMember.dataDir).belongs).toBe(true);
    expect(checkProcessesBelong(before, replicaMember.dataDir)).toMatchObject({ belongs: false, kind: 'role' });

    const result = await switchover(info.patroniApis, { leader: truth.name }, { timeoutMs: 60_000 });
    expect(result).toMatchObject({ status: 200, newLeader: replicaMember.name });
    expect((await cluster.leader())!.name).toBe(replicaMember.name);
    const after = await patroniLeader(info.patroniApis, { timeoutMs: 3_000 });
    // /cluster names the new leader at once, but its `timeline` can lag a Patroni loop: the
    // server's own answer (below) is the one to record.
    expect(after).toMatchObject({ name: replicaMember.name, port: replicaMember.port });
    const rejoined = await waitRejoined(info.patroniApis, truth.name, 90_000, { timeoutMs: 3_000, pollMs: 500 });
    expect(rejoined.member).toMatchObject({ role: 'replica', timeline: before.timeline + 1 });
    expect(rejoined.leader).toMatchObject({ name: replicaMember.name, timeline: before.timeline + 1 });

    // Finding 1: the old leader's directory now holds a replica, and is refused.
    const again = await connectEndpoint(viaProxy, { password: su.password, connectTimeoutMs: 2_000 });
    const identityAfter = await serverIdentity(again.client);
    await again.client.end();
    expect(identityAfter).toMatchObject({ timeline: before.timeline + 1, timelineSource: 'wal-insert', serverPort: replicaMember.port, systemIdentifier: before.systemIdentifier });
    expect(checkProcessesBelong(identityAfter, leaderMember.dataDir)).toMatchObject({ belongs: false, kind: 'role' });
    const wrong = await switchover(info.patroniApis, { leader: truth.name }, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ status: 412 });
  }, 240_000);
});
