import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../../src/domain/ids.js';
import type { ServiceDescription } from '../../../src/domain/service.js';
import type { VerifySummary } from '../../../src/steps/verify-outputs.js';
import type { EvalEnv } from './helpers/evaluation.js';
import { DYFFCTL, createEvalEnv, outputRows, putDataset, readJson } from './helpers/evaluation.js';

const TRAIN_SCRIPT = resolve(import.meta.dirname, '../../../examples/train-naive-bayes.ts');

let env: EvalEnv;
beforeEach(async () => {
  env = await createEvalEnv();
});
afterEach(() => env.cleanup());

const spamWords = ['cheap', 'pills', 'winner', 'prize', 'casino', 'viagra', 'bonus', 'free'];
const hamWords = ['meeting', 'agenda', 'lunch', 'report', 'schedule', 'project', 'review', 'notes'];
/** A corpus a naive Bayes model separates perfectly: each text draws words from its class only. */
function corpus(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const spam = i % 2 === 0;
    const words = spam ? spamWords : hamWords;
    const text = [0, 3, 5].map((k) => words[(i + k) % words.length]).join(' ');
    return { text: `${text} ${i}`, label: spam ? 'spam' : 'ham', split: i % 5 === 0 ? 'test' : 'train' };
  });
}

async function run(program: string[], childEnv?: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, program, {
    env: childEnv ?? process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'close')) as [number];
  return { code, out };
}

describe('train → fetch-model → build-service → serve-model → evaluate → verify', () => {
  it('evaluates a freshly trained naive Bayes model served from the object store', async () => {
    const rows = corpus(50);
    const dataset = await putDataset(env, rows);
    const modelDir = join(env.root, 'trained');
    const trained = await run([
      '--import',
      'tsx',
      TRAIN_SCRIPT,
      '--dataset-dir',
      env.store.localPath('datasets', `${dataset}/data`),
      '--out',
      modelDir,
    ]);
    expect(trained.code, trained.out).toBe(0);
    expect(trained.out).toMatch(/^trained on 40 documents: ham, spam, test accuracy 100\.0% on 10/);

    const model = newId();
    expect(
      (
        await env.step('fetch-model', [
          '--id',
          model,
          '--spec',
          JSON.stringify({ source: { kind: 'local', path: modelDir } }),
        ])
      ).code,
    ).toBe(0);
    const service = newId();
    const build = await env.step('build-service', [
      '--id',
      service,
      '--spec',
      JSON.stringify({
        model,
        runner: {
          kind: 'standalone',
          accelerator: { kind: 'GPU', count: 1, type: 'nvidia-l4' },
          resources: { cpu: '2', memory: '8Gi' },
        },
      }),
    ]);
    expect(build.code, build.lines.join('\n')).toBe(0);
    const description = await readJson<ServiceDescription>(
      env,
      'inferenceservices',
      `${service}/service.json`,
    );
    expect(description).toMatchObject({
      command: ['serve-model', '--model', model],
      readinessPath: '/ready',
      endpoint: '/generate',
      // Where its session's pods run (a local session ignores it): session-runner/kubernetes-manifest.ts reads it.
      placement: { accelerator: { count: 1, type: 'nvidia-l4' }, resources: { cpu: '2', memory: '8Gi' } },
    });

    // The session runner's part: start the service's command on a port, wait until it says it is ready.
    const server = spawn(
      process.execPath,
      [DYFFCTL, ...description.command!, '--port', '0', '--host', '127.0.0.1'],
      {
        env: env.childEnv(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const stopped = once(server, 'close');
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let url = '';
        server.once('close', (code) => reject(new Error(`serve-model exited with ${code}`)));
        createInterface({ input: server.stdout }).on('line', (line) => {
          url = /listening on (http:\/\/\S+)/.exec(line)?.[1] ?? url;
          if (line.startsWith('serve-model: ready')) resolve(url);
        });
      });
      const evaluation = newId();
      const spec = {
        dataset,
        inferenceService: service,
        split: 'test',
        replications: 2,
        workersPerReplica: 2,
      };
      // No --service: the client reads the description build-service stored.
      const evaluated = await env.step('evaluate', [
        '--id',
        evaluation,
        '--spec',
        JSON.stringify(spec),
        '--endpoint',
        base,
      ]);
      expect(evaluated.code, evaluated.lines.join('\n')).toBe(0);
      expect(
        (await env.step('verify-outputs', ['--id', evaluation, '--spec', JSON.stringify(spec)])).code,
      ).toBe(0);

      const summary = await readJson<VerifySummary>(env, 'outputs', `${evaluation}/verified/summary.json`);
      expect(summary).toMatchObject({ expected: 20, written: 20, missing: 0, duplicatesRemoved: 0 });
      const verified = await outputRows(env, evaluation, 'verified');
      for (const row of verified) {
        const [best, second] = row.responses as { label: string; score: number; _response_index_: number }[];
        expect(best!.label).toBe(rows[row._index_]!.label);
        expect(best!._response_index_).toBe(0);
        expect(best!.score).toBeGreaterThan(second!.score);
      }
    } finally {
      server.kill('SIGTERM');
      const [code] = (await stopped) as [number];
      expect(code).toBe(0);
    }
  });
});

describe('build-service', () => {
  const build = (spec: unknown) =>
    env.step('build-service', ['--id', newId(), '--spec', JSON.stringify(spec)]);

  it('exits 2 with NoSuchModel when the model was never fetched', async () => {
    const model = newId();
    const run = await build({ model, runner: { kind: 'standalone' } });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: model ${model} not found (NoSuchModel): fetch it first`);
  });

  it('describes an OpenAI-compatible server: chat completions in, choices out as text', async () => {
    const id = newId();
    const run = await env.step('build-service', [
      '--id',
      id,
      '--spec',
      JSON.stringify({ runner: { kind: 'openai', endpoint: 'http://vllm.internal:8000/v1' } }),
    ]);
    expect(run.code, run.lines.join('\n')).toBe(0);
    const description = await readJson<ServiceDescription>(env, 'inferenceservices', `${id}/service.json`);
    expect(description.endpoint).toBe('http://vllm.internal:8000/v1/chat/completions');
    expect(description.command).toBeUndefined();
    expect(description.interface.inputPipeline).toEqual([
      { kind: 'TransformJSON', configuration: { messages: [{ role: 'user', content: '$.text' }] } },
    ]);
    expect(description.interface.outputPipeline?.[0]).toEqual({
      kind: 'ExplodeCollections',
      configuration: { collections: ['choices'] },
    });
  });

  it('refuses GPUs, resources or spot for a remote endpoint, and a bad quantity, naming the field', async () => {
    const remote = await build({
      runner: { kind: 'http', endpoint: 'http://127.0.0.1:9/infer', accelerator: { kind: 'GPU', count: 1 } },
    });
    expect(remote.code).toBe(2);
    expect(remote.last).toBe(
      'error: spec.runner.accelerator: only for runner standalone (a session this platform runs)',
    );
    const quantity = await build({
      model: newId(),
      runner: { kind: 'standalone', resources: { memory: 'lots' } },
    });
    expect(quantity.code).toBe(2);
    expect(quantity.lines.join('\n')).toMatch(/runner\.resources\.memory.*expected a quantity such as/);
  });

  it('refuses an interface whose adapter path cannot work, naming it', async () => {
    const run = await build({
      runner: { kind: 'http', endpoint: 'http://127.0.0.1:9/infer' },
      interface: { inputPipeline: [{ kind: 'TransformJSON', configuration: { prompt: '$.text[' } }] },
    });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^error: spec\.interface\.inputPipeline\[0\]\.configuration\.prompt: cannot parse/,
    );
  });
});
