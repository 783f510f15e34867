import type { ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '../../../src/adapters/index.js';
import { createAdapters } from '../../../src/adapters/index.js';
import type { BuildImageOutput } from '../../../src/activities/image-build.js';
import type { Config } from '../../../src/config.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import { noDocker } from '../../support/docker.js';
import { temporalClient } from '../../support/temporal.js';
import { spawnWorker, until } from '../../support/worker-process.js';
import {
  buildLogs,
  buildTestConfig,
  containersRunning,
  description,
  dockerfile,
  entities,
  builtImages,
  modelDir,
  removeRun,
  SERVER_MJS,
} from './build-setup.js';

/*
 * `builder: docker` when the worker dies, with real `dyffctl worker` processes: a build that finished while its
 * worker hung is adopted by the next worker by its labels, without building again; a build interrupted by the
 * worker's SIGKILL is stopped by the engine with the request, and the next attempt builds again from the layer
 * cache.
 */
const RUN = Math.random().toString(36).slice(2, 10);
let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let temporal: Client;
let e: ReturnType<typeof entities>;
const workers: ChildProcess[] = [];

async function worker(): Promise<ChildProcess> {
  const w = await spawnWorker(config);
  workers.push(w);
  return w;
}

async function kill(w: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  const exited = new Promise((r) => w.once('exit', r));
  w.kill(signal);
  await exited;
}

/** The results of the service's completed buildImage attempts, from its workflow history. */
async function buildResults(id: string): Promise<BuildImageOutput[]> {
  const history = await temporal.workflow.getHandle(workflowIdFor('InferenceService', id)).fetchHistory();
  const scheduled = new Map<string, string>();
  const out: BuildImageOutput[] = [];
  for (const ev of history.events ?? []) {
    const s = ev.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(ev.eventId), s.activityType?.name ?? '');
    const c = ev.activityTaskCompletedEventAttributes;
    if (c && scheduled.get(String(c.scheduledEventId)) === 'buildImage')
      out.push(defaultPayloadConverter.fromPayload<BuildImageOutput>(c.result!.payloads![0]!));
  }
  return out;
}

async function serviceWithDockerfile(lines: string[]): Promise<string> {
  const dir = await modelDir(config, {
    Dockerfile: dockerfile(
      RUN,
      ...lines,
      'COPY server.mjs /srv/server.mjs',
      'CMD ["node", "/srv/server.mjs"]',
    ),
    'server.mjs': SERVER_MJS,
  });
  const modelId = await e.start('Model', { source: { kind: 'local', path: dir } });
  expect((await e.finished(modelId)).status).toBe('Ready');
  return e.start('InferenceService', { model: modelId, runner: { kind: 'standalone' }, build: {} });
}

describe.skipIf(noDocker)('builder: docker after a worker crash', () => {
  beforeAll(async () => {
    ({ config, cleanup } = await buildTestConfig());
    adapters = await createAdapters(config);
    temporal = await temporalClient(config);
    e = entities(temporal, config, () => adapters.entityStore);
  }, 900_000);

  afterAll(async () => {
    for (const w of workers) await kill(w);
    await temporal?.connection.close();
    await adapters?.close();
    await removeRun(RUN, e?.started ?? []);
    await cleanup?.();
  });

  it('a build finished while its worker hung, then SIGKILLed: the next worker adopts the image by its labels', async () => {
    const marker = `dyff-build-hung-${RUN}`;
    const first = await worker();
    const id = await serviceWithDockerfile([`RUN sleep 3 && echo ${marker}`]);
    await until(
      'the build to run its RUN step',
      async () => (await containersRunning(marker)).length > 0,
      120_000,
    );
    // The worker stops answering (its connection to the engine stays open); the engine finishes the build.
    first.kill('SIGSTOP');
    const [image] = await until(
      'the engine to finish the build',
      async () => {
        const found = await builtImages(id);
        return found.length ? found : undefined;
      },
      60_000,
    );
    await kill(first);
    expect((await adapters.entityStore.get(id))?.status).not.toBe('Ready');

    const second = await worker();
    const s = await e.finished(id);
    expect(s.status, s.message).toBe('Ready');
    await kill(second, 'SIGTERM');
    const results = await buildResults(id);
    expect(results).toEqual([expect.objectContaining({ adopted: true, imageRef: image!.Id })]);
    expect(await builtImages(id)).toHaveLength(1);
    expect((await description(adapters.objectStore, id)).image).toBe(image!.Id);
  }, 300_000);

  it('a build interrupted by a SIGKILLed worker: the engine stops it, the next attempt builds again from the cache', async () => {
    const marker = `dyff-build-killed-${RUN}`;
    const first = await worker();
    const id = await serviceWithDockerfile([
      `RUN echo first layer ${RUN} > /first`,
      `RUN sleep 20 && echo ${marker}`,
    ]);
    await until(
      'the build to run its slow step',
      async () => (await containersRunning(marker)).length > 0,
      120_000,
    );
    await kill(first);
    // The engine ends the build with its request: the step's container goes, well before its sleep would end.
    await until(
      'the engine to stop the build',
      async () => (await containersRunning(marker)).length === 0,
      10_000,
    );
    expect(await builtImages(id)).toEqual([]);

    const second = await worker();
    const s = await e.finished(id);
    expect(s.status, s.message).toBe('Ready');
    await kill(second, 'SIGTERM');
    const [result, ...more] = await buildResults(id);
    expect(more).toEqual([]);
    expect(result).toMatchObject({ adopted: false });
    const [image] = await builtImages(id);
    expect(result!.imageRef).toBe(image!.Id);
    // The attempt that built again took the finished layer from the cache and ran the interrupted step anew.
    const logs = await buildLogs(adapters.objectStore, id);
    const last = [...logs.entries()].sort(([a], [b]) => b - a)[0]![1];
    expect(last).toMatch(/RUN echo first layer[^\n]*\n ---> Using cache/);
    expect(last).toMatch(new RegExp(`RUN sleep 20 && echo ${marker}\\n ---> Running in`));
  }, 300_000);
});
