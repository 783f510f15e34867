import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { SqliteEntityStore } from '../../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import type { Config } from '../../src/config.js';
import { createActivities } from '../../src/activities/index.js';
import { RecordingSessions } from './recording-sessions.js';
import type { Behaviour } from './scripted-runner.js';
import { ScriptedJobRunner } from './scripted-runner.js';
import { startWorkerWithActivities, temporalClient, testConfig } from './temporal.js';

export interface OrchestrationEnv {
  config: Config;
  client: Client;
  objects: FilesystemObjectStore;
  entities: SqliteEntityStore;
}

/**
 * For a test file about the workflows: a config on the shared dev server with a fresh task queue, a Temporal
 * client, and the embedded stores the activities write to. Set up before the file's tests, closed after them.
 */
export function useOrchestrationEnv(): OrchestrationEnv {
  const env = {} as OrchestrationEnv;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const t = await testConfig();
    cleanup = t.cleanup;
    env.config = t.config;
    env.client = await temporalClient(t.config);
    env.objects = new FilesystemObjectStore({ root: join(t.config.dataHome, 'objects') });
    env.entities = new SqliteEntityStore({ path: join(t.config.dataHome, 'entities.sqlite') });
  });
  afterAll(async () => {
    await env.entities?.close();
    await env.client?.connection.close();
    await cleanup?.();
  });
  return env;
}

/**
 * A worker on the configuration's task queue whose steps behave as scripted (per stage and try), over the given
 * stores; sessions are only recorded. For tests whose subject is the orchestration, not the jobs.
 */
export function startScriptedWorker(
  env: Pick<OrchestrationEnv, 'config' | 'objects' | 'entities'>,
  script: (stage: string, attempt: number) => Behaviour,
): Promise<{ stop(): Promise<void> }> {
  return startWorkerWithActivities(
    env.config,
    createActivities({
      entityStore: env.entities,
      objectStore: env.objects,
      jobRunner: new ScriptedJobRunner(script),
      sessionRunner: new RecordingSessions(),
    }),
  );
}
