import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import type { Config } from '../../../src/config.js';
import type { Entity } from '../../../src/domain/entity.js';
import { newId } from '../../../src/domain/ids.js';
import type { EntityKind } from '../../../src/domain/kinds.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import type { ServiceDescription } from '../../../src/domain/service.js';
import type { EntityStore } from '../../../src/ports/entity-store.js';
import type { ObjectStore } from '../../../src/ports/object-store.js';
import { docker, projectImage, removeEntityContainers } from '../../support/docker.js';
import { testConfig } from '../../support/temporal.js';
import { until } from '../../support/worker-process.js';

/*
 * What the `builder: docker` tests share: a configuration (runner and builder docker, the project image), the
 * entities they start and wait for, the Dockerfiles they build (each labelled with the run's id, so that every
 * image a build made — intermediate ones too — can be found and removed), and the engine's view of builds.
 */

/** The local base image every test Dockerfile starts FROM (no registry can be pulled from). */
export const BASE = 'dyff-base:trixie-node20';

export async function buildTestConfig(): Promise<{ config: Config; cleanup: () => Promise<void> }> {
  const base = await testConfig();
  // The models' source directories: the one local root the step containers see (read-only).
  const root = await mkdtemp(join(tmpdir(), 'dyff-build-models-'));
  const settings = {
    runner: 'docker' as const,
    builder: 'docker' as const,
    docker: { ...base.config.docker, image: projectImage() },
    sources: { ...base.config.sources, localRoots: [root] },
  };
  const config = { ...base.config, ...settings };
  // A `dyffctl worker` process reads the same settings from its config file.
  await writeFile(join(config.dataHome, 'dyff.config.yaml'), stringify(settings));
  return {
    config,
    cleanup: async () => {
      await base.cleanup();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A tiny server that answers the session contract: GET /ready, POST /generate {text} → {predictions}. */
export const SERVER_MJS = `import { createServer } from 'node:http';
const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
createServer((req, res) => {
  if (req.url === '/ready') return send(res, 200, { status: 'ready' });
  if (req.method !== 'POST' || req.url !== '/generate') return send(res, 404, { error: 'no route' });
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const { text } = JSON.parse(body);
    send(res, 200, { predictions: [{ label: text.length % 2 ? 'odd' : 'even', score: 1 }] });
  });
}).listen(Number(process.env.PORT ?? 8000), '0.0.0.0');
`;

/** A Dockerfile FROM the base image, labelled with the run (`dyff-test`), then `lines`. */
export function dockerfile(run: string, ...lines: string[]): string {
  return [`FROM ${BASE}`, `LABEL dyff-test=${run}`, ...lines, ''].join('\n');
}

/** Model files in a directory under the local root: `files` by relative path. */
export async function modelDir(config: Config, files: Record<string, string>): Promise<string> {
  const dir = join(config.sources.localRoots[0]!, newId());
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

export function entities(temporal: Client, config: Config, store: () => EntityStore) {
  const started: string[] = [];
  return {
    started,
    async start(kind: EntityKind, spec: unknown): Promise<string> {
      const id = newId();
      started.push(id);
      await temporal.workflow.start(`${kind.charAt(0).toLowerCase()}${kind.slice(1)}Workflow`, {
        workflowId: workflowIdFor(kind, id),
        taskQueue: config.temporal.taskQueue,
        args: [{ id, account: 'build', spec }],
      });
      return id;
    },
    finished(id: string, timeoutMs = 180_000): Promise<Entity> {
      const ended = ['Ready', 'Error', 'Terminated', 'Complete', 'Failed'];
      return until(
        `entity ${id} to finish`,
        async () => {
          const e = await store().get(id);
          return e && ended.includes(e.status) ? e : undefined;
        },
        timeoutMs,
      );
    },
  };
}

export async function description(store: ObjectStore, id: string): Promise<ServiceDescription> {
  const buf = await store.getBuffer('inferenceservices', `${id}/service.json`);
  return JSON.parse(buf.toString('utf8')) as ServiceDescription;
}

/** The service's `image-build` log chunks, by activity attempt. */
export async function buildLogs(store: ObjectStore, id: string): Promise<Map<number, string>> {
  const logs = new Map<number, string>();
  for (const o of await store.list('inferenceservices', `${id}/.dyff/logs/image-build/`)) {
    const attempt = Number(/image-build\/(\d+)\//.exec(o.key)?.[1]);
    logs.set(attempt, (await store.getBuffer('inferenceservices', o.key)).toString('utf8'));
  }
  return logs;
}

/** Containers (any state) whose command carries `marker`: a build's RUN step. */
export async function containersRunning(marker: string) {
  const all = await docker.listContainers({ all: true });
  return all.filter((c) => c.Command.includes(marker));
}

/** Every image with the labels, layers included (a build's layers carry its labels too). */
function imagesLabelled(...labels: string[]) {
  return docker.listImages({ all: true, filters: { label: labels } });
}

/** The image a finished build of (service, try) tagged: none, or one. */
export async function builtImages(id: string, attempt = 1) {
  const tag = `dyff-inferenceservice-${id}:try-${attempt}`;
  return docker.listImages({ filters: { reference: [tag] } });
}

/** Every image of a run's builds, intermediate ones included (the test Dockerfiles label them `dyff-test`). */
function layersOfRun(run: string) {
  return docker.listImages({ all: true, filters: { label: [`dyff-test=${run}`] } });
}

/** Remove what a run's tests made: entity containers, and every image labelled with the run, newest first. */
export async function removeRun(run: string, ids: string[]): Promise<void> {
  for (const id of ids) await removeEntityContainers(id);
  const images = [
    ...(await layersOfRun(run)),
    ...(await Promise.all(ids.map((id) => imagesLabelled(`dyff-entity=${id}`)))).flat(),
  ].sort((a, b) => b.Created - a.Created);
  for (const image of images) {
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
  }
}
