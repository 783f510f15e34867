import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePipeline, scriptedPipelineSpec } from '../../bench/lifecycle-runs.js';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import { SqliteEntityStore } from '../../src/adapters/entity-store/sqlite.js';
import type { DevServer } from '../../src/dev/dev-server.js';
import { startDevServer } from '../../src/dev/dev-server.js';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/dev/latency.js';
import { newId } from '../../src/domain/ids.js';
import { quotaWorkflowId } from '../../src/workflows/quota-messages.js';
import { startScriptedWorker } from '../support/orchestration.js';
import { stepEffects } from '../support/step-effects.js';
import { testConfig } from '../support/temporal.js';

/*
 * A fresh dev server keeps its search-attribute cache (DEV_SERVER_DYNAMIC_CONFIG), so attributes registered a moment
 * ago are refused until its namespace caches refresh. `startDevServer` returns only once they are usable: a
 * pipeline started at once, whose start sets the attributes and whose every workflow upserts its status, runs
 * without one refused start or failed workflow task.
 */
let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ port: 0 });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

const spec = scriptedPipelineSpec();

describe('a dev server just started', () => {
  it('runs with the search-attribute cache on', () => {
    expect(DEV_SERVER_DYNAMIC_CONFIG['system.forceSearchAttributesCacheRefreshOnRead']).toBe(false);
  });

  it('accepts a pipeline that sets every search attribute as soon as it is returned', async () => {
    const t = await testConfig();
    const config = { ...t.config, temporal: { ...t.config.temporal, address: server.address } };
    const objects = new FilesystemObjectStore({ root: join(config.dataHome, 'objects') });
    const entities = new SqliteEntityStore({ path: join(config.dataHome, 'entities.sqlite') });
    const worker = await startScriptedWorker({ config, entities, objects }, () => ({
      outcome: 'succeed',
      effect: stepEffects(objects),
    }));
    const client = new Client({ connection: server.env.connection, namespace: server.namespace });
    try {
      const account = `ready-${newId().slice(0, 8)}`;
      const taskQueue = config.temporal.taskQueue;
      const id = await executePipeline(client, taskQueue, spec, account);
      const ids = [id, quotaWorkflowId(account, taskQueue)];
      const failed: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        const history = await client.workflow.getHandle(ids[i]!).fetchHistory();
        for (const e of history.events ?? []) {
          const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
          if (child) ids.push(child);
          const cause = e.workflowTaskFailedEventAttributes?.failure?.message;
          if (e.workflowTaskFailedEventAttributes) failed.push(`${ids[i]}: ${cause}`);
        }
      }
      expect(ids.length).toBe(7);
      expect(failed).toEqual([]);
    } finally {
      await worker.stop();
      await entities.close();
      await t.cleanup();
    }
  });
});
