import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Config } from '../../config.js';
import { configEnv } from '../../config.js';
import { localSecrets } from '../../secrets/resolver.js';
import { DockerImageBuilder } from '../image-builder/docker.js';
import { DockerJobRunner } from '../job-runner/docker.js';
import { DockerSessionRunner } from '../session-runner/docker.js';
import type { BindMount } from './hardening.js';

/**
 * What containers see of this machine under `runner: docker`. With the filesystem store, its tree (at the same
 * path, so the configuration's paths hold inside): writable for steps, read-only for sessions. The local sources'
 * roots, read-only. A tmpfs over `<dataHome>/work` (steps' and sessions' scratch). Nothing else of the data home:
 * not the entity store, not the secrets (the runner resolves a step's granted secrets into its environment).
 */
function storage(config: Config): { binds: BindMount[]; scratchPaths: string[] } {
  const binds: BindMount[] = [];
  if (config.objectStore === 'filesystem') {
    const objects = join(config.dataHome, 'objects');
    mkdirSync(objects, { recursive: true });
    binds.push({ path: objects, readOnly: false });
  }
  for (const root of config.sources.localRoots) binds.push({ path: root, readOnly: true });
  return { binds, scratchPaths: [join(config.dataHome, 'work')] };
}

function engine(config: Config): Docker {
  return new Docker(config.docker.socketPath ? { socketPath: config.docker.socketPath } : undefined);
}

export function createDockerJobRunner(config: Config): DockerJobRunner {
  return new DockerJobRunner({
    docker: engine(config),
    image: config.docker.image,
    env: configEnv(config),
    ...storage(config),
    networks: { internet: config.docker.internetNetwork, storage: config.docker.storageNetwork },
    secrets: localSecrets({ dataHome: config.dataHome }),
    scratch: { scratch: config.docker.scratch, defaultScratch: config.docker.defaultScratch },
  });
}

export function createDockerSessionRunner(config: Config): DockerSessionRunner {
  return new DockerSessionRunner({
    docker: engine(config),
    image: config.docker.image,
    env: configEnv(config),
    ...storage(config),
    storageNetwork: config.docker.storageNetwork,
    secrets: localSecrets({ dataHome: config.dataHome }),
    scratch: { scratch: config.docker.scratch, defaultScratch: config.docker.defaultScratch },
  });
}

/** Builds into the same engine that runs the sessions; a generated Dockerfile starts from the project image. */
export function createDockerImageBuilder(config: Config): DockerImageBuilder {
  return new DockerImageBuilder({
    docker: engine(config),
    baseImage: config.docker.builder.baseImage ?? config.docker.image,
    network: config.docker.builder.network,
  });
}
