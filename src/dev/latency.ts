/**
 * Dynamic configuration that every Temporal dev server this project starts runs with (`dyffctl dev`, the demo,
 * the tests, the benchmarks, the fault suite).
 *
 * The dev server has one history shard. Each of its task queues (transfer: workflow and activity tasks to matching;
 * visibility: list/count queries; timer) is read at most `…MaxPollRPS` times a second, 20 by default, so when tasks
 * arrive one after another each waits up to 50 ms in the shard before a worker can pick it up. A stage of a run
 * is about eight such dispatches: ~350 ms of orchestration per stage that is nothing but waiting. A production
 * cluster spreads the same work over hundreds of shards and rarely sees this; a single-shard server (the dev
 * server, or a small self-hosted cluster with `numHistoryShards: 1`) does, and should raise these limits too.
 *
 * Eager activity execution and eager workflow start let the server hand the first task to the worker or client
 * that asked for it in the same reply, saving a round trip through matching when the worker is local.
 *
 * `bench:dev-server` measures the same workflow on a server with and without these values, side by side.
 */
export const LATENCY_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 10_000,
  'history.visibilityProcessorMaxPollRPS': 10_000,
  'history.timerProcessorMaxPollRPS': 10_000,
  'system.enableActivityEagerExecution': true,
  'system.enableEagerWorkflowStart': true,
};

/** `temporal server start-dev` arguments for a set of dynamic config values. */
export function dynamicConfigArgs(values: Readonly<Record<string, number | boolean>>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]);
}

/**
 * Dynamic configuration only for the dev servers the project starts (`temporal server start-dev`), beside the
 * latency settings. The CLI's dev server turns off the search-attribute cache unless this key is given, so that an
 * attribute added while it runs is usable at once; every start, upsert and visibility write then reads the
 * namespace's metadata again from its store (`bench:lifecycle`'s profile: ~180 more metadata reads per pipeline
 * than the skeleton's, a tenth of the server's CPU). With the cache on (Temporal's default on any other cluster), an
 * attribute is usable once the namespace cache refreshes, every 2 s: the project's registration waits for that
 * (`untilUsable` in src/search-attributes-setup.ts) before anything starts a run.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  ...LATENCY_DYNAMIC_CONFIG,
  'system.forceSearchAttributesCacheRefreshOnRead': false,
};
