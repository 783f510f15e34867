import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { inject } from 'vitest';
import type { createActivities } from '../../src/activities/index.js';
import type { Adapters } from '../../src/adapters/index.js';
import { createAdapters } from '../../src/adapters/index.js';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import { dataConverterFor } from '../../src/codec/data-converter.js';
import { createWorker } from '../../src/worker.js';
import { Worker } from '@temporalio/worker';
import { TEST_SOURCES } from './test-sources.js';

let runtimeInstalled = false;
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // a dev server started in this file installed it first: its choice stands
  }
}

/** A data home, a config pointing at the shared dev server, and a fresh task queue. */
export async function testConfig(
  overrides: Partial<Config> = {},
): Promise<{ config: Config; cleanup: () => Promise<void> }> {
  const dataHome = await mkdtemp(join(tmpdir(), 'dyff-test-'));
  const taskQueue = `test-${Math.random().toString(36).slice(2, 10)}`;
  const base = loadConfig(
    // No reaper schedule per test file on the shared server; the reaper's own tests install theirs.
    {
      dataHome,
      temporal: { address: inject('temporalAddress'), taskQueue },
      sources: TEST_SOURCES,
      reaper: { periodSeconds: 0 },
    },
    { PATH: process.env.PATH ?? '' },
  );
  const config = { ...base, ...overrides };
  return { config, cleanup: () => rm(dataHome, { recursive: true, force: true }) };
}

export async function temporalClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config),
  });
}

export interface RunningWorker {
  adapters: Adapters;
  stop(): Promise<void>;
}

/** An in-process worker on the shared server with the prebuilt bundle; activities over the given adapters. */
export async function startWorker(config: Config, adapters?: Adapters): Promise<RunningWorker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const a = adapters ?? (await createAdapters(config));
  const w = await createWorker({
    config,
    connection,
    adapters: a,
    workflowBundle: { code: inject('workflowBundleCode') },
  });
  const running = w.run();
  return {
    adapters: a,
    async stop() {
      w.worker.shutdown();
      await running;
      await connection.close();
      if (!adapters) await a.close();
    },
  };
}

/** A worker whose activities are given explicitly (orchestration tests with a scripted runner). */
export async function startWorkerWithActivities(
  config: Config,
  activities: ReturnType<typeof createActivities>,
): Promise<{ stop(): Promise<void> }> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { code: inject('workflowBundleCode') },
    activities,
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
