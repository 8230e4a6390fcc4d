/**
 * Walkthroughs, answers files checked against their scenario, abort conditions, and the
 * remediation loop closed by a later run whose re-rendered report shows the verification.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceBundle, runDirName } from '../../reports/evidence.js';
import { recordRunItems } from '../../reports/remediation.js';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli, startCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';
import { makeRunRecord } from '../helpers/run-record-fixture.js';

const PLAN = path.join(REPO_ROOT, 'test/fixtures/exercises/plan.yaml');
const TABLETOP = path.join(REPO_ROOT, 'test/fixtures/exercises/outage-tabletop.yaml');

let tmp: string;
beforeAll(() => {
  tmp = sharedTempDir('exercises-cli');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeYaml(name: string, doc: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

function walkthrough(name: string, steps: unknown[], extra: Record<string, unknown> = {}): string {
  return writeYaml(`${name}.yaml`, {
    apiVersion: 'drillbook.dev/v1',
    kind: 'Scenario',
    metadata: { name, system: 'payments-db', environment: 'walkthrough' },
    spec: { type: 'simulation', plan: PLAN, participants: [{ name: 'Ann', role: 'sre' }, { name: 'Bob', role: 'dba' }], steps, ...extra },
  });
}

const runJson = (evidence: string): { dir: string; record: RunRecord } => {
  const dir = fs.readdirSync(evidence).map((d) => path.join(evidence, d)).find((d) => fs.existsSync(path.join(d, 'run.json')))!;
  return { dir, record: JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord };
};

describe('walkthrough (simulation)', () => {
  it('runs commands and confirmed manual steps, stops at a failed step, undoes, and reports an estimate, not an RTO', async () => {
    const marker = path.join(tmp, 'freeze-marker');
    const file = walkthrough('region-walkthrough', [
      { id: 'freeze', title: 'Freeze deploys', owner: 'sre', expected: '1m', command: `echo frozen > ${marker} && echo freeze-output`, undo: `rm -f ${marker}` },
      { id: 'promote', title: 'Promote the replica', owner: 'dba', expected: '5m', manual: 'Promote it in the console' },
      { id: 'dns', title: 'Switch DNS', owner: 'sre', expected: '2m', command: `test -f ${marker} && echo dns-broken >&2 && exit 3` },
      { id: 'smoke', title: 'Smoke test', owner: 'sre', expected: '1m', command: 'echo never' },
    ]);
    const answers = writeYaml('region-walkthrough.answers.yaml', {
      apiVersion: 'drillbook.dev/v1',
      kind: 'ExerciseAnswers',
      metadata: { name: 'rw' },
      spec: { scenario: file, facilitator: 'Ann', attendance: { Ann: true, Bob: false }, steps: { promote: { status: 'done', took: '7m', note: 'console was slow' } } },
    });
    const evidence = path.join(tmp, 'ev-walkthrough');
    const result = await runCli(['run', file, '--answers', answers, '--evidence', evidence]);
    expect(result.code, result.stderr + result.stdout).toBe(1);
    const { dir, record } = runJson(evidence);
    const steps = record.walkthrough!.steps;
    expect(steps.map((s) => [s.id, s.status])).toEqual([['freeze', 'done'], ['promote', 'done'], ['dns', 'failed'], ['smoke', 'not-reached']]);
    expect(steps[1]).toMatchObject({ elapsedSeconds: 420, note: 'console was slow', kind: 'manual' });
    expect(steps[2]!.exitCode).toBe(3);
    expect(fs.readFileSync(path.join(dir, steps[0]!.output!), 'utf8')).toContain('freeze-output');
    expect(fs.readFileSync(path.join(dir, steps[2]!.output!), 'utf8')).toContain('dns-broken');
    expect(fs.existsSync(marker)).toBe(false); // the undo of the first step ran
    expect(record.teardown.undos.map((u) => u.status)).toEqual(['done']);
    expect(record.measured.rto).toBeNull();
    expect(record.verdict.rto).toBe('not-measured');
    expect(record.walkthrough!.estimate.label).toMatch(/estimate from a walkthrough/);
    expect(record.walkthrough!.estimate.label).toMatch(/not a measured RTO/);
    expect(record.participants.find((p) => p.name === 'Bob')!.present).toBe(false);
    expect(record.findings.map((f) => f.title)).toContain('Runbook step failed: Switch DNS');
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Runbook steps: elapsed vs expected');
    expect(html).toContain('estimate from a walkthrough');
  });

  it('a command-only walkthrough needs no terminal; one with manual steps refuses without one', async () => {
    const commandsOnly = walkthrough('commands-only', [{ id: 'one', title: 'One', owner: 'sre', expected: '1m', command: 'true' }]);
    const ok = await runCli(['run', commandsOnly, '--evidence', path.join(tmp, 'ev-commands')]);
    expect(ok.code, ok.stderr).toBe(0);
    const manual = walkthrough('manual-only', [{ id: 'one', title: 'One', owner: 'sre', expected: '1m', manual: 'do it' }]);
    const refused = await runCli(['run', manual, '--evidence', path.join(tmp, 'ev-manual')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--answers');
    expect(fs.existsSync(path.join(tmp, 'ev-manual'))).toBe(false);
  });
});

describe('answers files are checked against their scenario', () => {
  it('unknown injects and items, missing answers and bad ratings are located errors, exit 2, nothing run', async () => {
    const file = path.join(tmp, 'bad.answers.yaml');
    fs.writeFileSync(
      file,
      [
        'apiVersion: drillbook.dev/v1',
        'kind: ExerciseAnswers',
        'metadata: { name: bad }',
        'spec:',
        `  scenario: ${TABLETOP}`,
        '  facilitator: Fay',
        '  attendance: { Ann: true, Bob: true }',
        '  injects:',
        '    alarm:',
        '      items:',
        '        page: { status: done }',
        '        pagee: { status: done }',
        '    alrm:',
        '      items: {}',
        '    dba-gone:',
        '      items:',
        '        restore: { status: missed }',
        '  ratings:',
        '    detect: { rating: X }',
        '',
      ].join('\n'),
    );
    const evidence = path.join(tmp, 'ev-bad-answers');
    const result = await runCli(['run', TABLETOP, '--answers', file, '--evidence', evidence]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split('\n');
    const at = (fragment: string) => lines.find((l) => l.includes(fragment));
    expect(at('spec.ratings.detect.rating')).toMatch(/bad\.answers\.yaml:19:\d+: .*`X` is not one of the allowed values/);
    expect(result.stderr).toContain('one of `P`, `S`, `M` or `U`');
    expect(result.stderr).not.toContain('    at ');
    // The schema problem stops the file before the cross-checks; fix it and the rest appear.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('rating: X', 'rating: P'));
    const second = await runCli(['run', TABLETOP, '--answers', file, '--evidence', evidence]);
    expect(second.code).toBe(2);
    const located = second.stderr.split('\n');
    const line = (fragment: string) => located.find((l) => l.includes(fragment)) ?? '';
    expect(line('spec.injects.alarm.items.pagee')).toMatch(/:12:\d+: .*inject `alarm` has no checklist item `pagee`/);
    expect(second.stderr).toContain('did you mean `page`?');
    expect(line('spec.injects.alrm')).toMatch(/:13:\d+: .*unknown inject `alrm`/);
    expect(second.stderr).toContain('did you mean `alarm`?');
    expect(second.stderr).toMatch(/missing answer for checklist item `status`/);
    expect(second.stderr).toMatch(/role `dba` is unavailable since inject `dba-gone`: say who covered this item/);
    expect(second.stderr).toMatch(/missing rating for objective `recover`/);
    expect(second.stderr).toMatch(/missing attendance for participant `Cy`/);
    expect(fs.existsSync(evidence)).toBe(false);
    // `validate` checks an answers file the same way, on its own.
    const validate = await runCli(['validate', file]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain('unknown inject `alrm`');
  });
});

describe('guardrails.abortIf', () => {
  it('a failing health check aborts the drill within its interval and rolls back (exit 3)', async () => {
    const server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const marker = path.join(tmp, 'abort-marker');
    const file = walkthrough(
      'guarded-walkthrough',
      [
        { id: 'change', title: 'Make a change', owner: 'sre', expected: '1m', command: `touch ${marker}`, undo: `rm -f ${marker}` },
        { id: 'wait', title: 'Long step', owner: 'sre', expected: '1m', command: 'sleep 30', timeout: '1m' },
      ],
      { probes: { interval: '100ms' }, guardrails: { abortIf: [{ name: 'checkout-api', tcp: { host: '127.0.0.1', port }, failures: 2, timeout: '500ms' }] } },
    );
    const evidence = path.join(tmp, 'ev-guarded');
    const cli = startCli(['run', file, '--evidence', evidence]);
    await cli.waitFor('Long step');
    expect(fs.existsSync(marker)).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await cli.done;
    expect(result.code, result.stderr + result.stdout).toBe(3);
    expect(fs.existsSync(marker)).toBe(false);
    const { record } = runJson(evidence);
    expect(record.outcome).toBe('aborted');
    expect(record.abort!.reason).toMatch(/abort condition checkout-api tripped after 2 consecutive failures/);
    const trippedAt = Date.parse(record.abort!.at);
    const firstFailure = record.timeline.find((e) => e.event.startsWith('abort condition checkout-api failed (1/2)'))!;
    expect(firstFailure).toBeDefined();
    // Tripped on the second consecutive failure: one interval (plus a check) after the first.
    expect(trippedAt - Date.parse(firstFailure.at)).toBeLessThan(5_000);
  });
});

describe('closing an item with a later run', () => {
  it('the later run re-rendered shows the earlier item as verified by it', async () => {
    const evidence = path.join(tmp, 'ev-verify');
    const first = makeRunRecord({ runId: 'aaaaaaaa-1111-4111-8111-111111111111', startedAt: '2026-11-01T10:00:00.000Z', endedAt: '2026-11-01T10:05:00.000Z' });
    first.verdict = { ...first.verdict, rto: 'missed', rtoMarginSeconds: -5 };
    first.findings = [{ id: 'F-1', kind: 'missed-target', severity: 'P1', title: 'RTO target missed', detail: 'too slow', verifiable: { target: 'rto' } }];
    first.remediation = [{ id: 'REM-aaaaaaaa-1', findingId: 'F-1', title: 'RTO target missed', correctiveAction: 'tune', severity: 'P1', owner: 'dba', due: '2026-11-08', status: 'open', verifiable: { target: 'rto' } }];
    const later = makeRunRecord({ runId: 'bbbbbbbb-2222-4222-8222-222222222222', startedAt: '2026-11-20T10:00:00.000Z', endedAt: '2026-11-20T10:05:00.000Z' });
    for (const record of [first, later]) {
      const bundle = await EvidenceBundle.create(evidence, runDirName(new Date(record.startedAt), record.scenario.name, record.runId));
      await bundle.finalize(record);
      await recordRunItems(evidence, record);
    }
    const refused = await runCli(['remediation', 'close', 'REM-aaaaaaaa-1', '--note', 'fixed', '--evidence', evidence]);
    expect(refused.code).toBe(2);
    const closed = await runCli(['remediation', 'close', 'REM-aaaaaaaa-1', '--note', 'tuned wal', '--verified-by', 'bbbbbbbb', '--evidence', evidence]);
    expect(closed.code, closed.stderr).toBe(0);
    const laterDir = fs.readdirSync(evidence).find((d) => d.endsWith('bbbbbbbb'))!;
    const report = await runCli(['report', path.join(evidence, laterDir), '--format', 'html']);
    expect(report.code, report.stderr).toBe(0);
    const html = fs.readFileSync(path.join(evidence, laterDir, 'exports', 'report.html'), 'utf8');
    expect(html).toContain('REM-aaaaaaaa-1');
    expect(html).toContain('verified by run bbbbbbbb');
  });
});
