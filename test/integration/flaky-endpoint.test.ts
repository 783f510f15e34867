import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { parsePipelineManifest } from '../../src/domain/manifest.js';
import { serve } from '../support/http-fixture.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { tinyCorpus } from '../support/tiny-corpus.js';

let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let client: DyffClient;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
let http: Awaited<ReturnType<typeof serve>>;
const counters = { flaky: 0, failures: 0 };

/** The right label, from the words each class of the tiny corpus uses. */
function classify(text: string): string {
  if (/winner|prize|cash|offer|free|click/.test(text)) return 'spam';
  if (/meeting|agenda|minutes|project|review|schedule/.test(text)) return 'ham';
  return 'news';
}

async function body(req: IncomingMessage): Promise<{ text: string }> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return JSON.parse(raw) as { text: string };
}

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
  pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
  corpus = await tinyCorpus(config.dataHome);
  http = await serve({
    // One request in five fails: 429, 500 or no answer at all (the client's timeout), in turn.
    '/flaky': (req: IncomingMessage, res: ServerResponse) => {
      void body(req).then(({ text }) => {
        const n = ++counters.flaky;
        if (n % 5 === 0) {
          counters.failures++;
          const kind = (n / 5) % 3;
          if (kind === 0) return res.writeHead(429, { 'retry-after': '0' }).end('slow down');
          if (kind === 1) return res.writeHead(500).end('oops');
          return; // hang: never answer
        }
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ label: classify(text) }));
      });
    },
    // Messages numbered 3 are refused as bad requests.
    '/picky': (req: IncomingMessage, res: ServerResponse) => {
      void body(req).then(({ text }) => {
        if (/message 3$/.test(text))
          return res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unsupported"}');
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ label: classify(text) }));
      });
    },
  });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await http.close();
  await cleanup();
});

function manifest(path: string, badRequestPolicy: 'Abort' | 'Skip') {
  return parsePipelineManifest(`
kind: Pipeline
account: flaky
metadata: { name: flaky-${badRequestPolicy.toLowerCase()} }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service:
    runner: { kind: http, endpoint: "${http.url}${path}" }
    interface:
      inputPipeline: [{ kind: TransformJSON, configuration: { text: "$.text" } }]
  evaluation:
    replications: 2
    workersPerReplica: 4
    client: { badRequestPolicy: ${badRequestPolicy}, transientErrorRetryDelaySeconds: 0.05, requestTimeoutSeconds: 1 }
  report: { rubric: classification.accuracy }
`);
}

async function reportJson(
  reportId: string,
): Promise<{ metrics: { accuracy: number; scored: number }; skipped: { count: number } }> {
  return JSON.parse(
    (await worker.adapters.objectStore.getBuffer('reports', `${reportId}/report.json`)).toString('utf8'),
  );
}

describe('an evaluation against an unreliable endpoint', { timeout: 240_000 }, () => {
  it('20% of requests failing with 429, 500 or timeouts: Complete, with every output', async () => {
    const { id } = await pipelines.start(manifest('/flaky', 'Abort'));
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    expect(counters.failures).toBeGreaterThan(5);
    const evaluation = await client.get(view.stages.evaluation.id!);
    expect(evaluation?.details?.summary).toMatchObject({
      expected: corpus.rows * 2,
      written: corpus.rows * 2,
      missing: 0,
    });
    const report = await reportJson(view.stages.report.id!);
    expect(report.metrics).toMatchObject({ accuracy: 1, scored: corpus.rows * 2 });
  });

  it('400s with badRequestPolicy Skip: Complete, and the report counts the skipped items', async () => {
    const { id } = await pipelines.start(manifest('/picky', 'Skip'));
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    const report = await reportJson(view.stages.report.id!);
    // "message 3" exists once per label, in each of two replications.
    expect(report.skipped.count).toBe(3 * 2);
    expect(report.metrics.scored).toBe(corpus.rows * 2 - 6);
  });

  it('400s with badRequestPolicy Abort: the evaluation ends Failed with a reason naming the item', async () => {
    const { id } = await pipelines.start(manifest('/picky', 'Abort'));
    const view = await pipelines.wait(id);
    expect(view.status).toBe('Failed');
    const evaluation = await client.get(view.stages.evaluation.id!);
    expect(evaluation).toMatchObject({ status: 'Failed', reason: 'Incomplete' });
    expect(evaluation?.message).toMatch(/_index_/);
    expect(evaluation?.message).toMatch(/400/);
    expect(await client.get(view.stages.report.id!)).toMatchObject({
      status: 'Failed',
      reason: 'FailedDependency',
    });
  });
});
