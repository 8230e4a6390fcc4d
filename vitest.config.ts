import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The opt-in cloud suite runs only through `npm run test:cloud` (vitest.cloud.config.ts).
    exclude: ['test/cloud/**', '**/node_modules/**'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Drills start real PostgreSQL processes; two cores are shared, so keep files in series
    // where they start servers (see test/integration) and give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
