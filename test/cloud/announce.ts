/** globalSetup of vitest.cloud.config.ts: states what will run, how long and what it costs, before anything does. */
import { announcement } from './gate.js';

export default function setup(): void {
  process.stdout.write(announcement(process.env));
}
