/**
 * Modules import downward only: bin → runners/reports → scenarios (STYLE: "Architecture you
 * can see"), and no module imports itself back through others, statically or through a
 * dynamic `import()`. A new upward import or a new cycle fails here, naming the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { buildImportGraph, findCycles, importSpecifiers, type ImportGraph } from '../helpers/import-graph.js';

const SOURCE_DIRS = ['bin', 'runners', 'reports', 'scenarios', 'infra'];

const FORBIDDEN: Record<string, string[]> = {
  scenarios: ['runners', 'reports', 'bin'],
  reports: ['runners', 'bin'],
  runners: ['bin'],
};

const graph = buildImportGraph(REPO_ROOT, SOURCE_DIRS);

describe('import direction', () => {
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${folder}/ imports nothing from ${forbidden.join(', ')}`, () => {
      const violations: string[] = [];
      for (const [file, targets] of graph) {
        if (file.split('/')[0] !== folder) continue;
        for (const target of targets) if (forbidden.includes(target.split('/')[0]!)) violations.push(`${file} imports ${target}`);
      }
      expect(violations).toEqual([]);
    });
  }
});

describe('import cycles', () => {
  it(`there are none in ${SOURCE_DIRS.join(', ')} (static or dynamic imports)`, () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(findCycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('the check finds a cycle through a dynamic import, and a self-import', () => {
    const synthetic: ImportGraph = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['c.ts'])],
      ['c.ts', new Set(['a.ts', 'd.ts'])],
      ['d.ts', new Set<string>()],
      ['e.ts', new Set(['e.ts'])],
    ]);
    expect(findCycles(synthetic)).toEqual([
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['e.ts', 'e.ts'],
    ]);
    expect(findCycles(new Map([['a.ts', new Set(['b.ts'])], ['b.ts', new Set<string>()]]))).toEqual([]);
    // The reader sees every kind of import, not only `from`.
    const source = [
      "import { a } from './a.js';",
      "import type {\n  B,\n} from './b.js';",
      "export { c } from './c.js';",
      "import './d.js';",
      "const { e } = await import('./e.js');",
      "let f: import('./f.js').F;",
      "// import { g } from './g.js';",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js']);
  });

  it('was blind before: the cycle issue 10 removed would be caught', () => {
    // evidence → render → remediation → evidence, the middle edge a dynamic import.
    const before: ImportGraph = new Map([
      ['reports/evidence.ts', new Set(['reports/render.ts'])],
      ['reports/render.ts', new Set(['reports/remediation.ts'])],
      ['reports/remediation.ts', new Set(['reports/evidence.ts'])],
    ]);
    expect(findCycles(before)).toEqual([['reports/evidence.ts', 'reports/render.ts', 'reports/remediation.ts', 'reports/evidence.ts']]);
  });
});

describe('the wall clock', () => {
  // Deadlines and timestamps in runners/ come from the run's clock (runners/clock.ts), or from
  // the clock an undo handler or `recover` is handed (real by default): STYLE practice 7.
  const CLOCK_IMPLEMENTATIONS = ['runners/clock.ts', 'runners/scheduler/clock.ts'];
  // Files still to move onto the run's clock (none left): add none.
  const NOT_YET: string[] = [];
  const READS = /\bDate\.now\(\)|\bnew Date\(\)|\bperformance\.now\(\)/;

  it('no file in runners/ reads it directly, except the clock implementations', () => {
    const offenders: string[] = [];
    for (const file of graph.keys()) {
      if (!file.startsWith('runners/') || CLOCK_IMPLEMENTATIONS.includes(file) || NOT_YET.includes(file)) continue;
      const lines = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (READS.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the check sees each way of reading it', () => {
    for (const read of ['Date.now()', 'new Date()', 'performance.now()']) expect(READS.test(`const t = ${read};`)).toBe(true);
    expect(READS.test('new Date(clock.wallMs())')).toBe(false);
  });

  it('the allow-list names files that still exist', () => {
    for (const file of [...CLOCK_IMPLEMENTATIONS, ...NOT_YET]) expect(graph.has(file), file).toBe(true);
  });
});
