/**
 * Notifications against real local HTTP receivers (the protocol matters: status codes,
 * bodies, retries). The drills are simulated on a ManualClock; their run records are
 * realistic RunRecords with known RTO/RPO figures the messages must carry.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postWithRetry, webhookTarget, WebhookNotifier } from '../../../runners/notify/webhook.js';
import { ManualClock } from '../../../runners/scheduler/clock.js';
import { drillFacts } from '../../../runners/scheduler/facts.js';
import { Scheduler, type DrillResult, type DrillSpawner } from '../../../runners/scheduler/scheduler.js';
import { MemoryStateStore } from '../../../runners/scheduler/state.js';
import { makeRunRecord } from '../../helpers/run-record-fixture.js';
import { MINUTE, scheduled } from '../../unit/runners/scheduler-fakes.js';

interface Receiver {
  url: string;
  requests: { status: number; body: unknown; contentType: string | undefined }[];
  close(): Promise<void>;
}

/** A webhook receiver answering with the given statuses in turn (the last one repeats). */
async function receiver(statuses: number[]): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[Math.min(requests.length, statuses.length - 1)]!;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      requests.push({ status, body, contentType: req.headers['content-type'] });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/drills`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** Drills that finish after 10 simulated minutes with a run record whose figures depend on the scenario. */
function drillsWithRecords(clock: ManualClock): DrillSpawner {
  let n = 0;
  return (job) => {
    n++;
    const runId = `run-${n}-${job.scenario}`;
    const missed = job.scenario === 'orders-restore';
    const record = makeRunRecord({
      runId,
      outcome: missed ? 'failed' : 'passed',
      scenario: { name: job.scenario },
      system: { name: job.system, tier: 1 },
      environment: 'staging',
      type: missed ? 'parallel-restore' : 'failover',
      targets: { rtoSeconds: 30, rpoSeconds: 5 },
      measured: {
        rto: { seconds: missed ? 41.5 : 12.34, errorSeconds: 0.26 },
        rpo: { seconds: 0.4, errorSeconds: 0.1, lostWrites: 3 },
      },
      verdict: { rto: missed ? 'missed' : 'met', rpo: 'met', rtoMarginSeconds: missed ? -11.5 : 17.66, rpoMarginSeconds: 4.6 },
    });
    let finish!: (r: DrillResult) => void;
    const done = new Promise<DrillResult>((resolve) => (finish = resolve));
    clock.setTimer(10 * MINUTE, () => finish({ exitCode: missed ? 1 : 0, signal: null, runDir: `/srv/evidence/${job.scenario}/${runId}`, record }));
    return { done, terminate: () => undefined };
  };
}

describe('webhook notifications', () => {
  it('a receiver gets one JSON message per drill with outcome, RTO/RPO vs targets and the evidence, even after failing twice', async () => {
    const flaky = await receiver([503, 502, 200]);
    receivers.push(flaky);
    const sleeps: number[] = [];
    const logs: string[] = [];
    const notifier = new WebhookNotifier([webhookTarget('json', flaky.url)], {
      attempts: 5,
      backoffMs: 1000,
      sleep: async (ms) => void sleeps.push(ms),
      log: (line) => logs.push(line),
    });
    const clock = new ManualClock(Date.parse('2026-06-01T05:59:00Z'));
    const scheduler = new Scheduler({
      clock,
      loader: async () => ({
        scenarios: [
          scheduled('orders-failover', 'orders-db', { cron: '0 6,18 * * *' }),
          scheduled('orders-restore', 'orders-db', { cron: '30 6 * * *' }),
        ],
        invalid: [],
        unscheduled: [],
      }),
      spawner: drillsWithRecords(clock),
      state: new MemoryStateStore(),
      maxSleepMs: Infinity,
      notify: async (drill) => void (await notifier.notify(drillFacts(drill, 'scheduler-host'))),
    });
    await scheduler.start();
    await clock.advanceTo(Date.parse('2026-06-01T19:00:00Z'), () => scheduler.idle());

    // Three drills: 06:00 and 18:00 failovers, the 06:30 restore. The first message was refused twice.
    expect(flaky.requests.map((r) => r.status)).toEqual([503, 502, 200, 200, 200]);
    expect(sleeps).toEqual([1000, 2000]);
    const delivered = flaky.requests.filter((r) => r.status === 200).map((r) => r.body as Record<string, any>);
    expect(delivered.map((m) => m.runId)).toEqual(['run-1-orders-failover', 'run-2-orders-restore', 'run-3-orders-failover']);
    expect(flaky.requests.every((r) => r.contentType === 'application/json')).toBe(true);

    const [first, restore] = delivered;
    expect(first).toMatchObject({
      schema: 'drillbook.dev/notification/v1',
      event: 'drill.finished',
      scenario: { name: 'orders-failover', file: '/drills/orders-failover.yaml' },
      system: { name: 'orders-db', tier: 1 },
      type: 'failover',
      environment: 'staging',
      outcome: 'passed',
      exitCode: 0,
      rto: { measuredSeconds: 12.34, errorSeconds: 0.26, targetSeconds: 30, verdict: 'met', marginSeconds: 17.66 },
      rpo: { measuredSeconds: 0.4, errorSeconds: 0.1, targetSeconds: 5, verdict: 'met', lostWrites: 3 },
      evidence: { runDir: '/srv/evidence/orders-failover/run-1-orders-failover', report: '/srv/evidence/orders-failover/run-1-orders-failover/report.html', host: expect.any(String) },
      scheduledFor: '2026-06-01T06:00:00.000Z',
      caughtUp: false,
    });
    expect(first!.startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    // The restore (06:30, after the failover ended at 06:10) missed its RTO target: the message says so.
    expect(restore).toMatchObject({ outcome: 'failed', exitCode: 1, rto: { measuredSeconds: 41.5, verdict: 'missed', marginSeconds: -11.5 } });
    expect(restore!.summary).toContain('RTO 41.5 s ± 0.26 s vs target 30 s: missed');
    expect(logs[0]).toBe(`notified ${new URL(flaky.url).origin} (after 3 attempts)`);
  });

  it('formats Slack incoming-webhook messages with text and blocks', async () => {
    const slack = await receiver([200]);
    receivers.push(slack);
    process.env.DRILLBOOK_TEST_SLACK_URL = slack.url;
    const target = webhookTarget('slack', 'env:DRILLBOOK_TEST_SLACK_URL');
    expect(target.label).toBe('env:DRILLBOOK_TEST_SLACK_URL');
    const record = makeRunRecord({ scenario: { name: 'orders-failover' }, environment: 'staging' });
    const results = await new WebhookNotifier([target]).notify({
      scenario: { name: 'orders-failover', file: '/drills/orders-failover.yaml' },
      system: { name: 'orders-db', tier: 1 },
      type: 'failover',
      environment: 'staging',
      exitCode: 0,
      signal: null,
      scheduledFor: '2026-06-01T06:00:00.000Z',
      caughtUp: false,
      runDir: '/srv/evidence/orders-failover/run-1',
      record,
      error: null,
      host: 'h',
    });
    expect(results).toEqual([{ target: 'env:DRILLBOOK_TEST_SLACK_URL', ok: true, attempts: 1, status: 200 }]);
    const body = slack.requests[0]!.body as { text: string; blocks: Array<Record<string, any>> };
    expect(body.text).toMatch(/^:white_check_mark: PASSED orders-failover \(failover of .+, staging\): RTO 12\.34 s/);
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'PASSED: orders-failover', emoji: true } });
    const fields = (body.blocks[1]!.fields as { text: string }[]).map((f) => f.text);
    expect(fields).toContain('*Environment*\nSTAGING');
    expect(fields.find((f) => f.startsWith('*RTO*'))).toMatch(/12\.34 s ± 0\.26 s vs target \d+ s: met/);
    expect(JSON.stringify(body.blocks)).toContain('/srv/evidence/orders-failover/run-1/report.html');
    delete process.env.DRILLBOOK_TEST_SLACK_URL;
  });

  it('gives up after the last attempt with a logged error, and does not retry a 4xx', async () => {
    const down = await receiver([500]);
    const gone = await receiver([404]);
    receivers.push(down, gone);
    const sleeps: number[] = [];
    const options = { attempts: 4, backoffMs: 250, sleep: async (ms: number) => void sleeps.push(ms) };
    const failed = await postWithRetry(webhookTarget('json', down.url), { hello: 1 }, options);
    expect(failed).toMatchObject({ ok: false, attempts: 4, status: 500, error: 'HTTP 500' });
    expect(down.requests).toHaveLength(4);
    expect(sleeps).toEqual([250, 500, 1000]);
    const notFound = await postWithRetry(webhookTarget('json', gone.url), { hello: 1 }, options);
    expect(notFound).toMatchObject({ ok: false, attempts: 1, status: 404 });
    expect(gone.requests).toHaveLength(1);

    const logs: string[] = [];
    await new WebhookNotifier([webhookTarget('json', down.url)], { ...options, attempts: 2, log: (l) => logs.push(l) }).notify({
      scenario: { name: 'x', file: '/x.yaml' }, system: { name: 's', tier: null }, type: 'failover', environment: 'sandbox',
      exitCode: 2, signal: null, scheduledFor: null, caughtUp: false, runDir: null, record: null, error: 'refused', host: 'h',
    });
    expect(logs).toEqual([`ERROR: could not notify ${new URL(down.url).origin} about x after 2 attempts: HTTP 500`]);
    // A receiver nobody listens on: a connection error, retried, then given up.
    await down.close();
    receivers.splice(receivers.indexOf(down), 1);
    const refused = await postWithRetry(webhookTarget('json', down.url), {}, { ...options, attempts: 2 });
    expect(refused).toMatchObject({ ok: false, attempts: 2, error: 'could not connect' });
  });

  it('takes secret URLs by reference only, and never shows them', () => {
    expect(() => webhookTarget('slack', 'https://hooks.slack.com/services/T000/B000/XXXX')).toThrow(/Slack webhook URL is a secret/);
    expect(() => webhookTarget('json', 'https://example.test/hook?token=abc')).toThrow(/carries credentials/);
    expect(() => webhookTarget('json', 'env:DRILLBOOK_TEST_UNSET_HOOK')).toThrow('--webhook: secret env:DRILLBOOK_TEST_UNSET_HOOK is not set');
    expect(() => webhookTarget('json', 'ftp://example.test/')).toThrow(/not an http\(s\) URL/);
    process.env.DRILLBOOK_TEST_HOOK = 'https://example.test/hook?token=secret-value';
    const target = webhookTarget('json', 'env:DRILLBOOK_TEST_HOOK');
    expect(target).toEqual({ format: 'json', url: 'https://example.test/hook?token=secret-value', label: 'env:DRILLBOOK_TEST_HOOK' });
    delete process.env.DRILLBOOK_TEST_HOOK;
  });
});
