/**
 * Who leads the cluster right now. A cluster whose leader moves is named by its Patroni REST
 * API (`target.cluster.patroni.api`: the leader comes from `GET /cluster`) or by its members
 * (`target.cluster.members`: the leader is the one member not in recovery). What is found
 * here is what the evidence records as `topology.before` / `topology.after` (SPEC v1.1).
 *
 * Patroni facts this relies on (Patroni 3.0 `patroni/api.py` and `utils.cluster_as_json`,
 * unchanged in shape through 4.x):
 * - `GET /cluster` on any member answers 200 with `{ members: [{ name, role, state, api_url,
 *   host, port, timeline, lag, tags }], scope?, pause?, scheduled_switchover? }`; `role` is
 *   `leader`, `standby_leader`, `sync_standby`, `quorum_standby` (4.x) or `replica`; replicas
 *   are `running` (3.0.2) or `streaming` (3.0.3+); the leader has no `lag`, a replica whose
 *   position is unknown has `lag: "unknown"`. A member's `timeline` is what it last wrote to
 *   the DCS: right after a switchover or failover the new leader can still show the old
 *   timeline for a Patroni loop (seen on 3.0.2), so record the timeline from the server
 *   itself (identity.ts `serverIdentity()`) when it matters.
 * - `POST /switchover` with `{ leader, candidate? , scheduled_at? }` is answered only once the
 *   switchover is over: 200 "Successfully switched over to …" (or "Switched over to X instead
 *   of Y") after Patroni saw the new leader (it polls up to max(10, loop_wait) · 2 seconds, so
 *   the call blocks for seconds); 202 when `scheduled_at` was given; 412 when not possible
 *   (leader name does not match, no good candidate); 400 for a bad request; 503 when it
 *   failed or its outcome is unknown ("status unknown": it may still happen); 401/403 when the
 *   REST API wants credentials or refuses the client.
 */
import { z } from 'zod';
import { type Elapsed, systemElapsed } from '../../clock.js';
import { type ConnectOptions, type HostPort, formatHost, connectEndpoint, parseHostList } from './endpoint.js';
import { serverIdentity } from './identity.js';

/** One leader as the evidence names it (`topology.before` / `topology.after`). */
export interface LeaderInfo {
  name: string;
  host: string;
  port: number;
  /** null when the source does not say (a Patroni member without `timeline`). */
  timeline: number | null;
}

const PatroniMemberSchema = z.looseObject({
  name: z.string().min(1),
  role: z.string(),
  state: z.string().default(''),
  api_url: z.string().optional(),
  host: z.string().optional(),
  port: z.number().int().optional(),
  timeline: z.number().int().optional(),
  lag: z.union([z.number(), z.string()]).optional(),
  tags: z.record(z.string(), z.unknown()).optional(),
});
const PatroniClusterSchema = z.looseObject({
  members: z.array(PatroniMemberSchema),
  scope: z.string().optional(),
  pause: z.boolean().optional(),
});

export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  apiUrl?: string;
  host?: string;
  port?: number;
  timeline?: number;
  /** Bytes behind the leader; `unknown` when Patroni does not know; undefined for the leader. */
  lag?: number | 'unknown';
}

export interface PatroniCluster {
  members: PatroniMember[];
  scope?: string;
  pause: boolean;
  /** The REST API that answered. */
  answeredBy: string;
}

/** Roles of a member that leads (a standby cluster's leader is `standby_leader`). */
export const LEADER_ROLES = ['leader', 'standby_leader', 'master', 'primary'] as const;
/** Roles of a member that follows. */
export const REPLICA_ROLES = ['replica', 'sync_standby', 'quorum_standby'] as const;

/** A Patroni REST API did not answer as expected; `status` when it answered at all. */
export class PatroniApiError extends Error {
  override name = 'PatroniApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The `/cluster` JSON as members; throws PatroniApiError naming what is wrong with it. */
export function parseClusterResponse(json: unknown, source = 'the Patroni API'): Omit<PatroniCluster, 'answeredBy'> {
  const parsed = PatroniClusterSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PatroniApiError(`${source} answered /cluster with an unexpected document: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return {
    members: parsed.data.members.map((m) => ({
      name: m.name,
      role: m.role,
      state: m.state,
      ...(m.api_url === undefined ? {} : { apiUrl: m.api_url }),
      ...(m.host === undefined ? {} : { host: m.host }),
      ...(m.port === undefined ? {} : { port: m.port }),
      ...(m.timeline === undefined ? {} : { timeline: m.timeline }),
      ...(m.lag === undefined ? {} : { lag: typeof m.lag === 'number' ? m.lag : 'unknown' }),
    })),
    ...(parsed.data.scope === undefined ? {} : { scope: parsed.data.scope }),
    pause: parsed.data.pause === true,
  };
}

/** The one running leader of a cluster; throws when there is none or more than one. */
export function leaderOf(cluster: Pick<PatroniCluster, 'members'>): LeaderInfo {
  const leaders = cluster.members.filter((m) => (LEADER_ROLES as readonly string[]).includes(m.role));
  if (leaders.length === 0) throw new PatroniApiError(`the cluster has no leader right now (members: ${describeMembers(cluster.members)})`);
  if (leaders.length > 1) throw new PatroniApiError(`the cluster reports ${leaders.length} leaders: ${leaders.map((l) => l.name).join(', ')}`);
  const leader = leaders[0]!;
  if (leader.state !== 'running') throw new PatroniApiError(`the leader ${leader.name} is not running (state ${leader.state || 'unknown'})`);
  if (!leader.host || !leader.port) throw new PatroniApiError(`the leader ${leader.name} has no host and port in /cluster (is its postgresql.connect_address set?)`);
  return { name: leader.name, host: leader.host, port: leader.port, timeline: leader.timeline ?? null };
}

function describeMembers(members: PatroniMember[]): string {
  return members.length === 0 ? 'none' : members.map((m) => `${m.name} ${m.role} ${m.state}`.trim()).join(', ');
}

export interface PatroniOptions {
  /** Bounds each request to one API. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Patroni `restapi.authentication` (basic auth), needed for POST unless the API is open. */
  auth?: { username: string; password: string };
  /** For callers with their own HTTP client; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Times deadlines; the run's clock in a drill. */
  clock?: Elapsed;
}

async function request(url: string, init: { method: 'GET' | 'POST'; body?: unknown; timeoutMs: number }, options: PatroniOptions): Promise<{ status: number; text: string }> {
  const signals = [AbortSignal.timeout(Math.max(1, Math.ceil(init.timeoutMs))), ...(options.signal ? [options.signal] : [])];
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (options.auth) headers.authorization = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
  const response = await (options.fetch ?? fetch)(url, {
    method: init.method,
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.any(signals),
    redirect: 'error',
  });
  return { status: response.status, text: await response.text() };
}

function apiPath(base: string, route: string): string {
  return `${base.replace(/\/+$/, '')}${route}`;
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (err?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (err?.cause?.code) return `${err.cause.code}${err.cause.message ? ` (${err.cause.message})` : ''}`;
  return err?.message ?? String(error);
}

/**
 * `GET /cluster` from the first API that answers (in the order given). Every API is
 * tried before giving up; the error names each one and why.
 */
export async function patroniCluster(apiUrls: readonly string[], options: PatroniOptions): Promise<PatroniCluster> {
  if (apiUrls.length === 0) throw new PatroniApiError('no Patroni REST API given');
  const failures: string[] = [];
  for (const base of apiUrls) {
    options.signal?.throwIfAborted();
    try {
      const { status, text } = await request(apiPath(base, '/cluster'), { method: 'GET', timeoutMs: options.timeoutMs }, options);
      if (status !== 200) {
        failures.push(`${base}: HTTP ${status} ${text.slice(0, 200)}`.trim());
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        failures.push(`${base}: /cluster is not JSON (is this a Patroni REST API?)`);
        continue;
      }
      return { ...parseClusterResponse(json, base), answeredBy: base };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (error instanceof PatroniApiError) throw error;
      failures.push(`${base}: ${describeFailure(error, options.timeoutMs)}`);
    }
  }
  throw new PatroniApiError(`no Patroni REST API answered: ${failures.join('; ')}`);
}

/** The leader now, through the first Patroni REST API that answers. */
export async function patroniLeader(apiUrls: readonly string[], options: PatroniOptions): Promise<LeaderInfo & { answeredBy: string }> {
  const cluster = await patroniCluster(apiUrls, options);
  return { ...leaderOf(cluster), answeredBy: cluster.answeredBy };
}

export interface SwitchoverRequest {
  /** The current leader's member name: Patroni refuses a switchover from anyone else (412). */
  leader: string;
  /** The member to promote; Patroni picks the best replica when omitted. */
  candidate?: string;
  /** ISO 8601 with offset: schedule it instead (answered 202 at once). */
  scheduledAt?: string;
}

export interface SwitchoverResult {
  status: 200 | 202;
  /** Patroni's own words, e.g. `Successfully switched over to "node2"`. */
  message: string;
  /** The new leader's name, as Patroni's answer names it (200 only). */
  newLeader?: string;
  /** The API that took the request. */
  answeredBy: string;
}

/**
 * `POST /switchover` to the first API that answers. Resolves on 200 (done) or 202
 * (scheduled); any other answer throws PatroniApiError with Patroni's status and message.
 * A 503 "status unknown" means Patroni stopped waiting, not that nothing happened: ask
 * `/cluster` before concluding. Blocks for as long as Patroni takes (seconds), so
 * `timeoutMs` must cover it — 2 · max(10, loop_wait) s plus a margin.
 */
export async function switchover(apiUrls: readonly string[], body: SwitchoverRequest, options: PatroniOptions): Promise<SwitchoverResult> {
  if (apiUrls.length === 0) throw new PatroniApiError('no Patroni REST API given');
  const payload = { leader: body.leader, ...(body.candidate ? { candidate: body.candidate } : {}), ...(body.scheduledAt ? { scheduled_at: body.scheduledAt } : {}) };
  const failures: string[] = [];
  for (const base of apiUrls) {
    options.signal?.throwIfAborted();
    let answer: { status: number; text: string };
    try {
      answer = await request(apiPath(base, '/switchover'), { method: 'POST', body: payload, timeoutMs: options.timeoutMs }, options);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      // A timeout after the request was sent may still switch over: never send it to a second API.
      if ((error as { name?: string })?.name === 'TimeoutError')
        throw new PatroniApiError(`${base} did not answer the switchover within ${options.timeoutMs} ms: it may still happen; check /cluster`);
      failures.push(`${base}: ${describeFailure(error, options.timeoutMs)}`);
      continue;
    }
    const message = answer.text.trim();
    if (answer.status === 200 || answer.status === 202) {
      const named = /over to "([^"]+)"/.exec(message)?.[1];
      return { status: answer.status, message, ...(named ? { newLeader: named } : {}), answeredBy: base };
    }
    const why: Record<number, string> = {
      400: 'Patroni refused the request',
      401: 'the REST API needs credentials (restapi.authentication)',
      403: 'the REST API refuses this client',
      412: 'the switchover is not possible now',
      503: 'the switchover failed or its outcome is unknown (check /cluster)',
    };
    throw new PatroniApiError(`${base}: ${why[answer.status] ?? `HTTP ${answer.status}`}: ${message || '(no message)'}`, answer.status);
  }
  throw new PatroniApiError(`no Patroni REST API took the switchover: ${failures.join('; ')}`);
}

export interface RejoinResult {
  member: PatroniMember;
  leader: LeaderInfo;
  /** From the call to the first poll that saw the member rejoined. */
  elapsedMs: number;
}

/** Why `member` is not (yet) a healthy replica of `leader`, or undefined when it is. */
export function rejoinProblem(cluster: Pick<PatroniCluster, 'members'>, name: string): string | undefined {
  const member = cluster.members.find((m) => m.name === name);
  if (!member) return `${name} is not a member of the cluster`;
  if (!(REPLICA_ROLES as readonly string[]).includes(member.role)) return `${name} is ${member.role}, not a replica`;
  if (member.state !== 'running' && member.state !== 'streaming') return `${name} is ${member.state || 'in an unknown state'}`;
  if (member.lag === 'unknown' || member.lag === undefined) return `${name}'s replication position is unknown`;
  let leader: LeaderInfo;
  try {
    leader = leaderOf(cluster);
  } catch (error) {
    return (error as Error).message;
  }
  if (leader.timeline !== null && member.timeline !== undefined && member.timeline !== leader.timeline)
    return `${name} is on timeline ${member.timeline}, the leader ${leader.name} on ${leader.timeline}`;
  return undefined;
}

/**
 * Waits until the member `name` (the old leader) is a replica again — a replica role,
 * running or streaming, its lag known and on the leader's timeline (Patroni re-joins it with
 * pg_rewind when `use_pg_rewind` is on) — polling `/cluster` every `pollMs`. Throws
 * PatroniApiError with the last thing seen when `deadlineMs` passes first.
 */
export async function waitRejoined(
  apiUrls: readonly string[],
  name: string,
  deadlineMs: number,
  options: PatroniOptions & { pollMs?: number },
): Promise<RejoinResult> {
  const clock = options.clock ?? systemElapsed;
  const started = clock.elapsed();
  const left = () => deadlineMs - (clock.elapsed() - started);
  let lastSeen: string | undefined;
  let lastError: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      // A poll near the deadline still gets a moment to answer (at most 50 ms past it).
      const cluster = await patroniCluster(apiUrls, { ...options, timeoutMs: Math.min(options.timeoutMs, Math.max(50, left())) });
      const problem = rejoinProblem(cluster, name);
      if (problem === undefined) return { member: cluster.members.find((m) => m.name === name)!, leader: leaderOf(cluster), elapsedMs: clock.elapsed() - started };
      lastSeen = problem;
      lastError = undefined;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      lastError = (error as Error).message;
    }
    if (left() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(options.pollMs ?? 1_000, left()));
        options.signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
    }
    if (left() <= 0) {
      const seen = [lastSeen, lastError && `the last poll failed: ${lastError}`].filter(Boolean).join('; ');
      throw new PatroniApiError(`${name} did not re-join as a replica within ${deadlineMs} ms: ${seen || 'no answer'}`);
    }
  }
}

// ---------------------------------------------------------------- target.cluster.members

export interface MemberStatus extends HostPort {
  inRecovery: boolean;
  timeline: number;
  systemIdentifier: string;
}

/** The one member not in recovery; throws when there is none or more than one (split brain). */
export function pickMembersLeader(statuses: readonly MemberStatus[]): LeaderInfo {
  const leaders = statuses.filter((s) => !s.inRecovery);
  if (leaders.length === 0) throw new Error(`no member is out of recovery: no leader (${statuses.length === 0 ? 'no member answered' : statuses.map(formatHost).join(', ')} answered as standbys)`);
  if (leaders.length > 1) throw new Error(`${leaders.length} members are out of recovery (${leaders.map(formatHost).join(', ')}): the cluster has more than one primary`);
  const systemIds = new Set(statuses.map((s) => s.systemIdentifier));
  if (systemIds.size > 1) throw new Error(`the members belong to different clusters (system identifiers ${[...systemIds].join(', ')})`);
  const leader = leaders[0]!;
  return { name: formatHost(leader), host: leader.host, port: leader.port, timeline: leader.timeline };
}

export interface MembersLeader extends LeaderInfo {
  statuses: MemberStatus[];
  /** Members that did not answer, and why (they are not candidates). */
  unreachable: { member: string; problem: string }[];
}

/**
 * `target.cluster.members`: asks each member (`host:port`, as in a libpq host list) whether
 * it is in recovery and picks the one that is not. A member that does not answer is left
 * out and named; the leader must be among those that answered.
 */
export async function membersLeader(
  members: readonly string[],
  login: { database: string; user: string },
  options: Omit<ConnectOptions, 'statementTimeoutMs'>,
): Promise<MembersLeader> {
  const statuses: MemberStatus[] = [];
  const unreachable: MembersLeader['unreachable'] = [];
  for (const text of members) {
    for (const host of parseHostList(text)) {
      try {
        const connected = await connectEndpoint({ hosts: [host], database: login.database, user: login.user, targetSessionAttrs: 'any' }, options);
        try {
          const identity = await serverIdentity(connected.client);
          statuses.push({ ...host, inRecovery: identity.inRecovery, timeline: identity.timeline, systemIdentifier: identity.systemIdentifier });
        } finally {
          await connected.client.end().catch(() => undefined);
        }
      } catch (error) {
        if (options.signal?.aborted) throw error;
        unreachable.push({ member: formatHost(host), problem: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  try {
    return { ...pickMembersLeader(statuses), statuses, unreachable };
  } catch (error) {
    const note = unreachable.length > 0 ? `; not answering: ${unreachable.map((u) => u.member).join(', ')}` : '';
    throw new Error(`${(error as Error).message}${note}`);
  }
}
