/** Ports: the interfaces the activities depend on. Adapters implement them; `src/adapters/index.ts` picks one. */
export type * from './entity-store.js';
export type * from './object-store.js';
export type * from './job-runner.js';
export { jobName } from './job-runner.js';
