import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { resolveTemporalCli } from '../../src/dev/temporal-cli.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { cliEnv, run, until } from '../support/worker-process.js';

let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  worker = await startWorker(config);
  env = cliEnv(config);
});
afterAll(async () => {
  await worker.stop();
  await cleanup();
});

async function manifest(name: string, body: string): Promise<string> {
  const path = join(config.dataHome, name);
  await writeFile(path, body);
  return path;
}

describe('dyffctl', () => {
  it('create -f --wait, then get, list and logs, as a user runs them', async () => {
    await writeFile(
      join(config.dataHome, 'pets.jsonl'),
      '{"name":"rex","kind":"dog"}\n{"name":"tom","kind":"cat"}\n',
    );
    const spec = await manifest(
      'pets.yaml',
      'kind: Dataset\naccount: cli\nmetadata: { name: pets }\nspec:\n  source: { kind: local, path: pets.jsonl }\n  ingest: { format: jsonl }\n',
    );
    const created = await run(['create', '-f', spec, '--wait'], env);
    expect(created.code, created.stderr).toBe(0);
    const id = /Dataset ([0-9a-f]{32}) created/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(created.stdout).toMatch(/status: +Ready/);
    expect(created.stdout).toMatch(/rows: +2/);

    const got = await run(['get', id!, '-o', 'json'], env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, kind: 'Dataset', status: 'Ready', name: 'pets' });

    const listed = await run(['list', '--kind', 'Dataset', '--account', 'cli'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toMatch(/^ID +KIND +NAME/);

    const logs = await run(['logs', id!], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('pets.jsonl');

    // Temporal accepts a cancel of a closed run and does nothing; the CLI says there is nothing to cancel.
    const cancelled = await run(['cancel', id!], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`nothing to cancel: ${id} is Ready, and its run has ended`);
    expect(JSON.parse((await run(['get', id!, '-o', 'json'], env)).stdout)).toMatchObject({
      status: 'Ready',
    });
  });

  it('a pipeline whose model cannot be fetched: each stage shown, the failed one with why; the rest name it', async () => {
    await writeFile(join(config.dataHome, 'mails.jsonl'), '{"text":"hi","label":"ham"}\n');
    const spec = await manifest(
      'broken-pipeline.yaml',
      `kind: Pipeline
account: cli-pipeline
metadata: { name: no-model }
spec:
  dataset: { source: { kind: local, path: mails.jsonl }, ingest: { format: jsonl } }
  model: { source: { kind: local, path: no-such-model } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: 1, workersPerReplica: 1 }
  report: { rubric: classification.accuracy }
`,
    );
    const r = await run(['pipeline', 'run', '-f', spec, '--wait', '--force'], env);
    expect(r.code, r.stderr).toBe(1);
    const pipelineId = /pipeline ([0-9a-f]{32}) started/.exec(r.stdout)![1]!;
    const modelId = /model +Failed +([0-9a-f]{32})/.exec(r.stdout)?.[1];
    expect(modelId, r.stdout).toBeDefined();
    // Under the failed stage: its status and reason, the step's own error line, and where to read the rest.
    expect(r.stdout).toMatch(new RegExp(`model +Failed +${modelId}\n +Error \\(FetchFailed\\): `));
    expect(r.stdout).toMatch(/\n +error: spec\.source\.path: .*no-such-model does not exist\n/);
    expect(r.stdout).toContain(`more: dyffctl get ${modelId}; dyffctl logs ${modelId}`);
    const serviceId = /inferenceService +Skipped +([0-9a-f]{32})/.exec(r.stdout)?.[1];
    expect(serviceId, r.stdout).toBeDefined();
    const got = await run(['pipeline', 'get', pipelineId], env);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`more: dyffctl get ${modelId}`);

    // A stage that never ran is an entity of the pipeline's name, whose message names the stage that failed.
    const service = JSON.parse((await run(['get', serviceId!, '-o', 'json'], env)).stdout) as Record<
      string,
      unknown
    >;
    expect(service).toMatchObject({
      name: 'no-model',
      status: 'Error',
      reason: 'FailedDependency',
      message: `the pipeline's model stage failed (Model ${modelId})`,
    });

    const cancelled = await run(['pipeline', 'cancel', pipelineId], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`nothing to cancel: pipeline ${pipelineId} has ended`);

    // On a schedule, the run's line in its history says the same in place of a metric.
    expect((await run(['schedule', 'create', 'no-model', '-f', spec, '--every', '1d'], env)).code).toBe(0);
    expect((await run(['schedule', 'trigger', 'no-model'], env)).code).toBe(0);
    const line = await until('the triggered run in the history, ended', async () => {
      const h = await run(['schedule', 'history', 'no-model'], env);
      return h.stdout.includes('  FAILED  ') && h.stdout.trim();
    });
    expect(line).toMatch(
      / {2}pipeline [0-9a-f]{32} {2}FAILED {2}- {2}report [0-9a-f]{32} Failed: the pipeline's model stage failed \(Model [0-9a-f]{32}\)$/,
    );
    expect((await run(['schedule', 'delete', 'no-model'], env)).code).toBe(0);
  });

  it("a report's label column the dataset lacks fails the pipeline before the evaluation runs", async () => {
    const corpus = await tinyCorpus(join(config.dataHome, 'typo'));
    const spec = await manifest(
      'label-typo.yaml',
      `kind: Pipeline
account: cli-typo
metadata: { name: label-typo }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: 1, workersPerReplica: 1 }
  report: { rubric: classification.accuracy, parameters: { labelColumn: lable } }
`,
    );
    const r = await run(['pipeline', 'run', '-f', spec, '--wait', '--force'], env);
    expect(r.code, r.stderr).toBe(1);
    const evaluationId = /evaluation +Failed +([0-9a-f]{32})/.exec(r.stdout)?.[1];
    expect(evaluationId, r.stdout).toBeDefined();
    const datasetId = /dataset +Done +([0-9a-f]{32})/.exec(r.stdout)![1]!;
    expect(r.stdout).toContain(
      `Failed (InvalidSpec): spec.report.parameters.labelColumn: column "lable" not in dataset ${datasetId}; available: _index_, text, label, path, split (checked before the evaluation runs)`,
    );
    expect(r.stdout).toMatch(/report +Skipped +[0-9a-f]{32}/);
    // The evaluation never ran a step: it has no step logs.
    const logs = await run(['logs', evaluationId!], env);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe('');
  });

  it('an entity that ends in Error exits 1 and says why', async () => {
    const spec = await manifest(
      'broken.yaml',
      'kind: Dataset\naccount: cli\nspec:\n  source: { kind: local, path: does-not-exist.csv }\n',
    );
    const r = await run(['create', '-f', spec, '--wait'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/status: +Error \(FetchFailed\)/);
    expect(r.stdout).toContain('does-not-exist.csv');
  });

  it('a bad manifest exits 2 naming the field; nothing is created', async () => {
    const spec = await manifest(
      'bad.yaml',
      'kind: Dataset\naccount: cli\nspec:\n  source: { kind: url, url: notaurl }\n',
    );
    const r = await run(['create', '-f', spec], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toContain('spec.source.url: expected http(s) URL');
    const listed = await run(['list', '--account', 'cli', '-o', 'json'], env);
    expect((JSON.parse(listed.stdout) as unknown[]).length).toBeLessThanOrEqual(2);

    // A shipped example's placeholder, left unfilled, is named as one, with how to fill it.
    const example = await run(
      ['create', '-f', resolve(import.meta.dirname, '../../examples/spamassassin-report.yaml')],
      env,
    );
    expect(example.code).toBe(2);
    expect(example.stderr).toContain(
      'spec.evaluation: ${EVALUATION_ID} is a placeholder to fill in (dyffctl: --set spec.evaluation=<value>)',
    );
  });

  it('usage errors exit 2, unknown ids exit 3, an unreachable server exits 4 with what to do', async () => {
    expect((await run(['list', '--kind', 'Nope'], env)).code).toBe(2);
    expect((await run(['create'], env)).code).toBe(2);
    const missing = await run(['get', 'f'.repeat(32)], env);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no entity with id');
    const down = await run(['list'], { ...env, DYFF_TEMPORAL_ADDRESS: '127.0.0.1:9' });
    expect(down.code).toBe(4);
    expect(down.stderr).toContain('dyffctl dev');
  });

  it(
    'demo: the README quick start makes the dataset, trains the model, runs the pipeline and reports',
    { timeout: 300_000 },
    async () => {
      const r = await run(['demo'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Dataset [0-9a-f]{32} is Ready: 6046 rows/);
      expect(r.stdout).toMatch(/dataset +Reused/);
      const accuracy = Number(/accuracy (0\.\d+) on the test split \((\d+) mails\)/.exec(r.stdout)?.[1]);
      // Real predictions of the trained model: far above the 64% of always answering the majority class.
      expect(accuracy).toBeGreaterThan(0.85);
      expect(r.stdout).toContain('index.html');
      // `get` of the report says where its page is, as `get` of a dataset says where its shards are.
      const reportId = /Report ([0-9a-f]{32}): accuracy/.exec(r.stdout)![1]!;
      const report = await run(['get', reportId], env);
      const page = /^page: +file:\/\/(\/.*\/reports\/[0-9a-f]{32}\/index\.html)$/m.exec(report.stdout)?.[1];
      expect(page, report.stdout).toBeDefined();
      expect(existsSync(page!)).toBe(true);
      expect(report.stdout).toMatch(/^location: +file:\/\/\/.*\/reports\/[0-9a-f]{32}\/$/m);

      // Every run of the demo is found by the plain Temporal CLI by its kind and account.
      const cli = (await resolveTemporalCli())!;
      for (const kind of ['Pipeline', 'Dataset', 'Model', 'InferenceService', 'Evaluation', 'Report']) {
        const query = `DyffKind="${kind}" AND DyffAccount="public" AND TaskQueue="${config.temporal.taskQueue}"`;
        const listed = await until(`the demo's ${kind} runs`, async () => {
          const { stdout } = await promisify(execFile)(cli, [
            'workflow',
            'list',
            '--query',
            query,
            '--output',
            'json',
            '--address',
            config.temporal.address,
          ]);
          const rows = stdout.trim() ? (JSON.parse(stdout) as { execution: { workflowId: string } }[]) : [];
          return rows.length > 0 && rows;
        });
        for (const row of listed)
          expect(row.execution.workflowId.startsWith(`${kind.toLowerCase()}-`)).toBe(true);
      }
    },
  );
});
