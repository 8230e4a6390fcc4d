/**
 * Modules import downward only: bin → runners/reports → scenarios (STYLE: "Architecture you
 * can see"). A new upward import fails here, naming the file and the import.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const FORBIDDEN: Record<string, string[]> = {
  scenarios: ['runners', 'reports', 'bin'],
  reports: ['runners', 'bin'],
  runners: ['bin'],
};

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('import direction', () => {
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${folder}/ imports nothing from ${forbidden.join(', ')}`, () => {
      const violations: string[] = [];
      for (const file of sourceFiles(folder)) {
        const text = fs.readFileSync(file, 'utf8');
        for (const match of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
          const specifier = match[1]!;
          if (!specifier.startsWith('.')) continue;
          const target = path.relative(REPO_ROOT, path.resolve(path.dirname(file), specifier)).split(path.sep)[0]!;
          if (forbidden.includes(target)) violations.push(`${path.relative(REPO_ROOT, file)} imports ${specifier}`);
        }
      }
      expect(violations).toEqual([]);
    });
  }
});
