/**
 * The extension-point contracts of issue 10: faults, probes, backup sources, undos, outputs
 * and backoff, each exercised for real (sockets, processes, directories) where it acts.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOutputs, type RunOutput } from '../../../reports/outputs.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { backoffDelay } from '../../../runners/backoff.js';
import { backupSourceFor } from '../../../runners/drivers/postgres/backup-sources/registry.js';
import { faultModule, faultModules, faultsOf } from '../../../runners/faults/registry.js';
import { checkDeclared } from '../../../runners/probes/registry.js';
import { defaultUndoRegistry } from '../../../runners/undo-handlers.js';
import { KUBERNETES_FAULT_PERMISSIONS } from '../../../infra/rbac.js';
import { Fault } from '../../../scenarios/schema.js';
import { RDS_FAULT_ACTIONS } from '../../../infra/iam.js';

const ROOT = path.join(import.meta.dirname, '../../..');
let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-contracts-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(file) : e.name.endsWith('.ts') ? [file] : [];
  });
}

describe('fault contract', () => {
  it('looks faults up by type and names the known ones for an unknown type', () => {
    expect(faultModule('pause-primary').driver).toBe('postgres');
    expect(() => faultModule('kill-everything')).toThrow(/unknown fault type kill-everything: known faults are command \(postgres\), kill-primary \(postgres\), .*network-partition \(kubernetes\)/);
    expect(new Set(faultModules.map((m) => m.type)).size).toBe(faultModules.length);
  });

  it('derives the runner permissions from the fault modules', () => {
    expect(Object.keys(KUBERNETES_FAULT_PERMISSIONS).sort()).toEqual(faultsOf('kubernetes').map((m) => m.type).sort());
    expect(RDS_FAULT_ACTIONS['rds-stop']).toContain('rds:StartDBInstance');
    expect(Object.keys(RDS_FAULT_ACTIONS).sort()).toEqual(faultsOf('rds').map((m) => m.type).sort());
  });

  it('spells each fault type only in its own module among runners/ and infra/ sources', () => {
    const files = [...sourceFiles(path.join(ROOT, 'runners')), ...sourceFiles(path.join(ROOT, 'infra'))];
    for (const { type } of faultModules.filter((m) => m.type !== 'command')) {
      const spelling = new RegExp(`['"\`]${type}['"\`]`);
      const where = files.filter((f) => spelling.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
      expect(where, type).toEqual([`runners/faults/${type}.ts`]);
    }
  });

  it('the scenario language lists every fault for an unknown type, each spelled once among scenarios/, reports/ and bin/', () => {
    const parsed = Fault.safeParse({ type: 'kill-everything' });
    const message = parsed.error?.issues[0]?.message ?? '';
    expect(message).toMatch(/^unknown fault type: use command, kill-primary, .* \(postgres\), .* \(rds\), .* or network-partition \(kubernetes\)$/);
    for (const { type } of faultModules) expect(message, type).toContain(type);
    const files = ['scenarios', 'reports', 'bin'].flatMap((dir) => sourceFiles(path.join(ROOT, dir)));
    for (const { type } of faultModules.filter((m) => m.type !== 'command')) {
      const spelling = new RegExp(`['"\`]${type}['"\`]`);
      const where = files.filter((f) => spelling.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
      expect(where, type).toHaveLength(1);
      expect(where[0], type).toMatch(/^scenarios\/schema(-\w+)?\.ts$/);
    }
  });
});

describe('probe contract', () => {
  const env = { timeoutMs: 1_000, baseDir: process.cwd(), addSecret: () => undefined };
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('checks http, tcp and command probes for real', async () => {
    const signal = () => AbortSignal.timeout(2_000);
    await expect(checkDeclared({ http: { url: `${url}/ok`, status: 200 } }, { ...env, signal: signal() })).resolves.toBeUndefined();
    await expect(checkDeclared({ http: { url: `${url}/down`, status: 200 } }, { ...env, signal: signal() })).rejects.toThrow('HTTP 503 (expected 200)');
    const { port } = server.address() as net.AddressInfo;
    await expect(checkDeclared({ tcp: { host: '127.0.0.1', port } }, { ...env, signal: signal() })).resolves.toBeUndefined();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(checkDeclared({ tcp: { host: '127.0.0.1', port: closedPort } }, { ...env, signal: signal() })).rejects.toThrow(/ECONNREFUSED/);
    await expect(checkDeclared({ command: 'exit 0' }, { ...env, signal: signal() })).resolves.toBeUndefined();
    await expect(checkDeclared({ command: 'exit 3' }, { ...env, signal: signal() })).rejects.toThrow('exited 3');
    await expect(checkDeclared({}, { ...env, signal: signal() })).rejects.toThrow(/no probe declared: set one of http, tcp, sql, command/);
  });
});

describe('backup-source contract', () => {
  it('refuses, before T0, a backup that is not there', () => {
    const { source, spec } = backupSourceFor({ baseBackupDir: path.join(work, 'missing'), walArchiveDir: work });
    expect(source.kind).toBe('directory');
    expect(source.plan(spec)).toBe(`${path.join(work, 'missing')} + WAL archive`);
    expect(() => source.preflight(spec, { user: undefined })).toThrow(/the base backup .*missing is not a directory: nothing was restored/);
    expect(backupSourceFor({ pgbackrest: { stanza: 'main' } }).source.kind).toBe('pgbackrest');
    expect(() => backupSourceFor({ nfs: { path: '/x' } })).toThrow(/matches no backup source: known sources are pgbackrest, basebackup, command, directory/);
  });
});

describe('undo params', () => {
  it('are checked before an undo runs, and a valid one acts', async () => {
    const registry = defaultUndoRegistry();
    const env = { signal: AbortSignal.timeout(5_000), log: () => undefined };
    await expect(registry.get('postgres.resume-server')({ pids: 'all' }, env)).rejects.toThrow(/undo postgres.resume-server: its journaled params do not fit: .*pids/);
    const dir = fs.mkdtempSync(path.join(work, 'remove-'));
    const outcome = await registry.get('fs.remove-dir')({ path: dir, what: 'scratch' }, env);
    expect(fs.existsSync(dir)).toBe(false);
    expect(outcome).toMatchObject({ deletion: { what: 'scratch', location: dir } });
  });
});

describe('outputs', () => {
  it('runs every output even when one fails, and reports the failure', async () => {
    const written: string[] = [];
    const outputs: RunOutput[] = [
      { name: 'broken', failure: 'broken output not written', write: async () => Promise.reject(new Error('disk full')) },
      { name: 'json', failure: 'json not written', write: async (record) => void written.push(record.runId) },
    ];
    const logs: string[] = [];
    const failures = await writeOutputs(outputs, { runId: 'r-1' } as RunRecord, { evidenceDir: work, runDir: work }, (m) => logs.push(m));
    expect(written).toEqual(['r-1']);
    expect(failures).toEqual([{ output: 'broken', error: 'Error: disk full' }]);
    expect(logs).toEqual(['broken output not written: Error: disk full']);
  });
});

describe('backoff', () => {
  it('grows by the factor, caps, and jitters within its spread', () => {
    const b = { initialMs: 500, maxMs: 20_000 };
    expect([0, 1, 2, 3, 6, 10].map((n) => backoffDelay(n, b))).toEqual([500, 1000, 2000, 4000, 20_000, 20_000]);
    expect(backoffDelay(1, { ...b, jitter: 0.25 }, () => 0)).toBe(750);
    expect(backoffDelay(1, { ...b, jitter: 0.25 }, () => 1)).toBe(1250);
  });
});
