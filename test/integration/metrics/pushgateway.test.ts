/**
 * Metrics as Prometheus gets them: Debian's real `prometheus-pushgateway`, started by this
 * test on a free 127.0.0.1 port (stopped by PID), receives pushes from the library and from a
 * real `drillbook run --metrics-push --metrics-file`; what it then serves on /metrics is
 * compared with the values the test fixed (fixture) or read from run.json. The textfile is
 * fed back to the Pushgateway, whose parser rejects malformed exposition text.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverageRegistry, pushMetrics, runRegistry, sameRun, writeMetricsFile, coverageSample } from '../../../reports/metrics.js';
import type { CoverageReport } from '../../../reports/coverage.js';
import { freePort } from '../../../runners/system.js';
import { runCli } from '../../helpers/cli.js';
import { writeScenario } from '../../helpers/drill-files.js';
import { sharedTempDir } from '../../helpers/pg-cluster.js';
import { REQUIRE_REAL, skipUnlessReal } from '../../helpers/real.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';

const BINARY = process.env.DRILLBOOK_PUSHGATEWAY || '/usr/bin/prometheus-pushgateway';

function pushgatewayReason(): string | undefined {
  if (fs.existsSync(BINARY)) return undefined;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return `${BINARY} is missing and this is not root, so it cannot be installed (run: sudo apt-get install prometheus-pushgateway)`;
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus-pushgateway'], { stdio: 'pipe', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (error) {
    return `${BINARY} is missing and apt-get install prometheus-pushgateway failed: ${(error as Error).message.split('\n')[0]}`;
  }
  return fs.existsSync(BINARY) ? undefined : `${BINARY} is still missing after apt-get install`;
}

let skip = false;
let gateway: ChildProcess | undefined;
let url = '';
let work: string;

beforeAll(async () => {
  skip = skipUnlessReal('pushgateway', pushgatewayReason());
  if (skip) return;
  work = sharedTempDir('drillbook-metrics-');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  gateway = spawn(BINARY, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  gateway.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || gateway.exitCode !== null) throw new Error(`pushgateway did not become ready: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 700_000);

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((resolve) => gateway!.once('exit', resolve));
    process.kill(gateway.pid!, 'SIGTERM');
    await exited;
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** The samples the Pushgateway serves for one metric name, as label maps with their value. */
async function scrape(name: string): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

describe('Pushgateway', () => {
  it('serves the pushed run series with the SPEC labels; a second scenario keeps its own group; a re-push replaces', async (ctx) => {
    if (skip) return ctx.skip();
    const first = makeRunRecord({ scenario: { name: 'orders-db-failover' }, environment: 'staging' });
    const second = makeRunRecord({ scenario: { name: 'orders-db-restore' }, type: 'parallel-restore', environment: 'staging', outcome: 'failed' });
    await pushMetrics(runRegistry(first), url, { scenario: 'orders-db-failover', environment: 'staging' });
    await pushMetrics(runRegistry(second), url, { scenario: 'orders-db-restore', environment: 'staging' });

    const rto = await scrape('drillbook_rto_seconds');
    expect(rto).toHaveLength(2);
    const failover = rto.find((s) => s.labels.scenario === 'orders-db-failover')!;
    expect(failover.labels).toMatchObject({ job: 'drillbook', system: first.system.name, type: 'failover', environment: 'staging' });
    expect(failover.value).toBeCloseTo(first.measured.rto!.seconds, 6);
    expect((await scrape('drillbook_rpo_seconds')).find((s) => s.labels.scenario === 'orders-db-failover')!.value).toBeCloseTo(first.measured.rpo!.seconds, 6);
    const ts = (await scrape('drillbook_last_run_timestamp_seconds')).find((s) => s.labels.scenario === 'orders-db-failover')!;
    expect(ts.value).toBe(Date.parse(first.endedAt) / 1000);
    const outcome = (await scrape('drillbook_run_outcome')).filter((s) => s.labels.scenario === 'orders-db-restore');
    expect(outcome.find((s) => s.labels.outcome === 'failed')!.value).toBe(1);
    expect(outcome.filter((s) => s.value === 1)).toHaveLength(1);

    // An exercise measures no RTO: its re-push removes the series instead of reporting 0 s.
    const tabletop = makeRunRecord({ scenario: { name: 'orders-db-failover' }, environment: 'staging', type: 'tabletop', measured: { rto: null, rpo: null } });
    await pushMetrics(runRegistry(tabletop), url, { scenario: 'orders-db-failover', environment: 'staging' });
    expect((await scrape('drillbook_rto_seconds')).map((s) => s.labels.scenario)).toEqual(['orders-db-restore']);
  });

  it('a refused push is an error naming the URL', async (ctx) => {
    if (skip) return ctx.skip();
    // A URL whose path is not a Pushgateway's: it answers 404, and that is an error, not a shrug.
    const record = makeRunRecord();
    await expect(pushMetrics(runRegistry(record), `${url}/not-a-gateway`, { scenario: 'x', environment: 'y' })).rejects.toThrow(new RegExp(`push to ${url}/not-a-gateway failed: push failed with status 404`));
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(pushMetrics(runRegistry(record), closed, { scenario: 'x', environment: 'y' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('the textfile keeps other scenarios, replaces its own, and is exposition text the Pushgateway accepts', async (ctx) => {
    if (skip) return ctx.skip();
    const file = path.join(work, 'drillbook.prom');
    const a = makeRunRecord({ scenario: { name: 'a-drill' } });
    const b = makeRunRecord({ scenario: { name: 'b-drill' }, measured: { rto: { seconds: 99.5 } } });
    await writeMetricsFile(runRegistry(a), file, sameRun(a));
    await writeMetricsFile(runRegistry(b), file, sameRun(b));
    const b2 = makeRunRecord({ scenario: { name: 'b-drill' }, measured: { rto: { seconds: 7.25 } } });
    await writeMetricsFile(runRegistry(b2), file, sameRun(b2));
    const report: CoverageReport = {
      plan: { name: 'p', version: '1' },
      asOf: '2026-12-01T00:00:00.000Z',
      window: {},
      rows: [
        { system: 'orders-db', tier: 1, owner: 'o', type: 'failover', maxAge: '180d', maxAgeDays: 180, lastRun: null, ageDays: null, due: null, daysLeft: null, status: 'never-tested', flags: [], runsInWindow: 0, lastRehearsal: null },
      ],
      counts: { covered: 0, 'due-soon': 0, overdue: 0, rehearsed: 0, 'never-tested': 1 },
      notes: [],
      gaps: true,
      awaitingPlanRevision: [],
    };
    await writeMetricsFile(coverageRegistry(report), file, coverageSample);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.match(/^drillbook_rto_seconds\{/gm)).toHaveLength(2);
    expect(text).toMatch(/drillbook_rto_seconds\{[^}]*scenario="b-drill"[^}]*\} 7\.25\n/);
    expect(text).not.toContain(' 99.5');
    expect(text.match(/^# TYPE drillbook_rto_seconds gauge$/gm)).toHaveLength(1);
    expect(text).toMatch(/drillbook_coverage_status\{system="orders-db",type="failover",tier="1",status="never-tested"\} 1/);
    expect(fs.readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // The Pushgateway parses what it is given and answers 400 on malformed text.
    const put = await fetch(`${url}/metrics/job/textfile-check`, { method: 'PUT', body: text });
    expect(put.status, await put.text()).toBe(200);
    expect((await scrape('drillbook_rto_seconds')).filter((s) => s.labels.job === 'textfile-check')).toHaveLength(2);
  });

  it('drillbook run --metrics-push and --metrics-file carry the run\'s own numbers', async (ctx) => {
    if (skip) return ctx.skip();
    const dir = path.join(work, 'drill');
    const file = writeScenario(dir, 'metrics-restore', {
      type: 'parallel-restore',
      target: { driver: 'postgres', sandbox: true },
      restore: { restoreTo: 'latest', access: '127.0.0.1 only', masking: 'none needed (synthetic data)' },
      probes: { interval: '250ms', heartbeat: { interval: '100ms', warmup: '5s' } },
    });
    const prom = path.join(work, 'node-exporter', 'drillbook.prom');
    fs.mkdirSync(path.dirname(prom));
    const result = await runCli(['run', file, '--evidence', path.join(work, 'ev'), '--json', '--metrics-push', url, '--metrics-file', prom], { cwd: work });
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    const record = JSON.parse(fs.readFileSync(path.join(json.evidence, 'run.json'), 'utf8'));
    const pushed = (await scrape('drillbook_rto_seconds')).find((s) => s.labels.scenario === 'metrics-restore' && s.labels.job === 'drillbook')!;
    expect(pushed.labels).toMatchObject({ system: 'orders-db', type: 'parallel-restore', environment: 'test' });
    expect(pushed.value).toBeCloseTo(record.measured.rto.seconds, 6);
    expect(fs.readFileSync(prom, 'utf8')).toMatch(/drillbook_run_outcome\{[^}]*scenario="metrics-restore"[^}]*outcome="passed"\} 1/);

    const bad = await runCli(['run', file, '--metrics-file', path.join(work, 'no-such-dir', 'x.prom')], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--metrics-file .*no-such-dir is not a directory; nothing was run/);
  });
});

if (REQUIRE_REAL) it('runs with DRILLBOOK_REQUIRE_REAL=1', () => expect(skip).toBe(false));
