import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdapters, type Adapters } from '../../../src/adapters/index.js';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { validateManifest } from '../../../src/domain/manifest.js';
import { docker, noDocker, projectImage, removeEntityContainers } from '../../support/docker.js';
import { testConfig } from '../../support/temporal.js';
import { spawnWorker, until } from '../../support/worker-process.js';

/*
 * A worker process with `runner: docker` SIGKILLed while its ingest step runs in a container: the container
 * outlives it, and the next worker adopts that same container (by its name) instead of starting another.
 */
let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let client: DyffClient;
let sources: string;
const ROWS = 400_000;
const entities: string[] = [];

describe.skipIf(noDocker)('worker crash with runner: docker', () => {
  beforeAll(async () => {
    const image = projectImage();
    sources = await mkdtemp(join(tmpdir(), 'dyff-docker-crash-'));
    const t = await testConfig();
    cleanup = t.cleanup;
    config = {
      ...t.config,
      runner: 'docker',
      docker: { ...t.config.docker, image },
      sources: { ...t.config.sources, localRoots: [sources] },
    };
    adapters = await createAdapters(config);
    client = await DyffClient.connect(config, adapters);
  }, 900_000);

  afterAll(async () => {
    await client?.close();
    await adapters?.close();
    for (const id of entities) await removeEntityContainers(id);
    await cleanup?.();
    await rm(sources, { recursive: true, force: true });
  });

  it('SIGKILL of the worker during ingest: the new worker adopts the running container; Ready, one ingest container', async () => {
    const csv = join(sources, 'big.csv');
    const lines = ['n,word,value'];
    for (let i = 0; i < ROWS; i++) lines.push(`${i},w${i % 977},${(i * 0.37).toFixed(2)}`);
    await writeFile(csv, `${lines.join('\n')}\n`);
    const manifest = validateManifest({
      kind: 'Dataset',
      account: 'test',
      spec: { source: { kind: 'local', path: csv }, ingest: { format: 'csv', shardRows: 100_000 } },
    });
    const env = { DYFF_DOCKER_IMAGE: config.docker.image };
    const first = await spawnWorker(config, env);
    const { id } = await client.create(manifest);
    entities.push(id);
    const name = `ingest-${id}-1`;
    const running = await until(
      'the ingest container to run',
      async () => {
        const info = await docker
          .getContainer(name)
          .inspect()
          .catch(() => undefined);
        return info?.State.Running ? info : undefined;
      },
      300_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = await docker.getContainer(name).inspect();

    const second = await spawnWorker(config, env);
    try {
      const view = await client.wait(id, { intervalMs: 250 });
      expect(view.status, view.message).toBe('Ready');
      expect(view.details).toMatchObject({ rowCount: ROWS });
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    // The kill landed while the container ran; it is the one container of the stage, started once, exited 0.
    expect(atKill.State.Running).toBe(true);
    const ingests = await docker.listContainers({
      all: true,
      filters: { label: [`io.dyff.entity=${id}`, 'io.dyff.stage=ingest'] },
    });
    expect(ingests.map((c) => c.Id)).toEqual([running.Id]);
    const after = await docker.getContainer(name).inspect();
    expect(after.State.StartedAt).toBe(running.State.StartedAt);
    expect(after.RestartCount).toBe(0);
    expect(after.State.ExitCode).toBe(0);
  }, 600_000);
});
