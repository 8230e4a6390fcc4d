/**
 * Where drillbook's own files (templates) are at runtime. The code runs compiled from
 * `dist/reports/*.js` and from source under vitest, so a path relative to this module would
 * differ between the two; the package root is the same in both.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'drillbook';

/** The directory holding drillbook's package.json, found by walking up from `fromUrl`. */
export function packageRoot(fromUrl: string = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (readPackageName(path.join(dir, 'package.json')) === PACKAGE_NAME) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${fileURLToPath(fromUrl)}`);
    }
    dir = parent;
  }
}

export function templatesDir(): string {
  return path.join(packageRoot(), 'reports', 'templates');
}

function readPackageName(file: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : undefined;
  } catch {
    // Missing or unreadable package.json (or one of a nested package): keep walking up.
    return undefined;
  }
}
