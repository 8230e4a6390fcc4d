/**
 * Bad and hostile files: each must give a located error and return promptly — never throw,
 * crash, print a stack trace or hang. The large and explosive files are generated here into
 * a temporary directory rather than committed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, it, expect } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadDocument, loadScenario, MAX_FILE_BYTES } from '../../../scenarios/load.js';

const FAST = { timeout: 2000 };

const temporaryDirs: string[] = [];
afterAll(async () => {
  await Promise.all(temporaryDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function fileWith(name: string, content: string | Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'drillbook-hostile-'));
  temporaryDirs.push(dir);
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

/** Loads as a scenario; returns the diagnostics and how long it took. */
async function load(file: string) {
  const diagnostics = new Diagnostics();
  const started = performance.now();
  const loaded = await loadScenario(file, diagnostics);
  return { loaded, diagnostics, all: diagnostics.all, elapsedMs: performance.now() - started };
}

/** The classic "billion laughs": nine levels of nine aliases each. */
function billionLaughs(): string {
  const lines = ['apiVersion: drillbook.dev/v1', 'kind: Scenario', 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level <= 9; level++) {
    const previous = `*a${level - 1}`;
    lines.push(`a${level}: &a${level} [${Array(9).fill(previous).join(',')}]`);
  }
  return lines.join('\n') + '\n';
}

describe('hostile input', () => {
  it('stops an alias bomb with a located error', FAST, async () => {
    const { loaded, all, elapsedMs } = await load(await fileWith('bomb.yaml', billionLaughs()));
    expect(loaded).toBeUndefined();
    expect(all).toHaveLength(1);
    expect(all[0]!.message).toContain('cannot expand this file');
    expect(all[0]!.line).toBe(4); // the first alias
    expect(elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses a 20 MB file by its size, before reading it', FAST, async () => {
    const file = await fileWith('huge.yaml', Buffer.alloc(20 * 1024 * 1024, 'a: 1\n'));
    const { all } = await load(file);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 1, col: 1, path: '(root)' });
    expect(all[0]!.message).toBe('the file is 20 MiB, over the 1 MiB limit for drillbook files');
  });

  it('accepts a file of exactly the limit as far as size goes', FAST, async () => {
    const file = await fileWith('limit.yaml', Buffer.alloc(MAX_FILE_BYTES, '#'));
    const diagnostics = new Diagnostics();
    expect(await loadDocument(file, diagnostics)).toBeUndefined(); // only a comment: empty
    expect(diagnostics.all.map((d) => d.message)).toEqual(['the file is empty']);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s wherever it is', async (key) => {
    const text = `apiVersion: drillbook.dev/v1\nkind: Scenario\nmetadata:\n  name: x\n  labels:\n    ${key}: { polluted: "yes" }\n`;
    const { all } = await load(await fileWith('proto.yaml', text));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 6, col: 5, path: `metadata.labels.${key}` });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses binary garbage with the position of the NUL byte', FAST, async () => {
    const garbage = Buffer.concat([Buffer.from('apiVersion: drillbook.dev/v1\nkind: '), Buffer.from([0x00, 0xff, 0x13, 0x37, 0x00])]);
    const { all } = await load(await fileWith('garbage.yaml', garbage));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 2, col: 7 });
    expect(all[0]!.message).toContain('binary content');
  });

  it('refuses invalid UTF-8 with the position of the first bad byte', FAST, async () => {
    const latin1 = Buffer.concat([Buffer.from('kind: Scenario\nmetadata: { name: caf'), Buffer.from([0xe9]), Buffer.from(' }\n')]);
    const { all } = await load(await fileWith('latin1.yaml', latin1));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 2, col: 22 });
    expect(all[0]!.message).toContain('not valid UTF-8');
  });

  it('reports YAML syntax errors and duplicate keys located, without the code frame', FAST, async () => {
    const { all } = await load(await fileWith('syntax.yaml', 'kind: Scenario\nkind: Scenario\nspec: [1, 2\n'));
    expect(all.length).toBeGreaterThanOrEqual(2);
    const duplicate = all.find((d) => d.message.includes('unique'));
    expect(duplicate).toMatchObject({ line: 2, col: 1, path: '(yaml)' });
    expect(duplicate!.hint).toContain('each key may appear once');
    for (const d of all) expect(d.message).not.toContain('\n');
  });

  it('refuses more than one document per file', FAST, async () => {
    const { all } = await load(await fileWith('multi.yaml', 'kind: Scenario\n---\nkind: Scenario\n'));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 2, message: 'the file holds more than one YAML document' });
  });

  it('survives pathological nesting', FAST, async () => {
    const depth = 200_000;
    const { loaded, all } = await load(await fileWith('deep.yaml', '['.repeat(depth) + ']'.repeat(depth) + '\n'));
    expect(loaded).toBeUndefined();
    expect(all.length).toBeGreaterThanOrEqual(1);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 1, col: 201, message: 'nested more than 200 levels deep' });
  });

  it('survives deeply nested compact sequences', FAST, async () => {
    const { loaded, all, elapsedMs } = await load(await fileWith('dashes.yaml', '- '.repeat(200_000) + 'x\n'));
    expect(loaded).toBeUndefined();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 1, col: 1, message: 'nested more than 200 levels deep' });
    expect(elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a scenario that is not a mapping', FAST, async () => {
    const { all } = await load(await fileWith('list.yaml', '- a\n- b\n'));
    expect(all).toHaveLength(1);
    expect(all[0]!.message).toContain('expected a mapping');
  });

  it('reports a missing file and a directory', FAST, async () => {
    const file = await fileWith('x.yaml', '');
    expect((await load(path.join(path.dirname(file), 'missing.yaml'))).all[0]!.message).toBe('file not found');
    expect((await load(path.dirname(file))).all[0]!.message).toBe('is a directory, not a file');
  });
});
