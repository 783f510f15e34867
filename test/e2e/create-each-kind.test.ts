import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import { DyffError } from '../../src/domain/errors.js';
import { parseManifest } from '../../src/domain/manifest.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { cliEnv, run, until } from '../support/worker-process.js';

/**
 * Every kind created from its own manifest, in order, by a script: dyffctl for one chain (dataset → model →
 * service → evaluation → report on the tiny corpus, local runner), DyffClient for the idempotency of creates.
 */
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let client: DyffClient;
let env: NodeJS.ProcessEnv;
const ids: Record<string, string> = {};

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
  env = cliEnv(config);
  await tinyCorpus(config.dataHome, 6);
});
afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await cleanup();
});

async function manifest(name: string, body: string): Promise<string> {
  const path = join(config.dataHome, name);
  await writeFile(path, body);
  return path;
}

/** `dyffctl create -f <file> --wait [args]`: the id it printed, and how it ended. */
async function create(file: string, kind: string, ...args: string[]) {
  const r = await run(['create', '-f', file, '--wait', ...args], env);
  const id = new RegExp(`${kind} ([0-9a-f]{32}) (created|already exists)`).exec(r.stdout)?.[1];
  return { ...r, id };
}

const DATASET = `kind: Dataset
account: scripts
metadata: { name: tiny }
spec:
  source: { kind: local, path: corpus }
  ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
`;

describe('create each kind from a manifest', { timeout: 300_000 }, () => {
  it('dyffctl create -f --wait chains Dataset → Model → InferenceService → Evaluation → Report', async () => {
    const dataset = await create(await manifest('dataset.yaml', DATASET), 'Dataset');
    expect(dataset.code, dataset.stderr).toBe(0);
    expect(dataset.stdout).toMatch(/status: +Ready/);
    const model = await create(
      await manifest(
        'model.yaml',
        'kind: Model\naccount: scripts\nspec: { source: { kind: local, path: model } }\n',
      ),
      'Model',
    );
    expect(model.code, model.stderr).toBe(0);
    const service = await create(
      await manifest(
        'service.yaml',
        `kind: InferenceService\naccount: scripts\nspec: { model: ${model.id}, runner: { kind: standalone } }\n`,
      ),
      'InferenceService',
    );
    expect(service.code, service.stderr).toBe(0);
    expect(service.stdout).toMatch(/status: +Ready/);
    const evaluation = await create(
      await manifest(
        'evaluation.yaml',
        `kind: Evaluation\naccount: scripts\nspec: { dataset: ${dataset.id}, inferenceService: ${service.id}, workersPerReplica: 2 }\n`,
      ),
      'Evaluation',
    );
    expect(evaluation.code, evaluation.stderr).toBe(0);
    expect(evaluation.stdout).toMatch(/status: +Complete/);
    const reportFile = await manifest(
      'report.yaml',
      `kind: Report\naccount: scripts\nspec: { evaluation: ${evaluation.id}, rubric: classification.accuracy }\n`,
    );
    const report = await create(reportFile, 'Report', '--request-id', 'nightly-report');
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/Report [0-9a-f]{32} created/);
    expect(report.stdout).toMatch(/status: +Complete/);
    Object.assign(ids, { dataset: dataset.id, service: service.id, evaluation: evaluation.id });

    // The script run again: the same report, not a second one.
    const again = await create(reportFile, 'Report', '--request-id', 'nightly-report');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already exists \(same request id\)/);
    expect(again.id).toBe(report.id);
    const reports = await client.list({ kind: 'Report', account: 'scripts' });
    expect(reports.map((r) => r.id)).toEqual([report.id]);
  });

  it('a reference to a missing entity, or to one of another kind, is refused naming the field', async () => {
    const missing = 'e'.repeat(32);
    const r = await run(
      [
        'create',
        '-f',
        await manifest(
          'dangling.yaml',
          `kind: Report\naccount: scripts\nspec: { evaluation: ${missing}, rubric: text.exactMatch }\n`,
        ),
      ],
      env,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`spec.evaluation: no Evaluation with id ${missing}`);
    expect(ids.dataset, 'the chain ran first').toBeDefined();
    const wrong = await run(
      [
        'create',
        '-f',
        await manifest(
          'wrong-kind.yaml',
          `kind: Report\naccount: scripts\nspec: { evaluation: ${ids.dataset}, rubric: text.exactMatch }\n`,
        ),
      ],
      env,
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`spec.evaluation: ${ids.dataset} is of kind Dataset, expected Evaluation`);
  });

  it('the same create sent twice concurrently, and once more after it finished, makes one entity and one run', async () => {
    const text = DATASET.replace('name: tiny', 'name: once, requestId: tiny-once');
    const m = parseManifest(text, 'once.yaml');
    const baseDir = config.dataHome;
    const both = await Promise.all([client.create(m, { baseDir }), client.create(m, { baseDir })]);
    expect(both[0].id).toBe(both[1].id);
    expect(both.map((b) => b.created).sort()).toEqual([false, true]);
    const { id, workflowId } = both[0];
    expect((await client.wait(id)).status).toBe('Ready');

    const later = await client.create(m, { baseDir });
    expect(later).toEqual({ id, workflowId, created: false });
    const runs = await until('the run in the visibility store', async () => {
      const found = [];
      for await (const r of client.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
        found.push(r);
      return found.length > 0 && found;
    });
    expect(runs).toHaveLength(1);
    const named = await client.list({ kind: 'Dataset', account: 'scripts' });
    expect(named.filter((e) => e.name === 'once').map((e) => e.id)).toEqual([id]);

    // Another spec under the same request id: refused, naming the request id; nothing new is started.
    const changed = parseManifest(text.replace('train: 1, test: 1', 'train: 2, test: 1'), 'once.yaml');
    const refused = await client.create(changed, { baseDir }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DyffError);
    expect((refused as DyffError).type).toBe('InvalidSpec');
    expect((refused as Error).message).toContain(
      'request id "tiny-once" was already used with a different spec',
    );
  });
});
