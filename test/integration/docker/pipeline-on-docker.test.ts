import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipelines } from '../../../src/client-pipelines.js';
import type { Config } from '../../../src/config.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import { docker, noDocker, projectImage, removeEntityContainers } from '../../support/docker.js';
import { startWorker, temporalClient, testConfig, type RunningWorker } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';

/*
 * The whole pipeline (dataset, model, inference service, evaluation with a session, report) with `runner: docker`:
 * every step a container of the project image built here, the session a container on its evaluation's internal
 * network, the worker in this process. The corpus sits in a directory of its own, the one local root the
 * containers see (read-only).
 */
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let temporal: Client;
let corpusRoot: string;
const entities: string[] = [];

describe.skipIf(noDocker)('the pipeline with runner: docker', () => {
  beforeAll(async () => {
    const image = projectImage();
    corpusRoot = await mkdtemp(join(tmpdir(), 'dyff-docker-corpus-'));
    const t = await testConfig();
    cleanup = t.cleanup;
    config = {
      ...t.config,
      runner: 'docker',
      docker: { ...t.config.docker, image },
      sources: { ...t.config.sources, localRoots: [corpusRoot] },
    };
    worker = await startWorker(config);
    temporal = await temporalClient(config);
  }, 900_000);

  afterAll(async () => {
    await worker?.stop();
    await temporal?.connection.close();
    for (const id of entities) await removeEntityContainers(id);
    await cleanup?.();
    await rm(corpusRoot, { recursive: true, force: true });
  });

  it('runs to Complete: one container per step, the session in a container, then removed', async () => {
    const corpus = await tinyCorpus(corpusRoot);
    const manifest = parsePipelineManifest(`
kind: Pipeline
account: docker
metadata: { name: tiny }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: 2, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);
    const pipelines = new Pipelines(temporal, config.temporal.taskQueue);
    const { id } = await pipelines.start(manifest, { force: true });
    const view = await pipelines.wait(id);
    for (const s of Object.values(view.stages)) if (s.id) entities.push(s.id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');
    const report = await worker.adapters.entityStore.get(view.stages.report.id!);
    expect((report?.details?.metrics as { accuracy: number }).accuracy).toBe(1);

    // Every step ran as one container of its entity, from the project image, and exited 0.
    const expected: [keyof typeof view.stages, string, string][] = [
      ['dataset', 'fetch', 'fetch-data'],
      ['dataset', 'ingest', 'ingest-dataset'],
      ['model', 'fetch', 'fetch-model'],
      ['inferenceService', 'build', 'build-service'],
      ['evaluation', 'evaluate', 'evaluate'],
      ['evaluation', 'verify', 'verify-outputs'],
      ['report', 'report', 'report'],
    ];
    for (const [stage, label, step] of expected) {
      const found = await docker.listContainers({
        all: true,
        filters: { label: [`io.dyff.entity=${view.stages[stage].id!}`, `io.dyff.stage=${label}`] },
      });
      expect(found, `${stage}/${label}`).toHaveLength(1);
      const info = await docker.getContainer(found[0]!.Id).inspect();
      expect(info.Config.Image).toBe(config.docker.image);
      expect(info.Config.Cmd?.slice(0, 2)).toEqual(['step', step]);
      expect(info.State.ExitCode, `${stage}/${label}`).toBe(0);
    }
    // The session ran as a container and is gone with its network; evaluate sent to its address there.
    const evaluationId = view.stages.evaluation.id!;
    const sessions = await docker.listContainers({
      all: true,
      filters: { label: [`io.dyff.entity=${evaluationId}`, 'io.dyff.kind=session'] },
    });
    expect(sessions).toEqual([]);
    const nets = await docker.listNetworks({ filters: { name: [`dyff-session-${evaluationId}`] } });
    expect(nets).toEqual([]);
    const evaluate = await docker.listContainers({
      all: true,
      filters: { label: [`io.dyff.entity=${evaluationId}`, 'io.dyff.stage=evaluate'] },
    });
    const cmd = (await docker.getContainer(evaluate[0]!.Id).inspect()).Config.Cmd ?? [];
    expect(cmd[cmd.indexOf('--endpoint') + 1]).toMatch(/^http:\/\/10\.213\.\d+\.\d+:8000$/);
  }, 600_000);
});
