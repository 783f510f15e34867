import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Most tests take 2-20 s alone; a loaded two-core machine (CI beside other work) can stretch one five-fold,
    // and a limit is for a test that hangs, not one that is slow.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: files run in parallel, but not so many that a Temporal dev server starves.
    maxWorkers: 2,
    pool: 'forks',
  },
});
