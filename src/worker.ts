/**
 * The worker entry point: configuration → adapters → activities → Worker. No logic of its own.
 *
 *   const worker = await createWorker({ config });
 *   await worker.run();
 */
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import type { StepPolicy } from './activities/index.js';
import type { Adapters } from './adapters/index.js';
import { createAdapters } from './adapters/index.js';
import { storeFor } from './adapters/object-store/enforce.js';
import { anyEntity, stepBindings } from './domain/grant-scope.js';
import { WORKER_IDENTITY } from './domain/identities.js';
import { dataConverterFor } from './codec/data-converter.js';
import type { Config } from './config.js';
import { installReaperSchedule } from './reaper-schedule.js';
import { requireSearchAttributes } from './search-attributes-setup.js';
import { temporalConnectionOptions } from './temporal-connection.js';
import { WORKFLOWS_PATH, workflowBundlerOptions } from './workflow-bundle.js';

export interface CreateWorkerOptions {
  config: Config;
  /** Reuse an open connection (tests, `dyffctl dev`); otherwise one is opened to config.temporal.address. */
  connection?: NativeConnection;
  /** Reuse adapters; otherwise they are created from config and closed when the worker stops. */
  adapters?: Adapters;
  /** A prebuilt workflow bundle, to skip bundling (tests). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
}

export interface DyffWorker {
  worker: Worker;
  adapters: Adapters;
  /** Run until shutdown() or a fatal error, then release what this worker opened. */
  run(): Promise<void>;
}

/**
 * Route the SDK's own logs (worker state, workflow bundling) through a logger at this level, once per process.
 * @default DYFF_LOG_LEVEL or WARN
 */
export function installRuntime(
  level: LogLevel = (process.env.DYFF_LOG_LEVEL as LogLevel | undefined) ?? 'WARN',
): void {
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // already installed: the first caller's choice stands
  }
}

export async function createWorker(opts: CreateWorkerOptions): Promise<DyffWorker> {
  const { config } = opts;
  installRuntime();
  const connection =
    opts.connection ?? (await NativeConnection.connect(temporalConnectionOptions(config.temporal)));
  try {
    await requireSearchAttributes(connection.operatorService, config.temporal.namespace);
  } catch (err) {
    if (!opts.connection) await connection.close();
    throw err;
  }
  const adapters = opts.adapters ?? (await createAdapters(config));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: opts.taskQueue ?? config.temporal.taskQueue,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: await workflowBundlerOptions() }),
    activities: createActivities({
      ...adapters,
      // The worker reads back what steps wrote, under its own grants when they are enforced.
      objectStore: storeFor(adapters.objectStore, config, WORKER_IDENTITY, anyEntity),
      stepPolicy: stepPolicyOf(config),
      quota: { defaultLimit: config.quota.concurrency, checkEveryMs: config.quota.checkSeconds * 1000 },
      // The build activity does the build step's work (pack the model's files, record the image) under its grants.
      builderStore: (id, model) =>
        storeFor(adapters.objectStore, config, 'build-service', stepBindings(id, { model })),
    }),
    // Same converter as the clients: with codec keys, inputs and results are encrypted in the history.
    dataConverter: dataConverterFor(config),
    // Step activities mostly wait on jobs; many can be in flight on one worker.
    maxConcurrentActivityTaskExecutions: 100,
    // On SIGTERM (a rolling update) in-flight tasks get this long; step activities then end as interrupted and
    // leave their jobs running for the attempt another worker starts.
    shutdownGraceTime: `${config.temporal.shutdownGraceSeconds}s`,
  });
  if (config.reaper.periodSeconds > 0) {
    await installReaperSchedule(new Client({ connection, namespace: config.temporal.namespace }), {
      taskQueue: opts.taskQueue ?? config.temporal.taskQueue,
      periodSeconds: config.reaper.periodSeconds,
    });
  }
  return {
    worker,
    adapters,
    async run() {
      try {
        await worker.run();
      } finally {
        if (!opts.adapters) await adapters.close();
        if (!opts.connection) await connection.close();
      }
    },
  };
}

export function stepPolicyOf(config: Config): StepPolicy {
  return {
    maxTriesPerStage: config.retries.maxTriesPerStage,
    backoffSeconds: config.retries.backoffSeconds,
    stepDeadlineSeconds: config.limits.stepDeadlineSeconds,
  };
}
