import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import { noDocker } from '../../support/docker.js';
import { startWorker, temporalClient, type RunningWorker } from '../../support/temporal.js';
import { until } from '../../support/worker-process.js';
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
 * `builder: docker` through the real workflow, build activity and Docker engine: a model's own Dockerfile built
 * (tagged from service and try, the image id recorded) and its server run by a `runner: docker` session; a
 * failing Dockerfile; a cancel that stops the build in the engine. The worker runs in this process.
 */
const RUN = Math.random().toString(36).slice(2, 10);
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let temporal: Client;
let e: ReturnType<typeof entities>;

const MARKER = `dyff-build-cancel-${RUN}`;
/** One model whose files carry three Dockerfiles: a server's, one that fails, one that would build for minutes. */
const DOCKERFILES = {
  serve: dockerfile(
    RUN,
    'COPY server.mjs /srv/server.mjs',
    'USER 1000:1000',
    'EXPOSE 8000',
    'CMD ["node", "/srv/server.mjs"]',
  ),
  fail: dockerfile(RUN, 'RUN echo about to fail && exit 3'),
  slow: dockerfile(RUN, `RUN sleep 300 && echo ${MARKER}`),
};
/** The three services, started together (their builds overlap): service ids by Dockerfile. */
let services: Record<keyof typeof DOCKERFILES, string>;

describe.skipIf(noDocker)('builder: docker', () => {
  beforeAll(async () => {
    ({ config, cleanup } = await buildTestConfig());
    worker = await startWorker(config);
    temporal = await temporalClient(config);
    e = entities(temporal, config, () => worker.adapters.entityStore);
    const dir = await modelDir(config, {
      Dockerfile: DOCKERFILES.serve,
      'fail.Dockerfile': DOCKERFILES.fail,
      'slow.Dockerfile': DOCKERFILES.slow,
      'server.mjs': SERVER_MJS,
      'weights.bin': 'not a real model',
    });
    const modelId = await e.start('Model', { source: { kind: 'local', path: dir } });
    const m = await e.finished(modelId);
    expect(m.status, m.message).toBe('Ready');
    const start = (dockerfile?: string) =>
      e.start('InferenceService', {
        model: modelId,
        runner: { kind: 'standalone' },
        build: dockerfile ? { dockerfile } : {},
      });
    services = {
      serve: await start(),
      fail: await start('fail.Dockerfile'),
      slow: await start('slow.Dockerfile'),
    };
  }, 900_000);

  afterAll(async () => {
    await worker?.stop();
    await temporal?.connection.close();
    await removeRun(RUN, e?.started ?? []);
    await cleanup?.();
  });

  it("a model's own Dockerfile: built, tagged (service, try), the image id recorded, served by a docker session", async () => {
    const id = services.serve;
    const s = await e.finished(id);
    expect(s.status, s.message).toBe('Ready');

    const [image, ...more] = await builtImages(id);
    expect(more).toEqual([]);
    expect(image!.RepoTags).toEqual([`dyff-inferenceservice-${id}:try-1`]);
    expect(image!.Labels).toMatchObject({ 'dyff-entity': id, 'dyff-try': '1' });
    const d = await description(worker.adapters.objectStore, id);
    expect(d).toMatchObject({ image: image!.Id, imageTag: `dyff-inferenceservice-${id}:try-1` });
    expect(d.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(s.details).toMatchObject({ description: { image: image!.Id } });
    // The build's output is the service's log, next to its steps' logs.
    expect([...(await buildLogs(worker.adapters.objectStore, id)).values()].join('')).toMatch(
      /Step 3\/\d+ : COPY server\.mjs/,
    );

    // A session of the service runs that image, with its own entrypoint, and answers the session contract.
    const sessions = worker.adapters.sessionRunner;
    const name = `session-${id}`;
    try {
      await sessions.start({ name, entityId: id, description: d });
      const ready = await sessions.waitReady(name, { timeoutMs: 60_000 });
      expect(ready.phase, ready.reason).toBe('ready');
      const res = await fetch(`${ready.endpoint}${d.endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'abc' }),
      });
      expect(await res.json()).toEqual({ predictions: [{ label: 'odd', score: 1 }] });
    } finally {
      await sessions.stop(name);
    }
  }, 180_000);

  it('a failing Dockerfile: Error/BuildFailed with the build error line, no image', async () => {
    const id = services.fail;
    const s = await e.finished(id);
    expect(s).toMatchObject({ status: 'Error', reason: 'BuildFailed' });
    expect(s.message).toMatch(
      /docker build of dyff-inferenceservice-\w+:try-1 failed: .*returned a non-zero code: 3/,
    );
    expect(await builtImages(id)).toEqual([]);
    expect([...(await buildLogs(worker.adapters.objectStore, id)).values()].join('')).toMatch(
      /about to fail/,
    );
  }, 180_000);

  it('cancel while building: the engine stops the build, no build container is left, the service ends Terminated', async () => {
    const [id, marker] = [services.slow, MARKER];
    await until(
      'the build to run its RUN step',
      async () => (await containersRunning(marker)).length > 0,
      120_000,
    );
    await temporal.workflow.getHandle(workflowIdFor('InferenceService', id)).cancel();
    const s = await e.finished(id);
    expect(s.status, s.message).toBe('Terminated');
    await until('no build container', async () => (await containersRunning(marker)).length === 0, 30_000);
    expect(await builtImages(id)).toEqual([]);
  }, 180_000);
});
