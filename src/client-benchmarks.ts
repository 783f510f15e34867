/**
 * Robustness benchmarks on top of DyffClient: one model evaluated on a dataset and on each corruption × severity
 * of it, with a report across corruptions. A run's workflow id is `benchmark-<id>`.
 */
import type { Client } from '@temporalio/client';
import { specHash } from './activities/lookups.js';
import { absoluteSource } from './client-create.js';
import { cancelIfRunning } from './client-runs.js';
import type { BenchmarkInput, BenchmarkSpec, BenchmarkView } from './domain/benchmark.js';
import { newId } from './domain/ids.js';
import type { Manifest } from './domain/manifest.js';
import { runStartMetadata } from './domain/run-metadata.js';
import { benchmarkQuery, BenchmarkWorkflow, startWorkflow } from './workflows/definitions.js';
import type { benchmarkWorkflow } from './workflows/index.js';

export type BenchmarkManifest = Manifest<BenchmarkSpec, 'Benchmark'>;

export interface BenchmarkOptions {
  force?: boolean;
  baseDir?: string;
}

export const benchmarkWorkflowId = (id: string) => `benchmark-${id}`;

/** The workflow input for a benchmark manifest: local paths made absolute, and the reuse hashes computed. */
export function benchmarkInput(
  manifest: BenchmarkManifest,
  opts: BenchmarkOptions & { id: string },
): BenchmarkInput {
  const baseDir = opts.baseDir ?? process.cwd();
  const given = manifest.spec;
  const spec: BenchmarkSpec = {
    ...given,
    dataset: { ...given.dataset, source: absoluteSource(given.dataset.source, baseDir) },
    model: { ...given.model, source: absoluteSource(given.model.source, baseDir) },
  };
  return {
    id: opts.id,
    account: manifest.account,
    name: manifest.metadata.name,
    labels: manifest.metadata.labels,
    spec,
    hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) },
    ...(opts.force ? { force: true } : {}),
  };
}

export class Benchmarks {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  async start(
    manifest: BenchmarkManifest,
    opts: BenchmarkOptions = {},
  ): Promise<{ id: string; workflowId: string }> {
    const id = newId();
    const workflowId = benchmarkWorkflowId(id);
    const input = benchmarkInput(manifest, { ...opts, id });
    const run = { ...input, kind: 'Benchmark' as const };
    await startWorkflow(this.temporal, BenchmarkWorkflow, {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input],
      ...runStartMetadata(run),
    });
    return { id, workflowId };
  }

  get(id: string): Promise<BenchmarkView> {
    return this.handle(id).query(benchmarkQuery);
  }

  /** Wait for the run to end; resolves with its final view whether every cell passed or not. */
  async wait(id: string): Promise<BenchmarkView> {
    const handle = this.handle(id);
    try {
      return await handle.result();
    } catch {
      return handle.query(benchmarkQuery);
    }
  }

  /** Request cancellation; false when the run has ended already, and there is nothing to cancel. */
  async cancel(id: string): Promise<boolean> {
    return cancelIfRunning(this.handle(id));
  }

  private handle(id: string) {
    if (!/^[a-f0-9]{32}$/.test(id)) throw new Error(`benchmark id ${JSON.stringify(id)}: not an id`);
    return this.temporal.workflow.getHandle<typeof benchmarkWorkflow>(benchmarkWorkflowId(id));
  }
}
