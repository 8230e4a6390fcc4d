/**
 * Modules import downward only: bin → runners/reports → scenarios (STYLE: "Architecture you
 * can see"), and no module imports itself back through others, statically or through a
 * dynamic `import()`. A new upward import or a new cycle fails here, naming the files.
 */
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
