/**
 * The Cloud Build adapter against a fake client: Cloud Build cannot be reached from the development machines, so
 * what is tested here is our side of the API — the request we send and how each build status is handled.
 */
import { describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/cloudbuild';
import type { CloudBuildClientLike } from '../../src/adapters/image-builder/cloud-build.js';
import { CloudBuildImageBuilder } from '../../src/adapters/image-builder/cloud-build.js';
import { DyffError } from '../../src/domain/errors.js';
import type { ImageBuildRequest, ImageBuildStatus } from '../../src/ports/image-builder.js';

type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

const IMAGE = 'us-central1-docker.pkg.dev/proj-1/dyff-models/inferenceservice-svc1';
const DIGEST = 'sha256:' + 'ab'.repeat(32);
const LOG_URL = 'https://console.cloud.google.com/cloud-build/builds/b-1?project=1';
const REQ: ImageBuildRequest = {
  serviceId: 'svc1',
  source: {
    uri: 'gs://dyff-inferenceservices-0123/inferenceservices/svc1/source.tar.gz',
    open: () => Promise.reject(new Error('Cloud Build reads the source from GCS, never through the worker')),
  },
};

/** A fake CloudBuildClient: `getBuild` answers from a script (the last entry repeats); every call is recorded. */
function fakeClient(script: (IBuild | Error)[], opts: { createError?: Error; cancelError?: Error } = {}) {
  const calls: { method: string; req: unknown }[] = [];
  let i = 0;
  const client: CloudBuildClientLike = {
    async createBuild(req) {
      calls.push({ method: 'createBuild', req });
      if (opts.createError) throw opts.createError;
      return [{ name: 'operations/op-1', metadata: { build: { id: 'b-1', status: 'QUEUED' } } }];
    },
    async getBuild(req) {
      calls.push({ method: 'getBuild', req });
      const next = script[Math.min(i++, script.length - 1)];
      if (next instanceof Error) throw next;
      return [{ id: 'b-1', logUrl: LOG_URL, ...next }];
    },
    async listBuilds(req) {
      calls.push({ method: 'listBuilds', req });
      return [[]];
    },
    async cancelBuild(req) {
      calls.push({ method: 'cancelBuild', req });
      if (opts.cancelError) throw opts.cancelError;
      return [{ id: 'b-1', status: 'CANCELLED' }];
    },
  };
  return { client, calls, methods: () => calls.map((c) => c.method) };
}

function grpcError(code: number, message: string): Error {
  return Object.assign(new Error(`${code} ${message}`), { code });
}

function builder(client: CloudBuildClientLike) {
  return new CloudBuildImageBuilder({ projectId: 'proj-1', client, pollIntervalMs: 1 });
}

const success: IBuild = {
  status: 'SUCCESS',
  results: { images: [{ name: `${IMAGE}:latest`, digest: DIGEST }] },
};

describe('CloudBuildImageBuilder', () => {
  it('sends one docker build of the source tarball, pushed to the models repository', async () => {
    const fake = fakeClient([success]);
    await builder(fake.client).build({ ...REQ, dockerfile: 'serve/Dockerfile', tags: { account: 'a b' } });
    expect(fake.calls[0]).toEqual({
      method: 'createBuild',
      req: {
        projectId: 'proj-1',
        parent: 'projects/proj-1/locations/us-central1',
        build: {
          source: {
            storageSource: {
              bucket: 'dyff-inferenceservices-0123',
              object: 'inferenceservices/svc1/source.tar.gz',
            },
          },
          steps: [
            {
              name: 'gcr.io/cloud-builders/docker',
              args: ['build', '-t', `${IMAGE}:latest`, '-f', 'serve/Dockerfile', '.'],
            },
          ],
          images: [`${IMAGE}:latest`],
          tags: ['dyff', 'inferenceservice-svc1', 'account_a-b'],
          timeout: { seconds: 3600 },
          options: { logging: 'CLOUD_LOGGING_ONLY' },
        },
      },
    });
    expect(fake.calls[1]).toEqual({ method: 'getBuild', req: { projectId: 'proj-1', id: 'b-1' } });
  });

  it('uses Dockerfile, and the configured location and repository', async () => {
    const fake = fakeClient([success]);
    const b = new CloudBuildImageBuilder({
      projectId: 'p2',
      location: 'europe-west4',
      repository: 'other',
      client: fake.client,
      pollIntervalMs: 1,
    });
    const result = await b.build(REQ);
    // The fake's results name another image: the first image's digest is used, pinned to our image name.
    expect(result.imageRef).toBe(`europe-west4-docker.pkg.dev/p2/other/inferenceservice-svc1@${DIGEST}`);
    const req = fake.calls[0]?.req as {
      parent: string;
      build: { images: string[]; steps: { args: string[] }[] };
    };
    expect(req.parent).toBe('projects/p2/locations/europe-west4');
    expect(req.build.images).toEqual(['europe-west4-docker.pkg.dev/p2/other/inferenceservice-svc1:latest']);
    expect(req.build.steps[0]?.args[4]).toBe('Dockerfile');
  });

  it('polls QUEUED → WORKING → SUCCESS, reports each status, and returns the digest-pinned image', async () => {
    const fake = fakeClient([{ status: 'QUEUED' }, { status: 'WORKING' }, success]);
    const seen: ImageBuildStatus[] = [];
    const result = await builder(fake.client).build(REQ, { onUpdate: (s) => seen.push(s) });
    expect(result).toEqual({ buildId: 'b-1', imageRef: `${IMAGE}@${DIGEST}`, logUrl: LOG_URL });
    expect(seen.map((s) => s.status)).toEqual(['QUEUED', 'WORKING', 'SUCCESS']);
    expect(seen.every((s) => s.buildId === 'b-1' && s.logUrl === LOG_URL)).toBe(true);
    expect(fake.methods()).toEqual(['createBuild', 'getBuild', 'getBuild', 'getBuild']);
  });

  it('reads numeric statuses too (PENDING=10, WORKING=2, SUCCESS=3)', async () => {
    const fake = fakeClient([{ status: 10 }, { status: 2 }, { ...success, status: 3 }]);
    const seen: string[] = [];
    await builder(fake.client).build(REQ, { onUpdate: (s) => seen.push(s.status) });
    expect(seen).toEqual(['PENDING', 'WORKING', 'SUCCESS']);
  });

  for (const status of ['FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED'] as const) {
    it(`rejects with StepFailed naming the build, ${status}, its detail and logs`, async () => {
      const fake = fakeClient([{ status: 'WORKING' }, { status, statusDetail: 'step 0 exited 1' }]);
      const err = await builder(fake.client)
        .build(REQ)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DyffError);
      expect((err as DyffError).type).toBe('StepFailed');
      expect((err as Error).message).toContain('b-1');
      expect((err as Error).message).toContain(status);
      expect((err as Error).message).toContain('step 0 exited 1');
      expect((err as Error).message).toContain(LOG_URL);
      expect(fake.methods()).not.toContain('cancelBuild');
    });
  }

  it('on abort while WORKING, cancels the build by id and rejects with the abort reason', async () => {
    const fake = fakeClient([{ status: 'WORKING' }]);
    const ac = new AbortController();
    const reason = new Error('activity cancelled');
    const b = new CloudBuildImageBuilder({ projectId: 'proj-1', client: fake.client, pollIntervalMs: 50 });
    const done = b.build(REQ, {
      signal: ac.signal,
      onUpdate: (s) => s.status === 'WORKING' && ac.abort(reason),
    });
    await expect(done).rejects.toBe(reason);
    expect(fake.calls.filter((c) => c.method === 'cancelBuild')).toEqual([
      { method: 'cancelBuild', req: { projectId: 'proj-1', id: 'b-1' } },
    ]);
  });

  it('wait on abort leaves the build running (only cancel stops it): a worker going away must not end a build', async () => {
    const fake = fakeClient([{ status: 'WORKING' }]);
    const ac = new AbortController();
    const b = builder(fake.client);
    const done = b.wait('b-1', 'svc1', {
      signal: ac.signal,
      onUpdate: () => ac.abort(new Error('shutdown')),
    });
    await expect(done).rejects.toThrow('shutdown');
    expect(fake.methods()).not.toContain('cancelBuild');
  });

  it('find lists builds by all the tags given, as they were sent, and takes the newest', async () => {
    const fake = fakeClient([success]);
    fake.client.listBuilds = async (req) => {
      fake.calls.push({ method: 'listBuilds', req });
      return [
        [
          { id: 'b-new', status: 'WORKING' },
          { id: 'b-old', status: 'CANCELLED' },
        ],
      ];
    };
    const found = await builder(fake.client).find({ 'dyff-entity': 'svc1', 'dyff-try': '2' });
    expect(found).toEqual({ buildId: 'b-new', status: 'WORKING' });
    expect(fake.calls[0]!.req).toMatchObject({
      projectId: 'proj-1',
      filter: 'tags="dyff-entity_svc1" AND tags="dyff-try_2"',
    });
    expect(await builder(fakeClient([success]).client).find({ 'dyff-entity': 'x' })).toBeUndefined();
  });

  it('does not start a build when already aborted', async () => {
    const fake = fakeClient([success]);
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(builder(fake.client).build(REQ, { signal: ac.signal })).rejects.toThrow('gone');
    expect(fake.calls).toEqual([]);
  });

  it('PERMISSION_DENIED on create → InvalidSpec saying to enable the API and grant the role', async () => {
    const fake = fakeClient([success], {
      createError: grpcError(7, 'PERMISSION_DENIED: caller lacks permission'),
    });
    const err = (await builder(fake.client)
      .build(REQ)
      .catch((e: unknown) => e)) as DyffError;
    expect(err).toBeInstanceOf(DyffError);
    expect(err.type).toBe('InvalidSpec');
    expect(err.message).toContain('cloudbuild.googleapis.com');
    expect(err.message).toContain('roles/cloudbuild.builds.editor');
    expect(fake.methods()).toEqual(['createBuild']);
  });

  it('NOT_FOUND on create → NotFound saying to create the repository', async () => {
    const fake = fakeClient([success], { createError: grpcError(5, 'NOT_FOUND') });
    const err = (await builder(fake.client)
      .build(REQ)
      .catch((e: unknown) => e)) as DyffError;
    expect(err.type).toBe('NotFound');
    expect(err.message).toContain('gcloud artifacts repositories create dyff-models');
  });

  it('other API errors are rethrown as they are (retryable)', async () => {
    const unavailable = grpcError(14, 'UNAVAILABLE');
    const fake = fakeClient([success], { createError: unavailable });
    await expect(builder(fake.client).build(REQ)).rejects.toBe(unavailable);
  });

  it('tolerates a few transient getBuild failures, then gives up', async () => {
    const ok = fakeClient([grpcError(14, 'UNAVAILABLE'), { status: 'WORKING' }, success]);
    await expect(builder(ok.client).build(REQ)).resolves.toMatchObject({ imageRef: `${IMAGE}@${DIGEST}` });
    const down = grpcError(14, 'UNAVAILABLE');
    const bad = fakeClient([down]);
    await expect(builder(bad.client).build(REQ)).rejects.toBe(down);
    expect(bad.methods().filter((m) => m === 'getBuild')).toHaveLength(4); // first try + 3 tolerated
  });

  it('SUCCESS without a digest is an error', async () => {
    const fake = fakeClient([{ status: 'SUCCESS', results: { images: [] } }]);
    await expect(builder(fake.client).build(REQ)).rejects.toThrow(
      /b-1 succeeded but reported no image digest/,
    );
  });

  it('cancel is idempotent: FAILED_PRECONDITION (already finished) is ignored, other errors are not', async () => {
    const finished = fakeClient([], { cancelError: grpcError(9, 'FAILED_PRECONDITION') });
    await expect(builder(finished.client).cancel('b-1')).resolves.toBeUndefined();
    expect(finished.calls).toEqual([{ method: 'cancelBuild', req: { projectId: 'proj-1', id: 'b-1' } }]);
    const denied = fakeClient([], { cancelError: grpcError(7, 'PERMISSION_DENIED') });
    await expect(builder(denied.client).cancel('b-1')).rejects.toMatchObject({ type: 'InvalidSpec' });
  });

  it('rejects a service id that cannot name an image, before calling the API', async () => {
    const fake = fakeClient([success]);
    await expect(builder(fake.client).build({ ...REQ, serviceId: 'Bad/Id' })).rejects.toMatchObject({
      type: 'InvalidSpec',
    });
    expect(fake.calls).toEqual([]);
  });
});
