import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { docker, noDocker, projectImage } from '../../support/docker.js';
import { temporalClient, testConfig } from '../../support/temporal.js';
import { until } from '../../support/worker-process.js';

/*
 * The project image built here (scripts/docker-image.mjs: a Debian base made with debootstrap, the checkout's
 * dist/ and production modules) runs `dyffctl` hardened, and runs the worker: it connects to Temporal (on this
 * machine's loopback, hence the host's network) and polls its task queue.
 */
let image = '';
let client: Client;
let cleanup: () => Promise<void>;
let taskQueue = '';
const WORKER = `dyff-image-worker-${process.pid}`;

async function run(cmd: string[], env: string[] = []): Promise<{ code: number; output: string }> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (b: Buffer) => chunks.push(b));
  const [result] = (await docker.run(image, cmd, sink, {
    User: '1000:1000',
    Env: env,
    HostConfig: {
      AutoRemove: true,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Tmpfs: { '/tmp': 'rw,size=64m' },
      NetworkMode: 'none',
    },
  })) as [{ StatusCode: number }];
  return { code: result.StatusCode, output: Buffer.concat(chunks).toString('utf8') };
}

describe.skipIf(noDocker)('the project image', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    image = projectImage();
    const t = await testConfig();
    cleanup = t.cleanup;
    taskQueue = t.config.temporal.taskQueue;
    client = await temporalClient(t.config);
  }, 900_000);

  afterAll(async () => {
    await docker
      .getContainer(WORKER)
      .remove({ force: true })
      .catch(() => {});
    await client?.connection.close();
    await cleanup?.();
  });

  it('runs dyffctl from the compiled dist/, as a non-root user on a read-only root', async () => {
    const { code, output } = await run(['version']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/dist\//);
  });

  it("runs a step from the build's bundle with its code cache, which the image's Node accepts", async () => {
    const id = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const spec = JSON.stringify({ source: { kind: 'local', path: '/app/bin' } });
    const { code, output } = await run(
      ['step', 'fetch-data', '--id', id, '--spec', spec],
      ['DYFF_CODE_CACHE=report', 'DYFF_DATA_HOME=/tmp/data', 'DYFF_LOCAL_ROOTS=/app/bin'],
    );
    expect(code, output).toBe(0);
    expect(output.split(/\r?\n/).slice(0, 2)).toEqual(['code cache: accepted', `fetch-data ${id}: start`]);
    expect(output).toContain(`fetch-data ${id}: done`);
  });

  it('runs the worker: it polls its task queue on the Temporal server', async () => {
    const worker = await docker.createContainer({
      name: WORKER,
      Image: image,
      Cmd: ['worker'],
      User: '1000:1000',
      Env: [
        `DYFF_TEMPORAL_ADDRESS=${inject('temporalAddress')}`,
        `DYFF_TASK_QUEUE=${taskQueue}`,
        'DYFF_DATA_HOME=/tmp/dyff',
        'DYFF_REAPER_PERIOD_SECONDS=0',
      ],
      HostConfig: {
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        Tmpfs: { '/tmp': 'rw,size=256m' },
        // Temporal listens on this machine's loopback only.
        NetworkMode: 'host',
      },
    });
    await worker.start();
    const pollers = await until(
      'the worker in the container to poll its task queue',
      async () => {
        const info = await worker.inspect();
        if (!info.State.Running) throw new Error(`the worker container exited ${info.State.ExitCode}`);
        const res = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        return res.pollers?.length ? res.pollers : undefined;
      },
      120_000,
    );
    expect(pollers.length).toBeGreaterThan(0);
  });
});
