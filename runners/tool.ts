import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** drillbook's own name and version, read from the package it runs from. */
export function toolInfo(): { name: 'drillbook'; version: string; node: string } {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'drillbook') return { name: 'drillbook', version: pkg.version ?? '0.0.0', node: process.version };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { name: 'drillbook', version: 'unknown', node: process.version };
    dir = parent;
  }
}
