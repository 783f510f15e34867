import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/adapters/index.js';
import { createAdapters } from '../../src/adapters/index.js';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { query } from '../support/duckdb.js';
import { testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { spawnWorker, until } from '../support/worker-process.js';
import { groupAlive } from '../../src/adapters/process-group.js';

let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let client: DyffClient;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
const REPLICATIONS = 2;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  adapters = await createAdapters(config);
  client = await DyffClient.connect(config, adapters);
  pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
  corpus = await tinyCorpus(config.dataHome);
});
afterAll(async () => {
  await client.close();
  await adapters.close();
  await cleanup();
});

function manifest(workersPerReplica = 2, c = corpus) {
  return parsePipelineManifest(`
kind: Pipeline
account: crash
metadata: { name: tiny }
spec:
  dataset:
    source: { kind: local, path: ${c.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${c.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: ${REPLICATIONS}, workersPerReplica: ${workersPerReplica} }
  report: { rubric: classification.accuracy }
`);
}

/** The job directory of the first job that runs this step program, once its process has started. */
async function jobStarted(step: string, after: Set<string>): Promise<string | false> {
  const root = join(config.dataHome, 'jobs');
  if (!existsSync(root)) return false;
  for (const name of await readdir(root)) {
    if (after.has(name) || !existsSync(join(root, name, 'pid'))) continue;
    const spec = JSON.parse(await readFile(join(root, name, 'spec.json'), 'utf8')) as { args: string[] };
    if (spec.args[0] === step) return join(root, name);
  }
  return false;
}

async function sessionProcessesAlive(): Promise<number[]> {
  const root = join(config.dataHome, 'sessions');
  if (!existsSync(root)) return [];
  const alive: number[] = [];
  for (const name of await readdir(root)) {
    const pid = Number(await readFile(join(root, name, 'pid'), 'utf8').catch(() => '0'));
    if (pid && groupAlive(pid)) alive.push(pid);
  }
  return alive;
}

async function verifiedPairs(evaluationId: string) {
  const [row] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT (_index_, _replication_))::INT AS pairs
     FROM read_parquet('${join(config.dataHome, 'objects', 'outputs', evaluationId, 'verified', '*.parquet')}')`,
  );
  return row;
}

/**
 * `promise`, or after `ms` a failure saying what `explain` finds: a run that hangs then fails its test with where it
 * stands and what its worker printed, where the test's own timeout would say nothing.
 */
async function within<T>(promise: Promise<T>, ms: number, explain: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void explain().then((m) => reject(new Error(m)), reject), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('SIGKILL of the worker during each stage of the pipeline', { timeout: 240_000 }, () => {
  it.each([
    'fetch-data',
    'ingest-dataset',
    'fetch-model',
    'build-service',
    'evaluate',
    'verify-outputs',
    'report',
  ])(
    'during %s: a new worker finishes the pipeline; every (_index_, _replication_) is verified exactly once',
    async (step) => {
      const before = new Set(
        existsSync(join(config.dataHome, 'jobs')) ? await readdir(join(config.dataHome, 'jobs')) : [],
      );
      const first = await spawnWorker(config);
      const { id } = await pipelines.start(manifest(), { force: true });
      const jobDir = await until(`the ${step} job to start`, () => jobStarted(step, before), 120_000);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const second = await spawnWorker(config);
      try {
        const view = await within(pipelines.wait(id), 200_000, async () => {
          const now = await pipelines.get(id).catch((err: unknown) => String(err));
          return `pipeline ${id} not ended 200 s after the worker was killed during ${step}: ${JSON.stringify(now)}\nthe second worker's last output:\n${second.output().slice(-6000)}`;
        });
        expect(view.status, JSON.stringify(view)).toBe('Complete');
        const jobName = jobDir.split('/').at(-1)!;
        // The killed worker's job was adopted, not run a second time under the same try.
        expect(jobName.endsWith('-1')).toBe(true);
        expect(await verifiedPairs(view.stages.evaluation.id!)).toEqual({
          n: corpus.rows * REPLICATIONS,
          pairs: corpus.rows * REPLICATIONS,
        });
        const report = await client.get(view.stages.report.id!);
        expect(report?.status).toBe('Complete');
        expect(await sessionProcessesAlive()).toEqual([]);
      } finally {
        second.kill('SIGTERM');
        await new Promise((r) => second.once('exit', r));
      }
    },
  );
});

it(
  'cancel during the evaluation: every unfinished child Terminated, the session and the client process gone',
  { timeout: 240_000 },
  async () => {
    const worker = await spawnWorker(config);
    try {
      const before = new Set(
        existsSync(join(config.dataHome, 'jobs')) ? await readdir(join(config.dataHome, 'jobs')) : [],
      );
      // Enough rows, one request at a time, that the evaluation is surely running when the cancel arrives.
      const big = await tinyCorpus(join(config.dataHome, 'big'), 800);
      const { id } = await pipelines.start(manifest(1, big), { force: true });
      const evalDir = await until('the evaluate job to start', () => jobStarted('evaluate', before), 120_000);
      const sessions = await until('the session process', async () => {
        const alive = await sessionProcessesAlive();
        return alive.length > 0 && alive;
      });
      await pipelines.cancel(id);
      const view = await pipelines.wait(id);
      expect(view.status).toBe('Terminated');
      for (const stage of ['evaluation', 'report'] as const) {
        expect((await client.get(view.stages[stage].id!))?.status, stage).toBe('Terminated');
      }
      const evalPid = Number(await readFile(join(evalDir, 'pid'), 'utf8'));
      await until(
        'the evaluation client and the session to be gone',
        async () => !groupAlive(evalPid) && sessions.every((p) => !groupAlive(p)),
        20_000,
      );
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  },
);
