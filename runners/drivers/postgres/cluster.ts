/**
 * A PostgreSQL target that names a cluster whose leader moves (SPEC v1.1): `target.cluster`
 * (Patroni REST API or plain members) plus `target.endpoint`, what clients use. This is the
 * driver's view of it at run time:
 * - before T0, the endpoint is preflighted host by host (a host that does not resolve or
 *   answer is a refusal, exit 2, never a broken drill) and the leader is found;
 * - a local process fault gets the leader's processes only after checking they belong to the
 *   server behind the endpoint (identity.ts `checkProcessesBelong`), else it is refused;
 * - the leader is watched while the drill runs, so every change is in the evidence, and read
 *   again after recovery (`topology.before` / `topology.after`);
 * - the optional re-join check: the old leader back as a replica within a deadline.
 */
import os from 'node:os';
import path from 'node:path';
import type { CheckResult, TopologyMember, TopologyRecord } from '../../../reports/run-record.js';
import { parseDuration } from '../../../scenarios/duration.js';
import type { PgClusterMember, PostgresTarget } from '../../../scenarios/schema.js';
import type { RunContext } from '../../context.js';
import { RefusedBeforeT0 } from '../../refusal.js';
import { resolveSecret } from '../../secrets.js';
import type { ConnectionSettings } from '../../sql/connection.js';
import { type ParsedEndpoint, EndpointConnectError, connectEndpoint, describeProblem, formatHost, formatHosts, parseEndpoint, preflightEndpoint } from './endpoint.js';
import { type ServerIdentity, checkProcessesBelong, readPostmasterPid, serverIdentity } from './identity.js';
import { serverProcesses } from './server.js';
import { processAlive } from '../../system.js';
import { type LeaderInfo, type PatroniOptions, membersLeader, patroniCluster, patroniLeader, switchover, waitRejoined } from './topology.js';

/** The leader a fault acts on, as found and checked just before T0. */
export interface ResolvedLeader extends LeaderInfo {
  /** Its data directory when known (a member's `dataDir`, or SHOW data_directory on the leader). */
  dataDir: string | null;
  /** The leader runs on this host (its address is one of ours). */
  local: boolean;
}

/** What a local process fault gets: the checked leader and its postmaster's processes. */
export interface LeaderProcesses {
  leader: ResolvedLeader;
  pids: number[];
  facts: string[];
}

const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', '127.0.0.1', '::1', '[::1]']);

function isLocalHost(host: string): boolean {
  if (LOCAL_NAMES.has(host) || host.startsWith('127.') || host === os.hostname()) return true;
  for (const addresses of Object.values(os.networkInterfaces())) for (const a of addresses ?? []) if (a.address === host) return true;
  return false;
}

/** A postmaster checked against the endpoint before T0: what a later re-check compares. */
export interface CheckedPostmaster {
  dataDir: string;
  pid: number;
  startedAt: number;
}

/** The checked postmaster still runs from its data directory (same pid, same start); its pid, or a refusal. */
export function stillSamePostmaster(type: string, checked: CheckedPostmaster): number {
  const now = readPostmasterPid(checked.dataDir);
  if (!now || now.pid !== checked.pid || now.startedAt !== checked.startedAt || !processAlive(checked.pid))
    throw new RefusedBeforeT0(`${type}: the postmaster checked before T0 (pid ${checked.pid} from ${checked.dataDir}) is no longer the one running there${now ? ` (now pid ${now.pid})` : ''}: the server restarted or moved; nothing was disrupted`);
  return checked.pid;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class ClusterTarget {
  readonly endpoint: ParsedEndpoint;
  readonly source: 'patroni' | 'members';
  private readonly password: string | undefined;
  private readonly patroni: PatroniOptions | undefined;
  private readonly apis: string[];
  private readonly members: Extract<PgClusterMember, object>[];
  private readonly connectTimeoutMs: number;
  private before: TopologyMember | null = null;
  private after: TopologyMember | null = null;
  private readonly changes: TopologyRecord['leaderChanges'] = [];
  private watched: string | null | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private watchBusy = false;
  private checkedLeader: { leader: ResolvedLeader; postmaster: CheckedPostmaster } | undefined;

  constructor(
    target: PostgresTarget,
    baseDir: string,
    private readonly ctx: RunContext,
  ) {
    const endpoint = target.endpoint!;
    this.endpoint = parseEndpoint(endpoint);
    this.password = resolveSecret(endpoint.password, baseDir);
    ctx.addSecret(this.password);
    this.connectTimeoutMs = this.endpoint.connectTimeoutMs ?? Math.max(parseDuration(ctx.loaded.scenario.spec.probes.timeout) ?? 2_000, 1_000);
    const cluster = target.cluster;
    this.source = cluster?.patroni ? 'patroni' : 'members';
    this.apis = cluster?.patroni?.api ?? [];
    if (cluster?.patroni) {
      const apiPassword = resolveSecret(cluster.patroni.password, baseDir);
      ctx.addSecret(apiPassword);
      this.patroni = {
        timeoutMs: parseDuration(cluster.patroni.timeout) ?? 5_000,
        ...(cluster.patroni.username ? { auth: { username: cluster.patroni.username, password: apiPassword ?? '' } } : {}),
      };
    }
    this.members = (cluster?.members ?? []).map((m) => (typeof m === 'string' ? parseMember(m) : m));
  }

  /** Whether `target.cluster` is set (an endpoint alone has no leader to find). */
  get hasCluster(): boolean {
    return this.apis.length > 0 || this.members.length > 0;
  }

  /** How the evidence names the endpoint (never a password). */
  label(): string {
    const attrs = this.endpoint.targetSessionAttrs === 'any' ? '' : ` (target_session_attrs=${this.endpoint.targetSessionAttrs})`;
    return `${this.endpoint.user}@${formatHosts(this.endpoint.hosts)}/${this.endpoint.database}${attrs}`;
  }

  /** Settings for one host of the endpoint (or a member), with the endpoint's login. */
  settingsFor(host: { host: string; port: number }): ConnectionSettings {
    return { host: host.host, port: host.port, database: this.endpoint.database, user: this.endpoint.user, ...(this.password === undefined ? {} : { password: this.password }) };
  }

  /**
   * Before T0: every host of the endpoint resolves and answers, one fits targetSessionAttrs,
   * and (for a cluster) a leader is found. Anything else refuses the drill (exit 2).
   * Returns the settings of the host a client would get now.
   */
  async preflight(): Promise<ConnectionSettings> {
    const report = await preflightEndpoint(this.endpoint, { ...(this.password === undefined ? {} : { password: this.password }), connectTimeoutMs: this.connectTimeoutMs, signal: this.ctx.signal });
    for (const host of report.hosts) {
      this.ctx.record(`endpoint host ${formatHost(host)}: ${host.problem ? describeProblem(host.problem) : `answered (${host.inRecovery ? 'in recovery' : 'primary'}${host.readOnly ? ', read-only' : ''})`}`);
    }
    const unusable = report.hosts.filter((h) => h.problem && h.problem.kind !== 'not-writable' && h.problem.kind !== 'not-primary');
    if (!report.ok || unusable.length > 0) throw new RefusedBeforeT0(`the endpoint cannot be used before T0: ${report.problems.join('; ')}`);
    if (this.hasCluster) {
      this.before = await this.snapshot().catch((error: unknown) => {
        throw new RefusedBeforeT0(`the cluster's leader cannot be found before T0: ${message(error)}`);
      });
      this.watched = this.before.name;
      this.ctx.record(`topology before: leader ${this.before.name} (${this.before.host}:${this.before.port}, timeline ${this.before.timeline ?? 'unknown'})`);
    }
    return this.settingsFor(report.chosen!);
  }

  /** The leader now, by the configured source. */
  async leaderNow(): Promise<LeaderInfo> {
    if (this.source === 'patroni') return patroniLeader(this.apis, { ...this.patroni!, signal: this.ctx.signal });
    const found = await membersLeader(
      this.members.map((m) => formatHost(m)),
      { database: this.endpoint.database, user: this.endpoint.user },
      { ...(this.password === undefined ? {} : { password: this.password }), connectTimeoutMs: this.connectTimeoutMs, signal: this.ctx.signal },
    );
    const named = this.members.find((m) => m.host === found.host && m.port === found.port)?.name;
    return { name: named ?? found.name, host: found.host, port: found.port, timeline: found.timeline };
  }

  /** The leader with its timeline read from the server itself (Patroni's lags a promotion by a loop). */
  private async snapshot(): Promise<TopologyMember> {
    const leader = await this.leaderNow();
    const identity = await this.identityOf(leader).catch(() => undefined);
    return { name: leader.name, host: leader.host, port: leader.port, timeline: identity?.timeline ?? leader.timeline };
  }

  private async identityOf(host: { host: string; port: number }): Promise<ServerIdentity> {
    const connected = await connectEndpoint({ ...this.endpoint, hosts: [{ host: host.host, port: host.port }], targetSessionAttrs: 'any' }, this.connectOptions());
    try {
      return await serverIdentity(connected.client);
    } finally {
      await connected.client.end().catch(() => undefined);
    }
  }

  /** The host of a multi-host endpoint a client would get now (libpq order, target_session_attrs); throws when none fits. */
  async currentHost(signal: AbortSignal): Promise<ConnectionSettings> {
    const connected = await connectEndpoint(this.endpoint, { ...this.connectOptions(), signal: AbortSignal.any([signal, this.ctx.signal]) });
    await connected.client.end().catch(() => undefined);
    return this.settingsFor(connected.answered);
  }

  /** The identity of the server behind the endpoint (what clients reach now). */
  async endpointIdentity(): Promise<ServerIdentity> {
    const connected = await connectEndpoint(this.endpoint, this.connectOptions());
    try {
      return await serverIdentity(connected.client);
    } finally {
      await connected.client.end().catch(() => undefined);
    }
  }

  private connectOptions() {
    return { ...(this.password === undefined ? {} : { password: this.password }), connectTimeoutMs: this.connectTimeoutMs, signal: this.ctx.signal, clock: this.ctx.clock };
  }

  /** The leader as a fault needs it, just before T0: name, address, data directory, local or not. */
  async resolveLeader(): Promise<ResolvedLeader> {
    let leader: LeaderInfo;
    try {
      leader = await this.leaderNow();
    } catch (error) {
      throw new RefusedBeforeT0(`no leader to fault before T0: ${message(error)}`);
    }
    const member = this.members.find((m) => (m.host === leader.host && m.port === leader.port) || m.name === leader.name);
    let dataDir = member?.dataDir ?? null;
    const local = isLocalHost(leader.host);
    if (!dataDir && local) dataDir = (await this.identityOf(leader).catch(() => undefined))?.dataDirectory ?? null;
    return { ...leader, dataDir, local };
  }

  /**
   * A local process fault's processes: the leader's postmaster and backends, after checking
   * (pg_control, postmaster.pid, role, instance) that they are the server behind the
   * endpoint. Refuses (exit 2) a leader that is not here, a data directory that is unknown,
   * or processes of another server — a replica's, the failover leftover of finding 1.
   */
  async leaderProcesses(type: string): Promise<LeaderProcesses> {
    // Checked at steady state (prepare): re-check only what may have changed since — the
    // leader (the watcher polls it) and its postmaster (pid and start time).
    if (this.checkedLeader) {
      const { leader, postmaster } = this.checkedLeader;
      if (this.watched !== undefined && this.watched !== leader.name) throw new RefusedBeforeT0(`${type}: the leader changed from ${leader.name} to ${this.watched ?? 'none'} after it was checked; nothing was disrupted`);
      return { leader, pids: serverProcesses(stillSamePostmaster(type, postmaster)), facts: [] };
    }
    const leader = await this.resolveLeader();
    if (!leader.local) throw new RefusedBeforeT0(`${type}: the leader ${leader.name} runs on ${leader.host}, not on this host: give the fault a command (e.g. ssh {host} …) to reach it`);
    if (!leader.dataDir)
      throw new RefusedBeforeT0(
        `${type}: the data directory of the leader ${leader.name} is unknown (SHOW data_directory needs a superuser or pg_read_all_settings): name it under target.cluster.members[].dataDir, or give the fault a command`,
      );
    let identity: ServerIdentity;
    try {
      identity = await this.endpointIdentity();
    } catch (error) {
      throw new RefusedBeforeT0(`${type}: the endpoint does not answer before T0, so nothing can be checked: ${error instanceof EndpointConnectError ? error.message : message(error)}`);
    }
    const belongs = checkProcessesBelong(identity, path.resolve(leader.dataDir));
    if (!belongs.belongs) throw new RefusedBeforeT0(`${type}: refused, the processes are not the server behind the endpoint: ${belongs.reason}`);
    const dataDir = path.resolve(leader.dataDir);
    this.checkedLeader = { leader, postmaster: { dataDir, pid: belongs.pid, startedAt: readPostmasterPid(dataDir)?.startedAt ?? 0 } };
    return { leader, pids: serverProcesses(belongs.pid), facts: belongs.facts };
  }

  /** Patroni switchover (POST /switchover): blocks until Patroni answers. */
  async switchover(to: string | undefined, timeoutMs: number, beforeRequest: (leader: string) => void): Promise<{ from: string; message: string; newLeader?: string }> {
    if (this.source !== 'patroni') throw new RefusedBeforeT0('switchover needs target.cluster.patroni (the Patroni REST API)');
    const leader = await this.leaderNow().catch((error: unknown) => {
      throw new RefusedBeforeT0(`switchover: no leader before T0: ${message(error)}`);
    });
    if (to !== undefined) {
      const cluster = await patroniCluster(this.apis, { ...this.patroni!, signal: this.ctx.signal });
      if (!cluster.members.some((m) => m.name === to)) throw new RefusedBeforeT0(`switchover: no member ${to} in the cluster (members: ${cluster.members.map((m) => m.name).join(', ')})`);
      if (to === leader.name) throw new RefusedBeforeT0(`switchover: ${to} already leads`);
    }
    beforeRequest(leader.name);
    const answer = await switchover(this.apis, { leader: leader.name, ...(to ? { candidate: to } : {}) }, { ...this.patroni!, timeoutMs, signal: this.ctx.signal });
    return { from: leader.name, message: answer.message, ...(answer.newLeader ? { newLeader: answer.newLeader } : {}) };
  }

  /** Polls the leader every `intervalMs` and records each change (name or timeline) in the timeline. */
  startWatch(intervalMs: number): void {
    if (!this.hasCluster || this.watchTimer) return;
    this.watchTimer = setInterval(() => void this.poll(), intervalMs);
    this.watchTimer.unref();
  }

  private async poll(): Promise<void> {
    if (this.watchBusy || this.ctx.signal.aborted) return;
    this.watchBusy = true;
    try {
      const leader = await this.leaderNow().catch(() => null);
      const name = leader?.name ?? null;
      if (name !== this.watched) {
        const event = this.ctx.record(name ? `leader changed: ${this.watched ?? 'none'} → ${name}` : `no leader (was ${this.watched ?? 'none'})`, { from: this.watched ?? null, to: name });
        this.changes.push({ at: event.at, from: this.watched ?? null, to: name, timeline: leader?.timeline ?? null });
        this.watched = name;
      }
    } finally {
      this.watchBusy = false;
    }
  }

  stopWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }

  /** After recovery: the leader now, waiting up to `deadlineMs` for one to be there. */
  async settle(deadlineMs = 30_000): Promise<TopologyMember | null> {
    // No leader before T0 (the preflight refused the drill): there is no "after" to tell.
    if (!this.hasCluster || !this.before) return null;
    if (this.after) return this.after;
    const started = this.ctx.clock.elapsed();
    let last = '';
    while (this.ctx.clock.elapsed() - started < deadlineMs && !this.ctx.signal.aborted) {
      try {
        this.after = await this.snapshot();
        await this.poll();
        this.ctx.record(`topology after: leader ${this.after.name} (${this.after.host}:${this.after.port}, timeline ${this.after.timeline ?? 'unknown'})`);
        return this.after;
      } catch (error) {
        last = message(error);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.ctx.record(`topology after: no leader found within ${deadlineMs} ms (${last})`);
    return null;
  }

  /** The optional re-join check: the leader before T0 is a replica again within `deadlineMs`. */
  async rejoinCheck(deadlineMs: number): Promise<CheckResult> {
    const old = this.before?.name ?? 'the old leader';
    const name = `old leader ${old} re-joined as a replica within ${Math.round(deadlineMs / 1000)} s`;
    const started = this.ctx.clock.elapsed();
    try {
      if (!this.before) throw new Error('no leader was recorded before T0');
      if (this.source === 'patroni') {
        const result = await waitRejoined(this.apis, this.before.name, deadlineMs, { ...this.patroni!, signal: this.ctx.signal, pollMs: 500, clock: this.ctx.clock });
        return { name, type: 'rejoin', passed: true, expected: `replica of ${result.leader.name} within ${deadlineMs / 1000} s`, actual: `${result.member.role} ${result.member.state} on timeline ${result.member.timeline ?? '?'} after ${(result.elapsedMs / 1000).toFixed(1)} s` };
      }
      for (;;) {
        this.ctx.signal.throwIfAborted();
        const identity = await this.identityOf(this.before).catch(() => undefined);
        if (identity?.inRecovery) return { name, type: 'rejoin', passed: true, expected: 'in recovery (a replica)', actual: `in recovery on timeline ${identity.timeline} after ${((this.ctx.clock.elapsed() - started) / 1000).toFixed(1)} s` };
        if (this.ctx.clock.elapsed() - started > deadlineMs) throw new Error(`${old} is ${identity ? 'not in recovery' : 'not answering'}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (error) {
      return { name, type: 'rejoin', passed: false, expected: `a replica within ${deadlineMs / 1000} s`, actual: message(error) };
    }
  }

  record(): TopologyRecord | null {
    if (!this.hasCluster) return null;
    return { source: this.source, before: this.before, after: this.after, leaderChanges: [...this.changes] };
  }
}

function parseMember(text: string): { host: string; port: number } {
  const [host] = parseEndpoint({ host: text }).hosts;
  return host!;
}
