import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipelines } from '../../../src/client-pipelines.js';
import type { Config } from '../../../src/config.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import { docker, noDocker } from '../../support/docker.js';
import { startWorker, temporalClient, type RunningWorker } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { buildLogs, buildTestConfig, description, removeRun } from './build-setup.js';

/*
 * A pipeline whose service is built by `builder: docker` from a model without a Dockerfile: the generated one
 * (FROM the project image, the model's files copied in, `serve-model --model-dir`) is built, and the evaluation's
 * session runs that image and answers the evaluation.
 */
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let temporal: Client;
const ids: string[] = [];

describe.skipIf(noDocker)('a pipeline with builder: docker and a generated Dockerfile', () => {
  beforeAll(async () => {
    ({ config, cleanup } = await buildTestConfig());
    worker = await startWorker(config);
    temporal = await temporalClient(config);
  }, 900_000);

  afterAll(async () => {
    await worker?.stop();
    await temporal?.connection.close();
    await removeRun('none', ids);
    await cleanup?.();
  });

  it('builds the image, the session runs it, the evaluation reaches it: Complete, accuracy 1', async () => {
    const corpus = await tinyCorpus(config.sources.localRoots[0]!);
    const manifest = parsePipelineManifest(`
kind: Pipeline
account: docker
metadata: { name: built }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone }, build: {} }
  evaluation: { replications: 1, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);
    const since = Math.floor(Date.now() / 1000);
    const pipelines = new Pipelines(temporal, config.temporal.taskQueue);
    const { id } = await pipelines.start(manifest, { force: true });
    const view = await pipelines.wait(id);
    for (const s of Object.values(view.stages)) if (s.id) ids.push(s.id);
    const service = await worker.adapters.entityStore.get(view.stages.inferenceService.id!);
    expect(view.status, `${JSON.stringify(view)}: ${service?.message}`).toBe('Complete');
    const report = await worker.adapters.entityStore.get(view.stages.report.id!);
    expect((report?.details?.metrics as { accuracy: number }).accuracy).toBe(1);

    const serviceId = view.stages.inferenceService.id!;
    const d = await description(worker.adapters.objectStore, serviceId);
    expect(d.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(d.imageTag).toBe(`dyff-inferenceservice-${serviceId}:try-1`);
    const log = [...(await buildLogs(worker.adapters.objectStore, serviceId)).values()].join('');
    expect(log).toMatch(new RegExp(`FROM ${config.docker.image.replace(/[.:]/g, '\\$&')}`));
    expect(log).toMatch(/COPY \. \/model/);

    // The evaluation's session container was made from the built image (it is gone now; the engine's events stay).
    const events = await docker.getEvents({
      since,
      until: Math.floor(Date.now() / 1000) + 1,
      filters: {
        type: ['container'],
        event: ['create'],
        label: [`io.dyff.entity=${view.stages.evaluation.id!}`, 'io.dyff.kind=session'],
      },
    });
    let text = '';
    for await (const chunk of events as AsyncIterable<Buffer>) text += chunk.toString();
    const created = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { from: string });
    expect(created.map((c) => c.from)).toEqual([d.image]);
  }, 600_000);
});
