/**
 * One drill against a real Patroni cluster, graded by an independent writer that writes
 * through the same endpoint every 20 ms: the writer's outage around T0 (from T0 to its first
 * acknowledged write after the gap) and the writes it had acknowledged that the new leader
 * lacks. Shared by test/integration/real/patroni-drills.test.ts and `npm run bench`.
 */
import path from 'node:path';
import type { RunRecord } from '../../reports/run-record.js';
import { type RunResult, runDrill } from '../../runners/engine.js';
import { loadForRun, writeScenario } from './drill-files.js';
import { meetsTruth } from './truth.js';
import { IndependentWriter, type IndependentWriterOptions } from './real/independent-writer.js';
import type { PatroniCluster } from './real/patroni-cluster.js';

export const PATRONI_PASSWORD_ENV = 'DRILLBOOK_TEST_PATRONI_PASSWORD';
export const HEARTBEAT_MS = 100;
const WRITER_IN_FLIGHT = 60;
/** A fresh connection and one INSERT take ~10–40 ms here; one held past 500 ms was sent while the service was down. */
const WRITER_PROMPT_MS = 500;
export const PATRONI_PROBES = { interval: '250ms', timeout: '1s', stableFor: 2, maxWait: '90s', heartbeat: { interval: `${HEARTBEAT_MS}ms`, warmup: '1s' } };

export interface Graded {
  drill: string;
  /**
   * The truth is an interval, from the writer's own log: the service was back for every client
   * by `truthRtoMs` (the acknowledgement of the first write of the writer's stable run: every
   * write it sent in the next 2 s was acknowledged too), and not yet at `truthFromMs` (the send
   * of the last write before that run which failed). Through HAProxy, neither is before HAProxy
   * had stopped routing to the dead leader (its log). Both from T0.
   */
  truthRtoMs: number;
  truthFromMs: number;
  /** The writer's interval alone (before HAProxy's log is taken into account), from T0. */
  writerFromMs: number;
  writerToMs: number;
  measuredRtoMs: number;
  boundMs: number;
  /** The writer's longest pause between two sends in the truth window (its sampling resolution there). */
  writerResolutionMs: number;
  /** Through HAProxy, its own log: when it had marked the new leader UP and the old one DOWN (from T0). */
  haproxyRoutedMs?: number;
  /** Through HAProxy, its own log: when it first marked the new leader UP (from T0). */
  newLeaderUpMs?: number;
  /** Acknowledged writes of the writer missing on the new leader, and the window they span. */
  writerLost: number;
  writerWindowMs: number;
  drillLost: number;
  drillRpoMs: number;
  /** |measured − the writer's truth interval| ≤ bound (test/helpers/truth.ts). */
  withinBound: boolean;
  /** drillbook's RPO within one heartbeat interval (plus the writer's resolution) of the writer's lost window. */
  lostWindowAgrees: boolean;
}

/** A failover scenario against the cluster (recovery none: Patroni heals itself). */
export function patroniScenario(dir: string, name: string, spec: Record<string, unknown>): string {
  return writeScenario(dir, name, { type: 'failover', recovery: { action: 'none' }, probes: PATRONI_PROBES, ...spec });
}

/** The HAProxy read-write port as `target.endpoint`, its password named by PATRONI_PASSWORD_ENV. */
export function haproxyEndpoint(cluster: PatroniCluster) {
  return { host: cluster.details.haproxy.host, port: cluster.details.haproxy.port, password: { env: PATRONI_PASSWORD_ENV } };
}

/** Runs the drill while the writer writes; the writer runs from 20 acks before until 500 ms after. */
export async function drillWithWriter(
  file: string,
  connection: IndependentWriterOptions['connection'],
  options: { evidenceDir: string; scratchRoot: string },
): Promise<RunResult & { writer: IndependentWriter }> {
  // Like drillbook's probes, every write on a fresh connection (maxIdle 0): a writer that reuses
  // the first connection that reached the new leader is back while fresh clients are still
  // routed to the dead one. And enough in flight that it never stops sending while connections
  // hang (timeout / interval + 1), or its own stall would hide when the service came back.
  const writer = await IndependentWriter.create({ connection, maxInFlight: WRITER_IN_FLIGHT, maxIdle: 0 });
  writer.start();
  try {
    await writer.waitForAcks(20);
    const result = await runDrill(await loadForRun(file), options);
    await new Promise((r) => setTimeout(r, 500));
    return { ...result, writer };
  } finally {
    await writer.stop();
  }
}

/** Where HAProxy routed the read-write port, from its log: the moment after T0 it had the new leader UP and the old one DOWN. */
export interface HaproxyRouting {
  states: { at: number; server: string; state: 'UP' | 'DOWN' }[];
  oldLeader: string;
  newLeader: string;
}

/** The writer's truth around T0 against what the drill measured. Throws when the writer saw no outage, or no stable resumption, after T0. */
export async function gradeAgainstWriter(
  drill: string,
  record: RunRecord,
  writer: IndependentWriter,
  leaderConnection: Parameters<IndependentWriter['missingAcknowledged']>[0],
  haproxy?: HaproxyRouting,
): Promise<Graded> {
  if (!record.t0 || !record.measured.rto) throw new Error(`${drill}: no T0 or no measured RTO (${record.error ?? record.outcome})`);
  const t0Ms = Date.parse(record.t0.at);
  const outage = writer
    .outages({ minGapMs: 200 })
    .find((o) => o.resumedAt !== undefined && o.resumedAt > t0Ms && (o.lastAckBefore?.ackAt ?? 0) < t0Ms + 5_000);
  if (!outage) throw new Error(`${drill}: the writer saw no outage after T0`);
  const resumed = writer.resumption(t0Ms, { promptMs: WRITER_PROMPT_MS });
  if (!resumed) throw new Error(`${drill}: the writer's writes never became stable after T0`);
  const { missing } = await writer.missingAcknowledged(leaderConnection);
  // The writer's lost window: from the newest acknowledged write that survived, before the
  // first lost one, to the last lost one.
  const acked = writer.acknowledged().sort((a, b) => a.sentAt - b.sentAt);
  const missingSeqs = new Set(missing.map((m) => m.seq));
  const lost = [...missing].sort((a, b) => a.sentAt - b.sentAt);
  const survivedBefore = lost[0] ? acked.filter((a) => a.sentAt < lost[0]!.sentAt && !missingSeqs.has(a.seq)).at(-1) : undefined;
  const writerWindowMs = lost[0] && survivedBefore ? lost.at(-1)!.sentAt - survivedBefore.sentAt : 0;
  // Through HAProxy its own log bounds the truth too: until it had marked the dead leader DOWN
  // (and the new one UP) it could send a new client to the dead one, so every client was not
  // served before that. The writer samples every 20 ms and can be lucky for a few writes in that
  // window; HAProxy's moment keeps its interval from starting too early.
  const routedMs = haproxy ? haproxyRoutedAt(haproxy, t0Ms) - t0Ms : Number.NEGATIVE_INFINITY;
  const writerFromMs = (resumed.lastFailure?.sentAt ?? t0Ms) - t0Ms;
  const writerToMs = resumed.stable.ackAt! - t0Ms;
  const truthFromMs = Math.max(writerFromMs, routedMs);
  const truthRtoMs = Math.max(writerToMs, routedMs);
  const measuredRtoMs = record.measured.rto.seconds * 1000;
  const boundMs = record.measured.rto.errorSeconds * 1000;
  const sends = writer
    .records()
    .map((r) => r.sentAt)
    .filter((at) => at >= t0Ms && at <= resumed.stable.sentAt)
    .sort((a, b) => a - b);
  const writerResolutionMs = Math.max(writer.intervalMs, ...sends.slice(1).map((at, i) => at - sends[i]!));
  const drillRpoMs = (record.measured.rpo?.seconds ?? Number.NaN) * 1000;
  return {
    drill,
    truthRtoMs,
    truthFromMs,
    writerFromMs,
    writerToMs,
    measuredRtoMs,
    boundMs,
    writerResolutionMs,
    ...(haproxy ? { haproxyRoutedMs: routedMs, newLeaderUpMs: (haproxy.states.find((st) => st.at >= t0Ms && st.server === haproxy.newLeader && st.state === 'UP')?.at ?? t0Ms) - t0Ms } : {}),
    writerLost: missing.length,
    writerWindowMs,
    drillLost: record.measured.rpo?.lostWrites ?? -1,
    drillRpoMs,
    withinBound: meetsTruth(measuredRtoMs, boundMs, { fromMs: truthFromMs, toMs: truthRtoMs }),
    lostWindowAgrees: Math.abs(drillRpoMs - writerWindowMs) <= HEARTBEAT_MS + writerResolutionMs,
  };
}

function haproxyRoutedAt(routing: HaproxyRouting, t0Ms: number): number {
  const after = routing.states.filter((s) => s.at >= t0Ms);
  const up = after.find((s) => s.server === routing.newLeader && s.state === 'UP')?.at;
  const down = after.find((s) => s.server === routing.oldLeader && s.state === 'DOWN')?.at;
  // Already UP before T0 (a switchover target is a healthy replica only for /replica, so this is rare): T0.
  return Math.max(up ?? t0Ms, down ?? t0Ms);
}

/** One kill-leader drill through HAProxy, graded; waits for the cluster to be healthy again. */
export async function killLeaderTrial(cluster: PatroniCluster, work: string, n: number): Promise<Graded & { record: RunRecord; oldLeader: string; newLeader: string }> {
  const { leader: before } = await cluster.waitHealthy({ timeoutMs: 120_000 });
  const file = patroniScenario(path.join(work, `kill-${n}`), `patroni-kill-leader-${n}`, {
    target: { driver: 'postgres', endpoint: haproxyEndpoint(cluster), cluster: { patroni: { api: cluster.details.patroniApis } } },
    faults: [{ type: 'kill-leader' }],
  });
  const { record, writer } = await drillWithWriter(file, cluster.endpointConnection(), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
  const after = await cluster.waitLeader({ notName: before.name, timeoutMs: 60_000 });
  const graded = await gradeAgainstWriter(`kill-leader ${n}`, record, writer, cluster.connection(after), { states: cluster.haproxyLog().states, oldLeader: before.name, newLeader: after.name });
  await cluster.waitHealthy({ timeoutMs: 120_000 });
  return { ...graded, record, oldLeader: before.name, newLeader: after.name };
}
