/**
 * `drillbook schedule` as a user runs it: a directory with a valid drill, a second drill of
 * the same system due at the same time, and an invalid file. The valid drill really runs (a
 * sandbox PostgreSQL failover, one child), the collision is recorded as a skip, the invalid
 * file is reported with its located errors, and a webhook that fails twice still gets the
 * result. `--until` keeps the test short.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { writeScenario } from '../helpers/drill-files.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

const FAILOVER = {
  type: 'failover',
  target: { driver: 'postgres', sandbox: true },
  faults: [{ type: 'kill-primary' }],
  recovery: { action: 'promote' },
  probes: { heartbeat: { interval: '100ms', warmup: '1s' } },
};

let work: string;
beforeAll(() => {
  work = sharedTempDir('drillbook-schedule-cli-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('drillbook schedule', () => {
  it('runs the valid drills, records the collision, reports the invalid file with located errors, and notifies the webhook', async () => {
    const drills = path.join(work, 'drills');
    // a-failover is due once, three seconds after start; b-second the three seconds after that,
    // all while a-failover's drill (a sandbox takes longer than that to build) holds the system
    // (overlap: skip), so b-second is skipped and never runs, however fast the machine is.
    const second = (offset: number) => (new Date().getUTCSeconds() + offset) % 60;
    // a-failover's check cannot pass, so the drill exits 1 and `schedule --until` must too.
    writeScenario(drills, 'a-failover', { ...FAILOVER, schedule: { cron: `${second(3)} * * * * *` }, checks: [{ type: 'sql', name: 'a check that cannot pass', query: 'SELECT 1', expect: 2 }] });
    writeScenario(drills, 'b-second', { ...FAILOVER, schedule: { cron: `${[4, 5, 6].map(second).join(',')} * * * * *`, overlap: 'skip' } });
    writeScenario(drills, 'c-bad', { ...FAILOVER, schedule: { cron: '0 3 * * *', timezone: 'Europe/Berln' }, tragets: { rto: '5s' } });

    const received: { status: number; body: Record<string, any> }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = received.length < 2 ? 503 : 200; // fails twice, then accepts
        received.push({ status, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/drill-results`;

    const evidence = path.join(work, 'evidence');
    const until = new Date(Date.now() + 8000).toISOString();
    try {
      const cli = startCli(['schedule', drills, '--evidence', evidence, '--until', until, '--webhook', url, '--notify-backoff', '100ms'], { cwd: work });
      const result = await cli.done;
      // --until ends with the worst exit code of the drills it ran (the failed check: 1).
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stdout).toMatch(/ stopped; worst drill exit code 1/);

      // The invalid file: reported with every located error, not run.
      expect(result.stderr).toMatch(/drills\/c-bad\.yaml: invalid, not scheduled:/);
      expect(result.stderr).toMatch(/c-bad\.yaml:\d+:\d+: spec\.schedule\.timezone: unknown time zone `Europe\/Berln`\n {2}hint: did you mean `Europe\/Berlin`\?/);
      expect(result.stderr).toMatch(/c-bad\.yaml:\d+:\d+: spec\.tragets: unknown key `tragets`/);
      expect(fs.readdirSync(evidence).some((d) => d.includes('-c-bad-'))).toBe(false);
      expect(result.stdout).toMatch(/loaded .*drills: 2 scheduled, 1 invalid/);

      // The valid drill ran once, as a real child, with its own evidence.
      expect(result.stdout.match(/ START /g)).toHaveLength(1);
      expect(result.stdout).toMatch(/ START a-failover \(orders-db\)/);
      const runDirs = fs.readdirSync(evidence).filter((d) => d.includes('-a-failover-') && fs.existsSync(path.join(evidence, d, 'run.json')));
      expect(runDirs).toHaveLength(1);
      const runDir = path.join(evidence, runDirs[0]!);
      const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
      expect(result.stdout).toContain(`DONE a-failover: ${record.outcome.toUpperCase()}`);
      expect(fs.readdirSync(evidence).some((d) => d.includes('-b-second-'))).toBe(false);

      // The same-system collision is recorded with its reason.
      const state = JSON.parse(fs.readFileSync(path.join(evidence, 'schedule-state.json'), 'utf8'));
      const ran = state.history.filter((h: any) => h.status === 'ran');
      expect(ran).toHaveLength(1);
      expect(ran[0]).toMatchObject({ scenario: 'a-failover', runId: record.runId, runDir, outcome: 'failed', exitCode: 1 });
      const skippedSecond = state.history.filter((h: any) => h.scenario === 'b-second' && h.status === 'skipped');
      expect(skippedSecond.length).toBeGreaterThan(0);
      expect(skippedSecond[0].reason).toContain('system orders-db is busy with a-failover');
      expect(state.scheduler.stoppedAt).not.toBeNull();

      // The webhook refused twice, then got exactly one message for the one drill.
      expect(received.map((r) => r.status)).toEqual([503, 503, 200]);
      const message = received[2]!.body;
      expect(received[0]!.body).toEqual(message);
      expect(message).toMatchObject({
        event: 'drill.finished',
        scenario: { name: 'a-failover' },
        system: { name: 'orders-db', tier: 1 },
        type: 'failover',
        environment: 'test',
        outcome: record.outcome,
        runId: record.runId,
        rto: { measuredSeconds: record.measured.rto.seconds, targetSeconds: 30, verdict: record.verdict.rto },
        rpo: { measuredSeconds: record.measured.rpo.seconds, targetSeconds: 5, verdict: record.verdict.rpo, lostWrites: record.measured.rpo.lostWrites },
        evidence: { runDir, report: path.join(runDir, 'report.html') },
      });
      expect(result.stdout).toContain('(after 3 attempts)');

      // `schedule status` shows the last run and the invalid file.
      const status = await runCli(['schedule', 'status', '--evidence', evidence], { cwd: work });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/Scheduler: stopped at /);
      expect(status.stdout).toMatch(new RegExp(`a-failover \\(system orders-db, a-failover\\.yaml\\)\\n.*\\n  next: .*\\n  last run: due .*, ${record.outcome.toUpperCase()} \\(exit \\d\\)`));
      expect(status.stdout).toMatch(/Invalid files \(not scheduled\):\n {2}.*c-bad\.yaml/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('on SIGTERM, the running drill gets SIGTERM, rolls back (exit 3), and the scheduler waits for it', async () => {
    const drills = path.join(work, 'sigterm-drills');
    writeScenario(drills, 'interrupted', { ...FAILOVER, schedule: { cron: '* * * * * *' } });
    const evidence = path.join(work, 'sigterm-evidence');
    const cli = startCli(['schedule', drills, '--evidence', evidence], { cwd: work });
    await cli.waitFor('[interrupted] ', 30_000);
    await cli.waitFor('sandbox primary started', 30_000);
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toContain('SIGTERM: stopping; running drills get SIGTERM and roll back');
    // The child saw exactly one signal (no terminal SIGINT on top), so it rolled back instead of leaving with 130.
    expect(result.stderr).toContain('[interrupted] SIGTERM: aborting the drill and rolling back');
    expect(result.stderr).not.toContain('again: exiting now');
    expect(result.stdout).toMatch(/DONE interrupted: ABORTED \(exit 3\)/);
    const state = JSON.parse(fs.readFileSync(path.join(evidence, 'schedule-state.json'), 'utf8'));
    const ran = state.history.find((h: any) => h.status === 'ran');
    expect(ran).toMatchObject({ scenario: 'interrupted', exitCode: 3, outcome: 'aborted' });
    const record = JSON.parse(fs.readFileSync(path.join(ran.runDir, 'run.json'), 'utf8'));
    expect(record.teardown.complete).toBe(true);
    expect(record.teardown.undos.every((u: { status: string }) => u.status === 'done')).toBe(true);
    expect(result.stdout.indexOf('DONE interrupted')).toBeLessThan(result.stdout.indexOf(' stopped'));
  });

  it('refuses bad input with exit 2 and writes nothing', async () => {
    const evidence = path.join(work, 'untouched');
    const missing = await runCli(['schedule', path.join(work, 'no-such-dir'), '--evidence', evidence]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-dir: not a directory of scenarios');
    const bad = await runCli(['schedule', work, '--evidence', evidence, '--until', 'tomorrow', '--slack', 'https://hooks.slack.com/services/T/B/X', '--notify-attempts', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--until "tomorrow": not an ISO 8601 time');
    expect(bad.stderr).toContain('--slack takes env:NAME or file:PATH: a Slack webhook URL is a secret');
    expect(bad.stderr).toContain('--notify-attempts 0: use a whole number from 1 to 20');
    expect(bad.stderr).not.toContain('hooks.slack.com');
    expect(fs.existsSync(evidence)).toBe(false);
    const status = await runCli(['schedule', 'status', '--evidence', evidence]);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('no schedule state yet');
  });
});
