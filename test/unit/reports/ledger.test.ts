import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendLedger, EvidenceBundle, EvidenceError, verifyLedger, type LedgerEntry } from '../../../reports/evidence.js';
import { packageRoot } from '../../../reports/paths.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let evidenceDir: string;

beforeEach(async () => {
  evidenceDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-ledger-'));
});

afterEach(async () => {
  await rm(evidenceDir, { recursive: true, force: true });
});

async function finalizeRun(index: number): Promise<string> {
  const record = makeRunRecord({ runId: `run-${index}-${'0'.repeat(8)}` });
  const bundle = await EvidenceBundle.create(evidenceDir, `run-${index}`);
  for (const probe of makeProbes().slice(0, 5)) await bundle.appendProbe(probe);
  return (await bundle.finalize(record)).manifestSha256;
}

async function ledgerLines(): Promise<string[]> {
  return (await readFile(path.join(evidenceDir, 'ledger.jsonl'), 'utf8')).split('\n').filter((line) => line !== '');
}

function expectValidChain(lines: string[]): void {
  let prev = '0'.repeat(64);
  lines.forEach((line, index) => {
    const entry = JSON.parse(line) as LedgerEntry;
    expect(entry.seq).toBe(index + 1);
    expect(entry.prev).toBe(prev);
    prev = sha256(line);
  });
}

describe('ledger', () => {
  it('chains three runs, each line holding the hash of the one before', async () => {
    const manifests = [await finalizeRun(1), await finalizeRun(2), await finalizeRun(3)];
    const lines = await ledgerLines();
    expect(lines).toHaveLength(3);
    expectValidChain(lines);
    expect(lines.map((line) => (JSON.parse(line) as LedgerEntry).manifestSha256)).toEqual(manifests);
    expect(await verifyLedger(evidenceDir)).toMatchObject({ ok: true, entries: 3, problems: [] });
  });

  it('names the line that was edited', async () => {
    for (const i of [1, 2, 3]) await finalizeRun(i);
    const lines = await ledgerLines();
    lines[1] = lines[1]!.replace('"run-2"', '"run-2-renamed"');
    await writeFile(path.join(evidenceDir, 'ledger.jsonl'), `${lines.join('\n')}\n`);
    const result = await verifyLedger(evidenceDir);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.line)).toContain(2);
    expect(result.problems.find((p) => p.line === 2)?.message).toMatch(/line 2 was changed/);
  });

  it('names a deleted line and a manifest that no longer matches', async () => {
    for (const i of [1, 2, 3]) await finalizeRun(i);
    const lines = await ledgerLines();
    await writeFile(path.join(evidenceDir, 'ledger.jsonl'), `${[lines[0], lines[2]].join('\n')}\n`);
    await writeFile(path.join(evidenceDir, 'run-1', 'manifest.json'), '{}\n');
    const result = await verifyLedger(evidenceDir);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 1, message: expect.stringMatching(/manifest.json does not match/) }),
        expect.objectContaining({ line: 1, message: expect.stringMatching(/line 1 was changed, or lines after it were removed or reordered/) }),
        expect.objectContaining({ line: 2, message: expect.stringMatching(/seq is 3, expected 2/) }),
      ]),
    );
  });

  it('keeps a valid chain when many runs finish at once in one process', async () => {
    const manifests = await Promise.all(Array.from({ length: 12 }, (_, i) => finalizeRun(i)));
    const lines = await ledgerLines();
    expect(lines).toHaveLength(12);
    expectValidChain(lines);
    expect(new Set(lines.map((line) => (JSON.parse(line) as LedgerEntry).manifestSha256))).toEqual(new Set(manifests));
    expect((await verifyLedger(evidenceDir)).ok).toBe(true);
    expect(await readdir(evidenceDir)).not.toContain('ledger.lock');
  });

  it('keeps a valid chain when two processes append at the same time', async () => {
    const runtimeDir = await compileEvidenceModulesForNode();
    try {
      const childScript = path.join(runtimeDir, 'append-many.mjs');
      await writeFile(
        childScript,
        `import { appendLedger } from './reports/evidence/ledger.js';
const [evidenceDir, name, count] = process.argv.slice(2);
await Promise.all(Array.from({ length: Number(count) }, (_, i) =>
  appendLedger(evidenceDir, { runId: name + '-' + i, dir: name + '-' + i, manifestSha256: 'f'.repeat(64) })));
`,
      );
      const runChild = (name: string) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [childScript, evidenceDir, name, '25'], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.on('error', reject);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${name} exited ${code}: ${stderr}`))));
        });
      const inProcess = Array.from({ length: 10 }, (_, i) =>
        appendLedger(evidenceDir, { runId: `parent-${i}`, dir: `parent-${i}`, manifestSha256: 'e'.repeat(64) }),
      );
      await Promise.all([runChild('alpha'), runChild('beta'), ...inProcess]);

      const lines = await ledgerLines();
      expect(lines).toHaveLength(60);
      expectValidChain(lines);
      expect(await verifyLedger(evidenceDir, { checkManifests: false })).toMatchObject({ ok: true, entries: 60 });
    } finally {
      await rm(runtimeDir, { recursive: true, force: true });
    }
  });

  it('takes over a lock left by a process that died', async () => {
    // A real writer holds the lock and is killed with SIGKILL: nothing of it can run to release it.
    const runtimeDir = await compileEvidenceModulesForNode();
    try {
      const childScript = path.join(runtimeDir, 'hold-lock.mjs');
      await writeFile(
        childScript,
        `import { acquireLock } from './reports/evidence/lock.js';
await acquireLock(process.argv[2], {});
process.stdout.write('locked\\n');
setInterval(() => undefined, 1_000);
`,
      );
      const child = spawn(process.execPath, [childScript, path.join(evidenceDir, 'ledger.lock')], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        child.on('exit', (code) => reject(new Error(`the lock holder exited ${code} before locking`)));
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(await readdir(evidenceDir)).toContain('ledger.lock');
      const started = Date.now();
      const entry = await appendLedger(evidenceDir, { runId: 'r', dir: 'r', manifestSha256: 'a'.repeat(64) }, { lockTimeoutMs: 10_000 });
      expect(entry.seq).toBe(1);
      // Abandoned once its holder has not refreshed it for the stale time (5 s): not the whole timeout.
      expect(Date.now() - started).toBeLessThan(7_000);
      expect(await readdir(evidenceDir)).not.toContain('ledger.lock');
    } finally {
      await rm(runtimeDir, { recursive: true, force: true });
    }
  });

  it('takes over a lock file an older drillbook left behind', async () => {
    const deadPid = await pidOfExitedProcess();
    const legacy = path.join(evidenceDir, 'ledger.lock');
    await writeFile(legacy, JSON.stringify({ pid: deadPid, host: os.hostname(), token: 'dead', at: new Date().toISOString() }));
    const old = new Date(Date.now() - 60_000);
    await utimes(legacy, old, old);
    const entry = await appendLedger(evidenceDir, { runId: 'r', dir: 'r', manifestSha256: 'a'.repeat(64) }, { lockTimeoutMs: 2_000 });
    expect(entry.seq).toBe(1);
    expect(await readdir(evidenceDir)).not.toContain('ledger.lock');
  });

  it('waits for a live lock holder and gives up with a clear error', async () => {
    await writeFile(
      path.join(evidenceDir, 'ledger.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'other', at: new Date().toISOString() }),
    );
    await expect(
      appendLedger(evidenceDir, { runId: 'r', dir: 'r', manifestSha256: 'a'.repeat(64) }, { lockTimeoutMs: 150 }),
    ).rejects.toThrow(EvidenceError);
    await expect(
      appendLedger(evidenceDir, { runId: 'r', dir: 'r', manifestSha256: 'a'.repeat(64) }, { lockTimeoutMs: 150 }),
    ).rejects.toThrow(/timed out .*ledger\.lock/);
  });

  it('refuses to chain onto a torn last line', async () => {
    await finalizeRun(1);
    await writeFile(path.join(evidenceDir, 'ledger.jsonl'), `${(await ledgerLines())[0]}\n{"seq":2,"ru`);
    await expect(appendLedger(evidenceDir, { runId: 'r', dir: 'r', manifestSha256: 'a'.repeat(64) })).rejects.toThrow(/incomplete line/);
    expect((await verifyLedger(evidenceDir)).problems).toEqual(expect.arrayContaining([expect.objectContaining({ line: 2 })]));
  });
});

async function pidOfExitedProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

/**
 * Node 20 cannot run TypeScript, and a test should not depend on a prior build: transpile the
 * reports modules into a temp dir that resolves the project's node_modules.
 */
async function compileEvidenceModulesForNode(): Promise<string> {
  const root = packageRoot();
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-ledger-runtime-'));
  await mkdir(path.join(outDir, 'reports'));
  await writeFile(path.join(outDir, 'package.json'), JSON.stringify({ name: 'ledger-child', type: 'module' }));
  await symlink(path.join(root, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  for (const file of await readdir(path.join(root, 'reports'), { recursive: true })) {
    if (!file.endsWith('.ts')) continue;
    await mkdir(path.dirname(path.join(outDir, 'reports', file)), { recursive: true });
    const source = await readFile(path.join(root, 'reports', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    await writeFile(path.join(outDir, 'reports', file.replace(/\.ts$/, '.js')), outputText);
  }
  return outDir;
}
