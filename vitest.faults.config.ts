import { defineConfig } from 'vitest/config';

/*
 * The fault-injection suite on its own (`npm run faults`): every scenario starts its own Temporal dev server
 * process, so no shared server; one file at a time, since a scenario kills servers and workers on purpose.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
