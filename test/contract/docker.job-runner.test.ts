import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerJobRunner } from '../../src/adapters/job-runner/docker.js';
import { baseImage, docker, noDocker } from '../support/docker.js';
import { jobRunnerContract } from './job-runner.case.js';

/*
 * The JobRunner contract against a real Docker engine: each job is a container of the Debian base image running
 * the fake step (bind-mounted read-only), hardened as every step container is.
 */
const fakeStep = resolve(import.meta.dirname, '../support/fake-step.mjs');
let image = '';

describe.skipIf(noDocker)('docker', () => {
  beforeAll(() => {
    image = baseImage();
  }, 600_000);

  // Finished containers stay (their exit code outlives the worker) until something removes them: the suite does.
  afterAll(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: ['io.dyff.stage=test'] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  });

  async function harness() {
    const dir = await mkdtemp(join(tmpdir(), 'dyff-docker-step-'));
    await copyFile(fakeStep, join(dir, 'fake-step.mjs'));
    const runner = new DockerJobRunner({
      docker,
      image,
      argsPrefix: ['node', join(dir, 'fake-step.mjs')],
      binds: [{ path: dir, readOnly: true }],
      pollMs: 250,
    });
    return {
      runner,
      capabilities: { logs: true, env: true },
      // `docker rm -f` behind the runner's back.
      vanish: (name: string) => docker.getContainer(name).remove({ force: true }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }

  jobRunnerContract('DockerJobRunner', harness, 120_000);

  it('runs a step hardened: non-root, read-only root, no capabilities, the limits asked for', async () => {
    const h = await harness();
    const name = `hardening-check-${Date.now()}`;
    try {
      await h.runner.start({
        name,
        entityId: 'e',
        stage: 'test',
        args: ['test-sleep', '--ms', '10'],
        resources: { cpu: '500m', memory: '256Mi' },
      });
      const info = await docker.getContainer(name).inspect();
      expect(info.Config.User).not.toMatch(/^0(:|$)/);
      expect(info.HostConfig).toMatchObject({
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        Memory: 256 * 2 ** 20,
        NanoCpus: 5e8,
        NetworkMode: 'none',
      });
      expect(Object.keys(info.HostConfig.Tmpfs ?? {})).toContain('/tmp');
      expect((await h.runner.wait(name)).phase).toBe('succeeded');
    } finally {
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
      await h.cleanup();
    }
  }, 120_000);

  it('types an OOM kill as oom and a kill at the deadline as deadline, as Kubernetes does', async () => {
    const h = await harness();
    const entityId = `endings-${Date.now()}`;
    // Memory the step keeps touching until the kernel kills it at the container's limit.
    const hog = ['test-hog'];
    const oomRunner = new DockerJobRunner({
      docker,
      image,
      argsPrefix: ['node', '-e', 'const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))'],
      pollMs: 250,
    });
    try {
      await oomRunner.start({
        name: `${entityId}-oom`,
        entityId,
        stage: 'test',
        args: hog,
        resources: { memory: '64Mi' },
      });
      expect(await oomRunner.wait(`${entityId}-oom`)).toMatchObject({ phase: 'failed', outcome: 'oom' });
      const name = `${entityId}-deadline`;
      await h.runner.start({
        name,
        entityId,
        stage: 'test',
        args: ['test-sleep', '--ms', '60000'],
        activeDeadlineSeconds: 2,
      });
      expect(await h.runner.wait(name)).toMatchObject({ phase: 'failed', outcome: 'deadline' });
    } finally {
      await oomRunner.close();
      await h.runner.close();
      await h.cleanup();
    }
  }, 120_000);
});
