import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { expect } from 'vitest';
import { Pipelines } from '../../../src/client-pipelines.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import { whileUnreachable } from '../../../src/temporal-outage.js';
import { query } from '../../support/duckdb.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { until } from '../../support/worker-process.js';
import type { ObjectStore } from '../../../src/ports/object-store.js';
import type { Harness } from './harness.js';

/** The job stages of a pipeline, in order: each fault kind is injected while one of them runs. */
export const STEPS = [
  'fetch-data',
  'ingest-dataset',
  'fetch-model',
  'build-service',
  'evaluate',
  'verify-outputs',
  'report',
] as const;
export type Step = (typeof STEPS)[number];

export interface PipelineSuiteOptions {
  /** Messages per label of the corpus (three labels). @default 40 */
  perLabel?: number;
  replications?: number;
  workersPerReplica?: number;
}

/**
 * A whole pipeline on a fault-suite harness (real steps, a real model server), and the checks every scenario
 * makes once the fault has landed: the run ends Complete, exactly one job ran to completion per (entity, stage),
 * a killed step shows as a failed try before its retry, the verify step counted every
 * (`_index_`, `_replication_`) exactly once, and nothing of the run is left running.
 */
export class PipelineSuite {
  readonly pipelines: Pipelines;

  private constructor(
    readonly h: Harness,
    readonly corpus: Awaited<ReturnType<typeof tinyCorpus>>,
    readonly opts: Required<PipelineSuiteOptions>,
  ) {
    this.pipelines = new Pipelines(h.client.temporal, h.config.temporal.taskQueue);
  }

  static async create(h: Harness, opts: PipelineSuiteOptions = {}): Promise<PipelineSuite> {
    const full = { perLabel: 40, replications: 2, workersPerReplica: 2, ...opts };
    return new PipelineSuite(h, await tinyCorpus(h.config.dataHome, full.perLabel), full);
  }

  manifest() {
    return pipelineManifest(this.corpus, this.opts);
  }

  /** Start a run; `seen` holds the jobs of earlier runs, which the checks leave out. */
  async start(): Promise<{ id: string; seen: Set<string> }> {
    const seen = new Set((await this.h.jobs()).map((j) => j.name));
    const { id } = await this.pipelines.start(this.manifest(), { force: true });
    return { id, seen };
  }

  /** `wait`'s result, or, past RUN_END_MS, an error that shows where the run stands (`notEnded`). */
  private async settled<T>(run: { id: string; seen: Set<string> }, wait: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        notEnded(this, run).then(
          (state) => reject(new Error(`the run did not end within ${RUN_END_MS / 1000} s\n${state}`)),
          reject,
        );
      }, RUN_END_MS);
    });
    try {
      return await Promise.race([wait(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Wait for the run through any outage and make every check. `faulted` is the job the fault hit (if any), and
   * `newTry` whether that job was expected to fail and be tried again. Returns the pipeline's final view.
   */
  async finish(run: { id: string; seen: Set<string> }, faulted: { job?: string; newTry?: boolean }) {
    const { h, corpus, opts } = this;
    const view = await this.settled(run, () =>
      whileUnreachable(() => this.pipelines.wait(run.id), {
        address: h.config.temporal.address,
        timeoutMs: 120_000,
      }),
    );
    expect(view.status, JSON.stringify(view)).toBe('Complete');

    const jobs = (await h.jobs()).filter((j) => !run.seen.has(j.name));
    const completed = jobs.filter((j) => j.exit === 0).map((j) => `${j.entityId}/${j.step}`);
    expect(completed.length).toBe(new Set(completed).size);
    expect(new Set(jobs.map((j) => j.step))).toEqual(new Set(STEPS));
    // newTry unset: either is right (a step whose storage went away may fail transiently and be tried again).
    if (faulted.job && faulted.newTry !== undefined) {
      const retry = faulted.job.replace(/-1$/, '-2');
      const byName = new Map(jobs.map((j) => [j.name, j.exit]));
      if (faulted.newTry) {
        expect(byName.get(faulted.job)).toBe(137);
        expect(byName.get(retry)).toBe(0);
      } else {
        expect(byName.get(faulted.job)).toBe(0);
        expect(byName.has(retry)).toBe(false);
      }
    }
    const expected = corpus.rows * opts.replications;
    expect(
      await countVerified(h.adapters.objectStore, h.config.dataHome, view.stages.evaluation.id!),
    ).toEqual({
      n: expected,
      pairs: expected,
    });
    expect((await h.client.get(view.stages.report.id!))?.status).toBe('Complete');
    await until('nothing of the run left running', async () => (await h.leftRunning()).length === 0, 20_000);
    return view;
  }
}

/** Longer than any scenario's recovery (under a minute), shorter than the scenario's own timeout. */
const RUN_END_MS = 300_000;

/** What a run that did not end shows: its view, its jobs, and the end of each worker's output. */
async function notEnded(suite: PipelineSuite, run: { id: string; seen: Set<string> }): Promise<string> {
  const { h } = suite;
  const view = await suite.pipelines.get(run.id).then(
    (v) => JSON.stringify(v),
    (err: unknown) => `(no view: ${String(err)})`,
  );
  const jobs = (await h.jobs())
    .filter((j) => !run.seen.has(j.name))
    .map((j) => `${j.name} exit=${j.exit ?? '-'} pid=${j.pid ?? '-'}`);
  const workers = h.workers.map((w) => {
    const state =
      w.exitCode !== null || w.signalCode !== null ? `ended ${w.exitCode ?? w.signalCode}` : 'running';
    return `worker ${w.pid} (${state}):\n${w.output().split('\n').slice(-30).join('\n')}`;
  });
  return [`pipeline ${run.id}: ${view}`, 'jobs:', ...jobs, ...workers].join('\n');
}

/** The fault suite's pipeline: a tiny corpus through every stage, with a real model server. */
export function pipelineManifest(
  corpus: { dataDir: string; modelDir: string },
  opts: { replications: number; workersPerReplica: number },
  account = 'faults',
) {
  // A model server killed mid-evaluation is back within seconds: the client retries a refused connection soon.
  return parsePipelineManifest(`
kind: Pipeline
account: ${account}
metadata: { name: matrix }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation:
    replications: ${opts.replications}
    workersPerReplica: ${opts.workersPerReplica}
    client: { transientErrorRetryDelaySeconds: 1 }
  report: { rubric: classification.accuracy }
`);
}

/**
 * The verify step's output rows (`n`) and distinct (`_index_`, `_replication_`) pairs: equal, and equal to rows ×
 * replications, when every output is there exactly once. Copied to a local folder from whichever store holds them.
 */
export async function countVerified(
  store: ObjectStore,
  dataHome: string,
  evaluationId: string,
): Promise<{ n: number; pairs: number } | undefined> {
  const dir = join(dataHome, 'verified-copy', evaluationId);
  await mkdir(dir, { recursive: true });
  for (const { key } of await store.list('outputs', `${evaluationId}/verified/`)) {
    if (key.endsWith('.parquet'))
      await writeFile(join(dir, basename(key)), await store.getBuffer('outputs', key));
  }
  const [pairs] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT (_index_, _replication_))::INT AS pairs
     FROM read_parquet('${dir}/*.parquet')`,
  );
  return pairs as { n: number; pairs: number } | undefined;
}
