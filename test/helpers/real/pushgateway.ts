/**
 * Debian's real prometheus-pushgateway on a free 127.0.0.1 port, metrics kept in memory only
 * (no persistence file), with its admin API on so a test can wipe it between cases.
 *
 *   const gateway = new Pushgateway();
 *   const { url } = await gateway.start();        // e.g. http://127.0.0.1:24511
 *   … drillbook run --metrics-push ${url} …
 *   const text = await gateway.metrics();          // GET /metrics (exposition format)
 *   await gateway.stop();
 */
import path from 'node:path';
import { type ProcessRef, type Spawned, freePort, httpRequest, isRunning, removeScratch, scratchRoot, spawnLogged, stopProcesses, tail, waitFor } from './processes.js';
import { binary } from './require-real.js';

export interface PushgatewayInfo {
  /** Base URL, e.g. http://127.0.0.1:24511 (push to `${url}/metrics/job/<job>`). */
  url: string;
  port: number;
  pid: number;
  logFile: string;
  startupMs: number;
}

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Pushgateway {
  private root?: string;
  private process?: Spawned;
  private information?: PushgatewayInfo;

  get details(): PushgatewayInfo {
    if (!this.information) throw new Error('Pushgateway: start() first');
    return this.information;
  }

  get url(): string {
    return this.details.url;
  }

  /** Starts it and resolves once /-/ready answers 200. */
  async start(): Promise<PushgatewayInfo> {
    if (this.root) throw new Error('Pushgateway: already started');
    const started = Date.now();
    this.root = scratchRoot('drillbook-pushgateway');
    const port = await freePort();
    const logFile = path.join(this.root, 'pushgateway.log');
    this.process = spawnLogged(binary('prometheus-pushgateway'), [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--web.enable-admin-api', '--log.level=info'], { label: 'prometheus-pushgateway', logFile });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor(
        'pushgateway /-/ready',
        async () => {
          if (!isRunning(this.process!.ref)) throw new Error(`prometheus-pushgateway exited: ${tail(logFile, 8)}`);
          return (await httpRequest(`${url}/-/ready`, { timeoutMs: 1_000 })).status === 200;
        },
        20_000,
      );
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
    this.information = { url, port, pid: this.process.ref.pid, logFile, startupMs: Date.now() - started };
    return this.information;
  }

  /** GET /metrics: everything pushed (plus the gateway's own metrics), as exposition text. */
  async metrics(): Promise<string> {
    const answer = await httpRequest(`${this.url}/metrics`, { timeoutMs: 5_000 });
    if (answer.status !== 200) throw new Error(`GET ${this.url}/metrics: HTTP ${answer.status}`);
    return answer.body;
  }

  /** /metrics parsed into samples (comments dropped); `name` filters by metric name. */
  async samples(name?: string): Promise<MetricSample[]> {
    return parseExposition(await this.metrics()).filter((s) => name === undefined || s.name === name);
  }

  /** Pushes exposition text for a job (PUT replaces the group, POST merges), as any client would. */
  async push(job: string, body: string, options: { method?: 'PUT' | 'POST'; grouping?: Record<string, string> } = {}): Promise<void> {
    const grouping = Object.entries(options.grouping ?? {})
      .map(([k, v]) => `/${encodeURIComponent(k)}/${encodeURIComponent(v)}`)
      .join('');
    const answer = await httpRequest(`${this.url}/metrics/job/${encodeURIComponent(job)}${grouping}`, { method: options.method ?? 'PUT', body, headers: { 'Content-Type': 'text/plain; version=0.0.4' } });
    if (answer.status >= 300) throw new Error(`push to ${job}: HTTP ${answer.status} ${answer.body}`);
  }

  /** Deletes every pushed group (admin API). */
  async wipe(): Promise<void> {
    const answer = await httpRequest(`${this.url}/api/v1/admin/wipe`, { method: 'PUT' });
    if (answer.status >= 300) throw new Error(`wipe: HTTP ${answer.status}`);
  }

  processes(): ProcessRef[] {
    return this.process && isRunning(this.process.ref) ? [this.process.ref] : [];
  }

  /** SIGTERM by PID (SIGKILL after 10 s), removes its scratch dir. Returns what it stopped. */
  async stop(): Promise<ProcessRef[]> {
    if (!this.root) return [];
    const stopped = this.process ? await stopProcesses([{ ref: this.process.ref, signal: 'SIGTERM' }], 10_000) : [];
    removeScratch(this.root);
    this.root = undefined;
    return stopped;
  }
}

/** A small parser of the Prometheus text format (enough to assert on pushed series). */
export function parseExposition(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}
