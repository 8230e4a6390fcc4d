/**
 * A real HA PostgreSQL cluster from Debian's packages, all on 127.0.0.1 free ports:
 * one etcd member, Patroni 3 nodes (two by default) running PostgreSQL 15 as `postgres`,
 * and HAProxy routing to whichever node Patroni's REST API says is the primary.
 *
 * Patroni is tuned for fast failover in tests: ttl 10, loop_wait 1, retry_timeout 4,
 * `master_start_timeout: 0` (a crashed primary fails over instead of restarting in place),
 * pg_rewind with wal_log_hints so the old leader re-joins as a replica, asynchronous
 * replication (so a leader kill can lose acknowledged writes, as in production).
 *
 *   const cluster = new PatroniCluster();
 *   const info = await cluster.start();           // resolves once healthy
 *   const leader = await cluster.leader();
 *   process.kill(cluster.postmaster(leader!.name)!.pid, 'SIGKILL');
 *   await cluster.waitLeader({ notName: leader!.name });
 *   await cluster.stop();                          // by PID; throws if anything survived
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { type OsUser, type ProcessRef, type Spawned, type StopStep, descendants, freePort, httpRequest, isRunning, ownedDir, ownedFile, postgresUser, postmasterOf, queryRows, run, scratchRoot, spawnLogged, stopProcesses, sweepAndRemoveScratch, tail, track, waitFor } from './processes.js';
import { PG15_BIN, binary } from './require-real.js';

export interface PatroniClusterOptions {
  /** Patroni nodes (default 2). */
  nodes?: number;
  /** Patroni's `scope` (cluster name); random by default. */
  scope?: string;
  /** DCS settings (defaults: ttl 10, loopWait 1, retryTimeout 4, masterStartTimeout 0). */
  ttl?: number;
  loopWait?: number;
  retryTimeout?: number;
  masterStartTimeout?: number;
  /** Extra PostgreSQL parameters for every node (bootstrap DCS config). */
  parameters?: Record<string, string | number>;
  /** HAProxy's health check: Patroni's `/primary` (default) or `/leader`, and its timing. */
  haproxy?: { checkPath?: '/primary' | '/leader'; interMs?: number; fastInterMs?: number; fall?: number; rise?: number };
  /** How long start() may take to reach a healthy cluster (default 90 s). */
  startTimeoutMs?: number;
}

export interface PgCredentials {
  user: string;
  password: string;
}

export interface PatroniMember {
  name: string;
  host: string;
  /** PostgreSQL's port. */
  port: number;
  /** Patroni REST API base URL, e.g. http://127.0.0.1:28008 */
  apiUrl: string;
  dataDir: string;
  /** Patroni's YAML configuration (for `patronictl -c`). */
  configFile: string;
  /** Patroni's own log (PostgreSQL's goes to `<dataDir>/log/` through the logging collector… or, here, the same file). */
  logFile: string;
}

export interface ClusterMemberState extends PatroniMember {
  /** From /cluster: leader | replica | sync_standby | standby_leader. */
  role: string;
  /** From /cluster: running | streaming | starting | stopped | crashed | … */
  state: string;
  timeline?: number;
  lag?: number | string;
}

export interface PatroniClusterInfo {
  scope: string;
  root: string;
  etcd: { url: string; pid: number };
  haproxy: {
    host: string;
    /** Read-write port: routed to the member whose Patroni answers 200 on the check path. */
    port: number;
    /** Read-only port: routed to members whose Patroni answers 200 on /replica. */
    replicaPort: number;
    /** HAProxy's stats page (CSV at `${statsUrl};csv`). */
    statsUrl: string;
    /** postgres://postgres:…@127.0.0.1:<port>/postgres */
    connectionString: string;
    pid: number;
  };
  patroniApis: string[];
  members: PatroniMember[];
  superuser: PgCredentials;
  replication: PgCredentials;
  /** From start() to healthy. */
  startupMs: number;
  /** Milliseconds from start() to: etcd healthy, a running leader (initdb done), healthy (replica streaming, HAProxy routing). */
  startupPhases: { etcdMs: number; leaderMs: number; healthyMs: number };
}

export interface HealthyCluster {
  leader: ClusterMemberState;
  replicas: ClusterMemberState[];
}

interface Node {
  member: PatroniMember;
  patroni?: Spawned;
}

export interface HaproxyStateChange {
  at: number;
  server: string;
  state: 'UP' | 'DOWN';
  line: string;
}

export interface HaproxyConnection {
  acceptAt: number;
  endAt: number;
  /** `<NOSRV>` when no server was available. */
  server: string;
  waitMs: number;
  /** -1 when it never connected. */
  connectMs: number;
  totalMs: number;
  termination: string;
  retries: number;
}

export class PatroniCluster {
  readonly options: Required<Omit<PatroniClusterOptions, 'haproxy' | 'parameters' | 'scope'>> & Pick<PatroniClusterOptions, 'parameters' | 'haproxy'> & { scope: string };
  private root?: string;
  private user?: OsUser;
  private etcd?: Spawned;
  private etcdUrl?: string;
  private haproxy?: Spawned;
  private nodes: Node[] = [];
  private superuserCredentials: PgCredentials = { user: 'postgres', password: crypto.randomBytes(12).toString('hex') };
  private replicationCredentials: PgCredentials = { user: 'replicator', password: crypto.randomBytes(12).toString('hex') };
  /** Every postmaster seen (a failover starts new ones), so stop() can make sure they are gone. */
  private postmasters = new Map<string, ProcessRef>();
  private information?: PatroniClusterInfo;

  constructor(options: PatroniClusterOptions = {}) {
    this.options = {
      nodes: options.nodes ?? 2,
      scope: options.scope ?? `drillbook-${crypto.randomBytes(3).toString('hex')}`,
      ttl: options.ttl ?? 10,
      loopWait: options.loopWait ?? 1,
      retryTimeout: options.retryTimeout ?? 4,
      masterStartTimeout: options.masterStartTimeout ?? 0,
      startTimeoutMs: options.startTimeoutMs ?? 90_000,
      parameters: options.parameters,
      haproxy: options.haproxy,
    };
  }

  /** What start() returned; throws before start(). */
  get details(): PatroniClusterInfo {
    if (!this.information) throw new Error('PatroniCluster: start() first');
    return this.information;
  }

  get members(): PatroniMember[] {
    return this.nodes.map((n) => n.member);
  }

  member(name: string): PatroniMember {
    const found = this.nodes.find((n) => n.member.name === name);
    if (!found) throw new Error(`no member ${name} (members: ${this.members.map((m) => m.name).join(', ')})`);
    return found.member;
  }

  /** Builds everything and resolves once waitHealthy() holds. On failure, stops what it started and throws with log tails. */
  async start(): Promise<PatroniClusterInfo> {
    if (this.root) throw new Error('PatroniCluster: already started');
    const started = Date.now();
    this.user = postgresUser();
    this.root = scratchRoot('drillbook-patroni');
    try {
      await this.startEtcd();
      const etcdMs = Date.now() - started;
      const [haproxyPort, replicaPort, statsPort] = [await freePort(), await freePort(), await freePort()];
      for (let i = 1; i <= this.options.nodes; i++) this.nodes.push({ member: await this.prepareNode(`node${i}`) });
      // All nodes start at once: they race for the initialize key, one runs initdb, the others
      // wait for it and clone it with pg_basebackup.
      for (const node of this.nodes) node.patroni = this.startPatroni(node.member);
      this.haproxy = this.startHaproxy(haproxyPort, replicaPort, statsPort);
      const su = this.superuserCredentials;
      this.information = {
        scope: this.options.scope,
        root: this.root,
        etcd: { url: this.etcdUrl!, pid: this.etcd!.ref.pid },
        haproxy: {
          host: '127.0.0.1',
          port: haproxyPort,
          replicaPort,
          statsUrl: `http://127.0.0.1:${statsPort}/`,
          connectionString: `postgres://${su.user}:${su.password}@127.0.0.1:${haproxyPort}/postgres`,
          pid: this.haproxy.ref.pid,
        },
        patroniApis: this.members.map((m) => m.apiUrl),
        members: this.members,
        superuser: { ...su },
        replication: { ...this.replicationCredentials },
        startupMs: 0,
        startupPhases: { etcdMs, leaderMs: 0, healthyMs: 0 },
      };
      await this.waitLeader({ timeoutMs: this.options.startTimeoutMs });
      this.information.startupPhases.leaderMs = Date.now() - started;
      await this.waitHealthy({ timeoutMs: this.options.startTimeoutMs });
      this.information.startupMs = this.information.startupPhases.healthyMs = Date.now() - started;
      return this.information;
    } catch (error) {
      const logs = this.logTails();
      await this.stop().catch(() => undefined);
      throw new Error(`Patroni cluster did not start: ${(error as Error).message}\n${logs}`);
    }
  }

  private async startEtcd(): Promise<void> {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const dataDir = ownedDir(path.join(this.root!, 'etcd'), undefined);
    const peer = `http://127.0.0.1:${peerPort}`;
    this.etcdUrl = `http://127.0.0.1:${clientPort}`;
    this.etcd = spawnLogged(
      binary('etcd'),
      [
        '--name=etcd1',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=etcd1=${peer}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${this.options.scope}`,
        // One member on a loaded machine: short elections so it leads itself quickly.
        '--heartbeat-interval=100',
        '--election-timeout=1000',
      ],
      { label: 'etcd', logFile: path.join(this.root!, 'etcd.log') },
    );
    await waitFor(
      'etcd /health',
      async () => {
        if (!isRunning(this.etcd!.ref)) throw new Error(`etcd exited: ${tail(this.etcd!.logFile, 5)}`);
        const answer = await httpRequest(`${this.etcdUrl}/health`, { timeoutMs: 1_000 });
        return answer.status === 200 && JSON.parse(answer.body).health === 'true';
      },
      20_000,
    );
  }

  private async prepareNode(name: string): Promise<PatroniMember> {
    const user = this.user!;
    const nodeDir = ownedDir(path.join(this.root!, name), user);
    const socketDir = ownedDir(path.join(nodeDir, 'socket'), user);
    const dataDir = path.join(nodeDir, 'data'); // Patroni creates it (0700) on bootstrap or clone.
    const port = await freePort();
    const apiPort = await freePort();
    const member: PatroniMember = {
      name,
      host: '127.0.0.1',
      port,
      apiUrl: `http://127.0.0.1:${apiPort}`,
      dataDir,
      configFile: path.join(nodeDir, 'patroni.yml'),
      logFile: path.join(nodeDir, 'patroni.log'),
    };
    const su = this.superuserCredentials;
    const repl = this.replicationCredentials;
    const config = {
      scope: this.options.scope,
      namespace: '/drillbook/',
      name,
      log: { level: 'INFO', format: '%(asctime)s %(levelname)s: %(message)s' },
      restapi: { listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}` },
      etcd3: { hosts: [this.etcdUrl!.replace('http://', '')], protocol: 'http' },
      bootstrap: {
        dcs: {
          ttl: this.options.ttl,
          loop_wait: this.options.loopWait,
          retry_timeout: this.options.retryTimeout,
          maximum_lag_on_failover: 16 * 1024 * 1024,
          master_start_timeout: this.options.masterStartTimeout,
          synchronous_mode: false,
          postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            remove_data_directory_on_rewind_failure: true,
            remove_data_directory_on_diverged_timelines: true,
            parameters: {
              wal_level: 'replica',
              wal_log_hints: 'on',
              hot_standby: 'on',
              max_connections: 200,
              max_wal_senders: 10,
              max_replication_slots: 10,
              wal_keep_size: '128MB',
              synchronous_commit: 'on',
              ...this.options.parameters,
            },
          },
        },
        initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'no-sync'],
      },
      postgresql: {
        listen: `127.0.0.1:${port}`,
        connect_address: `127.0.0.1:${port}`,
        data_dir: dataDir,
        bin_dir: PG15_BIN,
        pgpass: path.join(nodeDir, 'pgpass'),
        authentication: {
          superuser: { username: su.user, password: su.password },
          replication: { username: repl.user, password: repl.password },
        },
        parameters: {
          unix_socket_directories: socketDir,
          shared_buffers: '32MB',
          logging_collector: 'off',
          log_line_prefix: '%m [%p] ',
        },
        pg_hba: [
          'local all all trust',
          'host replication all 127.0.0.1/32 scram-sha-256',
          'host all all 127.0.0.1/32 scram-sha-256',
        ],
        basebackup: [{ checkpoint: 'fast' }],
      },
      watchdog: { mode: 'off' },
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    };
    ownedFile(member.configFile, YAML.stringify(config), user);
    return member;
  }

  private startPatroni(member: PatroniMember): Spawned {
    return spawnLogged(binary('patroni'), [member.configFile], {
      label: `patroni ${member.name}`,
      logFile: member.logFile,
      as: this.user,
      cwd: path.dirname(member.configFile),
      env: { PYTHONUNBUFFERED: '1' },
    });
  }

  private startHaproxy(port: number, replicaPort: number, statsPort: number): Spawned {
    const h = this.options.haproxy ?? {};
    const checkPath = h.checkPath ?? '/primary';
    const timing = `inter ${h.interMs ?? 500}ms fastinter ${h.fastInterMs ?? 250}ms downinter ${h.interMs ?? 500}ms fall ${h.fall ?? 2} rise ${h.rise ?? 1}`;
    // The health check goes to each member's Patroni REST port, the traffic to its PostgreSQL port.
    // No per-server maxconn: a full server makes HAProxy queue new clients instead of routing
    // them, so the writer's and the probes' hung connections to a dead leader would change
    // where everyone else is sent (the observer effect). PostgreSQL's max_connections limits.
    const servers = this.members.map((m) => `    server ${m.name} ${m.host}:${m.port} check port ${new URL(m.apiUrl).port}`).join('\n');
    // HAProxy's own log (ISO timestamps in µs, its wall clock): every server going UP or DOWN and
    // every client connection with its server, retries and timings — a record of the endpoint
    // independent of drillbook and of the writer.
    const config = `global
    maxconn 4000
    log stderr format iso local0
    stats socket ${path.join(this.root!, 'haproxy.sock')} mode 600 level admin

defaults
    mode tcp
    retries 2
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen stats
    mode http
    bind 127.0.0.1:${statsPort}
    stats enable
    stats uri /
    stats refresh 1s

listen primary
    bind 127.0.0.1:${port}
    log global
    option tcplog
    option httpchk
    http-check send meth GET uri ${checkPath}
    http-check expect status 200
    default-server ${timing} on-marked-down shutdown-sessions
${servers}

listen replicas
    bind 127.0.0.1:${replicaPort}
    balance roundrobin
    option httpchk
    http-check send meth GET uri /replica
    http-check expect status 200
    default-server ${timing} on-marked-down shutdown-sessions
${servers}
`;
    const file = path.join(this.root!, 'haproxy.cfg');
    fs.writeFileSync(file, config);
    // -db: stay in the foreground, one process, so its PID is the one we stop.
    return spawnLogged(binary('haproxy'), ['-db', '-f', file], { label: 'haproxy', logFile: path.join(this.root!, 'haproxy.log') });
  }

  /** Raw GET of Patroni's /cluster from the first member whose API answers. */
  async clusterJson(): Promise<{ members: Array<Record<string, unknown>> } & Record<string, unknown>> {
    const errors: string[] = [];
    for (const member of this.members) {
      try {
        const answer = await httpRequest(`${member.apiUrl}/cluster`, { timeoutMs: 1_500 });
        if (answer.status === 200) return JSON.parse(answer.body);
        errors.push(`${member.name}: HTTP ${answer.status}`);
      } catch (error) {
        errors.push(`${member.name}: ${(error as Error).message}`);
      }
    }
    throw new Error(`no Patroni API answered /cluster (${errors.join('; ')})`);
  }

  /** Every member as /cluster describes it now. */
  async memberStates(): Promise<ClusterMemberState[]> {
    const json = await this.clusterJson();
    const states: ClusterMemberState[] = [];
    for (const raw of json.members) {
      const member = this.nodes.find((n) => n.member.name === raw.name)?.member;
      if (!member) continue;
      states.push({
        ...member,
        role: String(raw.role),
        state: String(raw.state),
        timeline: typeof raw.timeline === 'number' ? raw.timeline : undefined,
        lag: raw.lag as number | string | undefined,
      });
    }
    return states;
  }

  /** The member /cluster names as leader (undefined while there is none, e.g. mid-failover). */
  async leader(): Promise<ClusterMemberState | undefined> {
    const states = await this.memberStates();
    const leader = states.find((s) => s.role === 'leader');
    if (leader) this.rememberPostmaster(leader.name);
    return leader;
  }

  /** Waits for a running leader, optionally one other than `notName` (after a failover) . */
  async waitLeader(options: { notName?: string; timeoutMs?: number } = {}): Promise<ClusterMemberState> {
    return waitFor(
      options.notName ? `a Patroni leader other than ${options.notName}` : 'a Patroni leader',
      async () => {
        const leader = await this.leader();
        return leader && leader.state === 'running' && leader.name !== options.notName ? leader : undefined;
      },
      options.timeoutMs ?? 60_000,
      200,
    );
  }

  /**
   * Healthy means: /cluster has a running leader; every other member is a running replica whose
   * walreceiver streams from the leader (pg_stat_replication on the leader says `streaming`);
   * and HAProxy's read-write port reaches the leader, with the leader the only server UP there.
   */
  async waitHealthy(options: { timeoutMs?: number } = {}): Promise<HealthyCluster> {
    const expectedReplicas = this.options.nodes - 1;
    let last = 'nothing checked yet';
    try {
      return await waitFor(
        'a healthy Patroni cluster',
        async () => {
          for (const node of this.nodes) {
            if (node.patroni && !isRunning(node.patroni.ref)) throw new Error(`patroni ${node.member.name} exited: ${tail(node.member.logFile, 8)}`);
          }
          if (this.haproxy && !isRunning(this.haproxy.ref)) throw new Error(`haproxy exited: ${tail(this.haproxy.logFile, 8)}`);
          const states = await this.memberStates().catch((error: Error) => {
            last = error.message;
            return [];
          });
          const leader = states.find((s) => s.role === 'leader' && s.state === 'running');
          const replicas = states.filter((s) => s.role !== 'leader' && s.state === 'running');
          if (!leader || replicas.length < expectedReplicas) {
            last = `members: ${states.map((s) => `${s.name} ${s.role}/${s.state}`).join(', ') || 'none yet'}`;
            return undefined;
          }
          this.rememberPostmaster(leader.name);
          for (const r of replicas) this.rememberPostmaster(r.name);
          const streaming = await this.query<{ application_name: string }>(leader, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
          const names = new Set(streaming.map((r) => r.application_name));
          const notStreaming = replicas.filter((r) => !names.has(r.name));
          if (notStreaming.length > 0) {
            last = `leader ${leader.name}; not streaming yet: ${notStreaming.map((r) => r.name).join(', ')}`;
            return undefined;
          }
          const up = await this.haproxyUp('primary');
          if (up.length !== 1 || up[0] !== leader.name) {
            last = `leader ${leader.name}; HAProxy primary UP: ${up.join(', ') || 'none'}`;
            return undefined;
          }
          const through = await this.queryEndpoint<{ port: number; recovery: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery');
          if (through[0]?.port !== leader.port || through[0]?.recovery !== false) {
            last = `HAProxy reached port ${through[0]?.port} (recovery ${through[0]?.recovery}), leader is ${leader.port}`;
            return undefined;
          }
          return { leader, replicas };
        },
        options.timeoutMs ?? 60_000,
        250,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message} (last seen: ${last})`);
    }
  }

  /**
   * HAProxy's own record of its read-write proxy, from its log: each server marked UP or
   * DOWN, and each client connection (accept time, server, retries, connect and total time).
   * Times are epoch ms on HAProxy's wall clock.
   */
  haproxyLog(): { states: HaproxyStateChange[]; connections: HaproxyConnection[] } {
    const text = this.haproxy ? fs.readFileSync(this.haproxy.logFile, 'utf8') : '';
    const states: HaproxyStateChange[] = [];
    const connections: HaproxyConnection[] = [];
    for (const line of text.split('\n')) {
      const stamp = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})([+-]\d\d:\d\d) (.*)$/.exec(line);
      if (!stamp) continue;
      const at = Date.parse(`${stamp[1]}${stamp[3]}`) + Number(stamp[2]) / 1000;
      const message = stamp[4]!;
      const state = /^Server primary\/(\S+) is (UP|DOWN)/.exec(message);
      if (state) {
        states.push({ at, server: state[1]!, state: state[2] as 'UP' | 'DOWN', line: message });
        continue;
      }
      // tcplog: client [accept date] frontend backend/server Tw/Tc/Tt bytes termination_state actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue
      const conn = /^\S+ \[[^\]]+\] primary primary\/(\S+) (-?\d+)\/(-?\d+)\/(\+?-?\d+) \d+ (\S+) \d+\/\d+\/\d+\/\d+\/(\+?\d+)/.exec(message);
      if (conn) {
        const totalMs = Number(conn[4]!.replace('+', ''));
        // The log line is written when the connection ends: its accept time is that minus Tt.
        connections.push({ endAt: at, acceptAt: at - totalMs, server: conn[1]!, waitMs: Number(conn[2]), connectMs: Number(conn[3]), totalMs, termination: conn[5]!, retries: Number(conn[6]!.replace('+', '')) });
      }
    }
    return { states, connections };
  }

  /** Server names HAProxy reports UP in one of its proxies ('primary' or 'replicas'). */
  async haproxyUp(proxy: 'primary' | 'replicas'): Promise<string[]> {
    const answer = await httpRequest(`${this.details.haproxy.statsUrl};csv`, { timeoutMs: 1_500 });
    const lines = answer.body.split('\n');
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const px = header.indexOf('pxname');
    const sv = header.indexOf('svname');
    const status = header.indexOf('status');
    return lines
      .slice(1)
      .map((l) => l.split(','))
      .filter((cells) => cells[px] === proxy && cells[sv] !== 'FRONTEND' && cells[sv] !== 'BACKEND' && (cells[status] ?? '').startsWith('UP'))
      .map((cells) => cells[sv]!);
  }

  /**
   * A switchover through Patroni's REST API (POST /switchover on the leader), to `candidate`
   * or any healthy replica; resolves once the cluster is healthy again with the new leader.
   * For test set-up (e.g. "the node that led before"); drills do their own.
   */
  async switchover(candidate?: string, timeoutMs = 90_000): Promise<HealthyCluster> {
    const leader = await this.waitLeader();
    const body = JSON.stringify(candidate ? { leader: leader.name, candidate } : { leader: leader.name });
    const answer = await httpRequest(`${leader.apiUrl}/switchover`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' }, timeoutMs: 60_000 });
    if (answer.status !== 200) throw new Error(`switchover from ${leader.name}: HTTP ${answer.status} ${answer.body}`);
    await this.waitLeader({ notName: leader.name, timeoutMs });
    const healthy = await this.waitHealthy({ timeoutMs });
    if (healthy.leader.name === leader.name || (candidate && healthy.leader.name !== candidate)) throw new Error(`switchover: leader is ${healthy.leader.name}`);
    return healthy;
  }

  /**
   * Settings for every member, in member order, for a client that tries hosts like libpq's
   * `host=a,b target_session_attrs=read-write` (e.g. IndependentWriter with an array).
   */
  memberConnections(): pg.ClientConfig[] {
    return this.members.map((m) => this.connection(m));
  }

  /** The libpq multi-host URL of the members, `target_session_attrs=read-write` (no proxy in between). */
  multiHostUrl(): string {
    const su = this.superuserCredentials;
    return `postgresql://${su.user}:${su.password}@${this.members.map((m) => `${m.host}:${m.port}`).join(',')}/postgres?target_session_attrs=read-write`;
  }

  /** libpq settings for one member directly, as the superuser. */
  connection(member: Pick<PatroniMember, 'host' | 'port'>): pg.ClientConfig {
    return { host: member.host, port: member.port, user: this.superuserCredentials.user, password: this.superuserCredentials.password, database: 'postgres', connectionTimeoutMillis: 3_000 };
  }

  /** libpq settings for HAProxy's read-write port. */
  endpointConnection(): pg.ClientConfig {
    return this.connection({ host: '127.0.0.1', port: this.details.haproxy.port });
  }

  /** One query on one member (a fresh connection, closed afterwards). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(member: Pick<PatroniMember, 'host' | 'port'>, sql: string, values: unknown[] = []): Promise<R[]> {
    return queryRows<R>(this.connection(member), sql, values, 5_000);
  }

  /** One query through HAProxy's read-write port. */
  async queryEndpoint<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return queryRows<R>(this.endpointConnection(), sql, values, 5_000);
  }

  /** The running postmaster of a member (from its postmaster.pid), if any. */
  postmaster(name: string): ProcessRef | undefined {
    return this.rememberPostmaster(name);
  }

  /** The member's Patroni process. */
  patroniProcess(name: string): ProcessRef | undefined {
    const node = this.nodes.find((n) => n.member.name === name);
    return node?.patroni && isRunning(node.patroni.ref) ? node.patroni.ref : undefined;
  }

  /** Runs `patronictl -c <member config> …` as postgres, e.g. ['switchover', '--force', …]. */
  async patronictl(args: string[], memberName = this.members[0]!.name): Promise<string> {
    const result = await run(binary('patronictl'), ['-c', this.member(memberName).configFile, ...args], { as: this.user, timeoutMs: 60_000 });
    return result.stdout;
  }

  /** Every process of the cluster running now: etcd, HAProxy, Patroni, postmasters and their children. */
  processes(): ProcessRef[] {
    const refs: ProcessRef[] = [];
    const add = (ref: ProcessRef | undefined) => {
      if (!ref || !isRunning(ref)) return;
      refs.push(ref, ...descendants(ref.pid, ref.label));
    };
    add(this.etcd?.ref);
    add(this.haproxy?.ref);
    for (const node of this.nodes) {
      add(node.patroni?.ref);
      add(this.rememberPostmaster(node.member.name));
    }
    const unique = new Map(refs.map((r) => [`${r.pid}:${r.startTicks}`, r]));
    return [...unique.values()];
  }

  private rememberPostmaster(name: string): ProcessRef | undefined {
    const node = this.nodes.find((n) => n.member.name === name);
    if (!node) return undefined;
    const ref = postmasterOf(node.member.dataDir);
    if (ref) {
      this.postmasters.set(`${ref.pid}:${ref.startTicks}`, ref);
      track(ref);
    }
    return ref;
  }

  /**
   * Stops everything by PID: Patroni (SIGTERM; it shuts its PostgreSQL down), then HAProxy and
   * etcd; SIGKILL for whatever outlives its grace time; then a sweep for any process still
   * naming the scratch root. Throws if anything had to be swept or survived. Removes the scratch
   * root (unless DRILLBOOK_REAL_KEEP=1). Returns every process it stopped.
   */
  async stop(): Promise<ProcessRef[]> {
    if (!this.root) return [];
    const stopped: ProcessRef[] = [];
    for (const node of this.nodes) this.rememberPostmaster(node.member.name);
    const patroniSteps: StopStep[] = [];
    for (const node of this.nodes) if (node.patroni) patroniSteps.push({ ref: node.patroni.ref, signal: 'SIGTERM' });
    // Patroni stops its own postmaster; we only wait for it (and SIGKILL it after the grace).
    for (const ref of this.postmasters.values()) patroniSteps.push({ ref });
    stopped.push(...(await stopProcesses(patroniSteps, 30_000)));
    const rest: StopStep[] = [];
    if (this.haproxy) rest.push({ ref: this.haproxy.ref, signal: 'SIGTERM' });
    if (this.etcd) rest.push({ ref: this.etcd.ref, signal: 'SIGTERM' });
    stopped.push(...(await stopProcesses(rest, 10_000)));
    // A postmaster started between the snapshot above and Patroni's exit would be missed: sweep.
    const postmasters: ProcessRef[] = [];
    for (const node of this.nodes) {
      const pm = postmasterOf(node.member.dataDir);
      if (pm) postmasters.push(pm, ...descendants(pm.pid, pm.label));
    }
    const root = this.root;
    this.root = undefined;
    await sweepAndRemoveScratch(root, postmasters);
    return stopped;
  }

  /** Log tails of every component, for a failure message. */
  logTails(lines = 15): string {
    const parts: string[] = [];
    if (this.etcd) parts.push(`--- etcd (${this.etcd.logFile})\n${tail(this.etcd.logFile, lines)}`);
    if (this.haproxy) parts.push(`--- haproxy (${this.haproxy.logFile})\n${tail(this.haproxy.logFile, lines)}`);
    for (const node of this.nodes) parts.push(`--- ${node.member.name} (${node.member.logFile})\n${tail(node.member.logFile, lines)}`);
    return parts.join('\n');
  }
}

