import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, pendingUndos, readJournal } from '../../../runners/journal.js';
import { UndoRegistry, UndoStack } from '../../../runners/undo.js';

describe('journal and undo stack', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-undo-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const env = { signal: new AbortController().signal, log: () => undefined };

  it('journals each undo before the change and runs them newest first, past a failing one', async () => {
    const ran: string[] = [];
    const registry = new UndoRegistry()
      .register('note', async (p) => void ran.push(String(p.name)))
      .register('boom', async () => {
        throw new Error('cannot');
      });
    const journal = Journal.open(dir, { runId: 'r1', scenarioFile: 'f', scenarioName: 's', skeleton: {} });
    const stack = new UndoStack(journal, registry);
    stack.push({ type: 'note', params: { name: 'first' } }, 'first');
    // On disk before anything else happens: a crash here still knows what to undo.
    expect(pendingUndos(readJournal(journal.file)).map((u) => u.description)).toEqual(['first']);
    stack.push({ type: 'boom', params: {} }, 'second');
    const settled = stack.push({ type: 'note', params: { name: 'third' } }, 'third');
    stack.settle(settled, 'ended by itself');
    stack.push({ type: 'note', params: { name: 'fourth' } }, 'fourth');

    const result = await stack.unwind(env);
    expect(ran).toEqual(['fourth', 'first']);
    expect(result.complete).toBe(false);
    expect(result.undos.find((u) => u.description === 'second')).toMatchObject({ status: 'failed', error: 'cannot' });
    // Only the failed undo is still pending for `recover`.
    expect(pendingUndos(readJournal(journal.file)).map((u) => u.description)).toEqual(['second']);
    journal.close();
  });

  it('refuses to register an undo nothing could run', () => {
    const journal = Journal.open(dir, { runId: 'r2', scenarioFile: 'f', scenarioName: 's', skeleton: {} });
    const stack = new UndoStack(journal, new UndoRegistry());
    expect(() => stack.push({ type: 'unknown', params: {} }, 'x')).toThrow(/no undo handler named unknown/);
    expect(pendingUndos(readJournal(journal.file))).toEqual([]);
    journal.close();
  });

  it('ignores a torn last line left by a crash mid-write', () => {
    const journal = Journal.open(dir, { runId: 'r3', scenarioFile: 'f', scenarioName: 's', skeleton: {} });
    journal.registerUndo({ type: 'note', params: {} }, 'kept');
    journal.close();
    fs.appendFileSync(journal.file, '{"t":"undo","id":2,"act');
    expect(pendingUndos(readJournal(journal.file)).map((u) => u.description)).toEqual(['kept']);
    const { journal: again } = Journal.reopen(journal.file);
    expect(again.registerUndo({ type: 'note', params: {} }, 'next')).toBe(2);
    again.close();
  });
});
