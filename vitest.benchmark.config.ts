import { defineConfig } from 'vitest/config';

/*
 * The image benchmark end to end (`npm run test:benchmark`): `dyffctl benchmark demo` on the embedded default and
 * its report across corruptions in headless Chromium. A few minutes of real steps, so not part of `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/integration/benchmark*.slow.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
