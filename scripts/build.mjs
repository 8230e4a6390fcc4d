#!/usr/bin/env node
/**
 * The build after `tsc`: files generated from the compiled code that the package ships.
 * - schema/drillbook.schema.json: the JSON Schema editors load through the
 *   `# yaml-language-server: $schema=` line of the samples and of `drillbook init`'s files.
 * Run by `npm run build` (and so by `prepare` in a clone and `prepack` before `npm pack`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { jsonSchema } = await import(new URL('../dist/scenarios/json-schema.js', import.meta.url).href);
fs.mkdirSync(path.join(root, 'schema'), { recursive: true });
fs.writeFileSync(path.join(root, 'schema', 'drillbook.schema.json'), `${JSON.stringify(jsonSchema(), null, 2)}\n`);
