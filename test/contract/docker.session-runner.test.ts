import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { evaluationNetwork } from '../../src/adapters/docker/networks.js';
import { DockerSessionRunner } from '../../src/adapters/session-runner/docker.js';
import { localSecrets } from '../../src/secrets/resolver.js';
import { docker, noDocker, projectImage } from '../support/docker.js';
import { sessionRunnerContract } from './session-runner.case.js';

/*
 * The SessionRunner contract against a real Docker engine: each session is a container of the project image
 * running `dyffctl serve-model` on the evaluation's internal network; the worker side (this process) reaches it at
 * its address there. The suite makes its tiny model under the temp dir, so the temp dir of this file is one the
 * sessions see (read-only, at the same path).
 */
const shared = mkdtempSync(join(tmpdir(), 'dyff-docker-sessions-'));
mkdirSync(join(shared, 'tmp'));
process.env.TMPDIR = join(shared, 'tmp');
let image = '';

async function inspect(name: string) {
  try {
    return await docker.getContainer(name).inspect();
  } catch {
    return undefined;
  }
}

describe.skipIf(noDocker)('docker', () => {
  beforeAll(() => {
    image = projectImage();
  }, 900_000);
  afterAll(() => rm(shared, { recursive: true, force: true }));

  sessionRunnerContract('DockerSessionRunner', async () => ({
    runner: new DockerSessionRunner({
      docker,
      image,
      secrets: localSecrets({ dataHome: shared }),
      binds: [{ path: shared, readOnly: true }],
    }),
    servers: async (name) => ((await inspect(name))?.State.Running ? 1 : 0),
    leftovers: async (name) => {
      const out: string[] = [];
      if (await inspect(name)) out.push(`container ${name}`);
      const net = evaluationNetwork(name.replace(/^session-/, ''));
      if (
        await docker
          .getNetwork(net)
          .inspect()
          .catch(() => undefined)
      )
        out.push(`network ${net}`);
      return out;
    },
  }));
});
