import { defineConfig } from 'vitest/config';

/*
 * The fault-injection suite on its own (`npm run faults`): every scenario starts its own Temporal dev server
 * process; one file at a time, since a scenario kills servers and workers on purpose. The shared server and
 * workflow bundle of the global setup serve the Kubernetes scenarios, whose worker runs in the test process.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
