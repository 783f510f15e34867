/**
 * The image build of an InferenceService with `spec.build`, through the real workflow, build activity and
 * `@google-cloud/cloudbuild` client, against a local Cloud Build REST server; the build context goes through a
 * fake-gcs-server bucket. A worker SIGKILLed while the build is WORKING leaves it to the next worker, which adopts
 * it (one createBuild); a cancel while building cancels the build.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Adapters } from '../../../src/adapters/index.js';
import { createAdapters } from '../../../src/adapters/index.js';
import type { Config } from '../../../src/config.js';
import type { Entity } from '../../../src/domain/entity.js';
import { newId } from '../../../src/domain/ids.js';
import type { EntityKind } from '../../../src/domain/kinds.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import type { ServiceDescription } from '../../../src/domain/service.js';
import type { CloudBuildServer } from '../../support/cloud-build-server.js';
import { startCloudBuildServer } from '../../support/cloud-build-server.js';
import type { Emulator } from '../../support/gcp-emulators.js';
import { createTestBuckets, startFakeGcs } from '../../support/gcp-emulators.js';

import { startWorker, temporalClient, testConfig } from '../../support/temporal.js';
import { spawnWorker, until } from '../../support/worker-process.js';

let config: Config;
let cleanup: () => Promise<void>;
let gcs: Emulator;
let cb: CloudBuildServer;
let adapters: Adapters;
let temporal: Client;
let modelId: string;

const IMAGE = 'us-central1-docker.pkg.dev/dyff-test/dyff-models/inferenceservice-';
const BUILD = { context: 'srv', dockerfile: 'Dockerfile', args: { MODEL_DIR: '/models' } };

beforeAll(async () => {
  [gcs, cb] = await Promise.all([startFakeGcs(), startCloudBuildServer({ queuedMs: 100, workingMs: 300 })]);
  const base = await testConfig();
  cleanup = base.cleanup;
  const configFile = join(base.config.dataHome, 'dyff.config.yaml');
  const buckets = await createTestBuckets(gcs.endpoint, 'dyfftest', configFile);
  const settings = {
    objectStore: 'gcs' as const,
    gcs: { ...base.config.gcs, apiEndpoint: gcs.endpoint, buckets },
    builder: 'cloudbuild' as const,
    cloudbuild: {
      projectId: 'dyff-test',
      location: 'us-central1',
      repository: 'dyff-models',
      apiEndpoint: cb.url,
      pollIntervalMs: 200,
    },
    // The build activity packs and records under the build step's grants, as GCS IAM would hold it.
    storage: { enforceGrants: true, withholdGrants: [] },
  };
  config = { ...base.config, ...settings };
  // A `dyffctl worker` process reads the same settings from its config file.
  await writeFile(configFile, stringify(settings));
  adapters = await createAdapters(config);
  temporal = await temporalClient(config);

  // A model whose files hold a build context: srv/Dockerfile and srv/app.py; weights.bin stays out of it.
  const dir = join(config.dataHome, 'model');
  await mkdir(join(dir, 'srv'), { recursive: true });
  await writeFile(
    join(dir, 'srv', 'Dockerfile'),
    'FROM python:3.12-slim\nARG MODEL_DIR\nCOPY app.py /app/\n',
  );
  await writeFile(join(dir, 'srv', 'app.py'), 'print("serving")\n');
  await writeFile(join(dir, 'weights.bin'), Buffer.alloc(4096, 7));
  const worker = await startWorker(config, adapters);
  try {
    modelId = await start('Model', { source: { kind: 'local', path: dir } });
    expect((await finished(modelId)).status).toBe('Ready');
  } finally {
    await worker.stop();
  }
}, 240_000);

afterAll(async () => {
  await temporal?.connection.close();
  await adapters?.close();
  await Promise.all([gcs?.stop(), cb?.close()]);
  await cleanup?.();
});

async function start(kind: EntityKind, spec: unknown): Promise<string> {
  const id = newId();
  await temporal.workflow.start(`${kind.charAt(0).toLowerCase()}${kind.slice(1)}Workflow`, {
    workflowId: workflowIdFor(kind, id),
    taskQueue: config.temporal.taskQueue,
    args: [{ id, account: 'build', spec }],
  });
  return id;
}

const service = (build: unknown = BUILD) => ({ model: modelId, runner: { kind: 'standalone' }, build });

async function finished(id: string): Promise<Entity> {
  const ended = ['Ready', 'Error', 'Terminated', 'Complete', 'Failed'];
  return until(
    `entity ${id} to finish`,
    async () => {
      const e = await adapters.entityStore.get(id);
      return e && ended.includes(e.status) ? e : undefined;
    },
    180_000,
  );
}

const buildsOf = (id: string) => cb.builds.filter((b) => b.tags.includes(`dyff-entity_${id}`));

async function description(id: string): Promise<ServiceDescription> {
  const buf = await adapters.objectStore.getBuffer('inferenceservices', `${id}/service.json`);
  return JSON.parse(buf.toString('utf8')) as ServiceDescription;
}

/** The names in a ustar archive. */
function tarNames(tar: Buffer): string[] {
  const names: string[] = [];
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0;) {
    const field = (from: number, len: number) =>
      tar
        .subarray(at + from, at + from + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    names.push(prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    at += 512 + Math.ceil(parseInt(field(124, 12), 8) / 512) * 512;
  }
  return names;
}

it('a service with build: the context packed from the model, one Cloud Build build tagged (entity, try), Ready with the image by digest', async () => {
  const worker = await startWorker(config, adapters);
  try {
    const id = await start('InferenceService', service());
    const e = await finished(id);
    expect(e.status, e.message).toBe('Ready');
    const [build, ...more] = buildsOf(id);
    expect(more).toEqual([]);
    expect(build!.tags).toEqual(expect.arrayContaining([`dyff-entity_${id}`, 'dyff-try_1']));
    expect(build!.steps[0]!.args).toEqual(expect.arrayContaining(['--build-arg', 'MODEL_DIR=/models']));
    expect(build!.source.storageSource).toEqual({
      bucket: config.gcs.buckets.inferenceservices,
      object: `${id}/source.tar.gz`,
    });
    const tarball = await adapters.objectStore.getBuffer('inferenceservices', `${id}/source.tar.gz`);
    expect(tarNames(gunzipSync(tarball)).sort()).toEqual(['Dockerfile', 'app.py']);
    // The digest the build pushed is what sessions of this service run, in the store and the entity's details.
    const image = `${IMAGE}${id}@${build!.digest}`;
    expect((await description(id)).image).toBe(image);
    expect(e.details).toMatchObject({ description: { image } });
  } finally {
    await worker.stop();
  }
}, 120_000);

it('a worker SIGKILLed while the build is WORKING: the next worker adopts the build (one createBuild), Ready with its digest', async () => {
  cb.hold();
  const first = await spawnWorker(config);
  const id = await start('InferenceService', service());
  try {
    await until('the build to be WORKING', async () => buildsOf(id)[0]?.status === 'WORKING', 120_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const listsBefore = cb.count('listBuilds');
    const second = await spawnWorker(config);
    try {
      // The new worker's attempt has looked for the build by its tags; only then may the build finish.
      await until(
        'the next attempt to look for the build',
        async () => cb.count('listBuilds') > listsBefore,
        120_000,
      );
      cb.release();
      const e = await finished(id);
      expect(e.status, e.message).toBe('Ready');
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    const creates = cb.calls.filter((c) => c.method === 'createBuild' && JSON.stringify(c.body).includes(id));
    expect(creates).toHaveLength(1);
    const [build] = buildsOf(id);
    expect((await description(id)).image).toBe(`${IMAGE}${id}@${build!.digest}`);
  } finally {
    cb.release();
  }
}, 300_000);

it('cancel while building: the build is cancelled on the Cloud Build server, the service ends Terminated', async () => {
  cb.hold();
  const worker = await startWorker(config, adapters);
  try {
    const id = await start('InferenceService', service());
    await until('the build to be WORKING', async () => buildsOf(id)[0]?.status === 'WORKING', 120_000);
    await temporal.workflow.getHandle(workflowIdFor('InferenceService', id)).cancel();
    const e = await finished(id);
    expect(e.status, e.message).toBe('Terminated');
    const [build] = buildsOf(id);
    await until('the build to be cancelled', async () => build!.status === 'CANCELLED', 60_000);
    expect(cb.calls.some((c) => c.method === 'cancelBuild' && c.path.includes(build!.id))).toBe(true);
    expect(buildsOf(id)).toHaveLength(1);
  } finally {
    cb.release();
    await worker.stop();
  }
}, 180_000);

it('a worker with builder: none refuses a service with build: Error/BuildFailed naming the builder setting, no build', async () => {
  const none = {
    ...config,
    builder: 'none' as const,
    temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-none` },
  };
  const worker = await startWorker(none);
  try {
    const id = newId();
    await temporal.workflow.start('inferenceServiceWorkflow', {
      workflowId: workflowIdFor('InferenceService', id),
      taskQueue: none.temporal.taskQueue,
      args: [{ id, account: 'build', spec: service() }],
    });
    const e = await finished(id);
    expect(e).toMatchObject({ status: 'Error', reason: 'BuildFailed' });
    expect(e.message).toMatch(/builder: none.*set builder: cloudbuild/);
    expect(buildsOf(id)).toEqual([]);
  } finally {
    await worker.stop();
  }
}, 120_000);
