import { defineConfig } from 'vitest/config';

/*
 * Everything of `runner: docker` (`npm run test:docker`): the contract suites, the pipeline and isolation tests that
 * `npm test` runs too, and the longer ones only run here (`*.slow.ts`: a worker crash during a container step, the
 * project image running the worker). Needs a Docker engine, which the tests start (scripts/docker-engine.mjs).
 */
export default defineConfig({
  test: {
    include: ['test/contract/docker.*.test.ts', 'test/integration/docker/*.{test,slow}.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
