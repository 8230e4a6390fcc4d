import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../reports/paths.js';

/** drillbook's own name and version, read from the package it runs from. */
export function toolInfo(): { name: 'drillbook'; version: string; node: string } {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return { name: 'drillbook', version: pkg.version ?? 'unknown', node: process.version };
  } catch {
    return { name: 'drillbook', version: 'unknown', node: process.version };
  }
}
