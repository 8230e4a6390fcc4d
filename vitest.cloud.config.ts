import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cloud`: the opt-in end-to-end suite against a real AWS account and a real
 * cluster (docs/cloud-e2e.md). Gated by environment variables (test/cloud/gate.ts): without
 * them it says why and runs nothing. Never part of `npm test` (vitest.config.ts excludes it).
 */
export default defineConfig({
  test: {
    include: ['test/cloud/**/*.test.ts'],
    globalSetup: ['./test/cloud/announce.ts'],
    // Real drills take minutes to an hour each; one at a time, never in parallel.
    testTimeout: 2 * 60 * 60_000,
    hookTimeout: 60 * 60_000,
    fileParallelism: false,
  },
});
