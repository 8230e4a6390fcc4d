/** The committed fixtures and every sample file, checked against the schema (STYLE practice 4). */
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { validatePaths } from '../../../scenarios/load.js';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/scenarios');
const SAMPLES = path.join(import.meta.dirname, '../../../scenarios/samples');

describe('fixtures and samples', () => {
  it('every sample file is valid', async () => {
    const diagnostics = new Diagnostics();
    const checked = await validatePaths([SAMPLES], diagnostics);
    expect(diagnostics.format()).toBe('');
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.every((file) => file.valid)).toBe(true);
  });

  it('the valid fixture is valid', async () => {
    const diagnostics = new Diagnostics();
    await validatePaths([path.join(FIXTURES, 'valid')], diagnostics);
    expect(diagnostics.all).toEqual([]);
  });

  it('the three-mistakes fixture has exactly its three errors', async () => {
    const diagnostics = new Diagnostics();
    await validatePaths([path.join(FIXTURES, 'three-mistakes/drill.yaml')], diagnostics);
    const byLine = diagnostics.all.sort((a, b) => a.line - b.line);
    expect(byLine.map((d) => [d.line, d.path, d.hint])).toEqual([
      [3, 'metadata.system', 'did you mean `orders-db`?'],
      [7, 'spec.tragets', 'did you mean `targets`?'],
      [12, 'spec.probes.interval', undefined],
    ]);
  });

  it('the __proto__ fixture is refused at its key', async () => {
    const diagnostics = new Diagnostics();
    await validatePaths([path.join(FIXTURES, 'proto-key.yaml')], diagnostics);
    expect(diagnostics.all.map((d) => [d.line, d.col, d.path])).toEqual([[6, 5, 'metadata.labels.__proto__']]);
  });
});
