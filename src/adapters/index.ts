/**
 * The one place that switches on backend kind: configuration in, adapters out. Every adapter is imported when it is
 * created: the embedded default loads none of the cloud clients, and a step (which needs only the object store)
 * none of the runners.
 */
import { basename, join, resolve } from 'node:path';
import { NO_BUILDER } from '../builder-config.js';
import type { Config } from '../config.js';
import { configEnv } from '../config.js';
import type { EntityStore } from '../ports/entity-store.js';
import type { ImageBuilderChoice } from '../ports/image-builder.js';
import type { JobRunner } from '../ports/job-runner.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { SessionRunner } from '../ports/session-runner.js';

export interface Adapters {
  entityStore: EntityStore;
  objectStore: ObjectStore;
  jobRunner: JobRunner;
  sessionRunner: SessionRunner;
  /** The image builder of services with `spec.build` (`builder` in config), or why there is none. */
  imageBuilder?: ImageBuilderChoice;
  close(): Promise<void>;
}

/** The program a local session runs: this project's CLI, `dyffctl …`. */
export const DYFFCTL_COMMAND = [process.execPath, resolve(import.meta.dirname, '../../bin/dyffctl.mjs')];

/**
 * `dyffctl step` as the local job runner starts it. Where this code runs from dist/, through bin/dyff-step.cjs,
 * straight to the build's step bundle: the step runs the same build as the worker, without the ES module loader and
 * the freshness check of bin/dyffctl.mjs on its way (without a bundle, the launcher hands over to bin/dyffctl.mjs).
 * From the sources (tsx, the tests), through bin/dyffctl.mjs, which runs dist/ or the sources, whichever matches
 * src/ now.
 */
export function stepCommand(): string[] {
  if (basename(resolve(import.meta.dirname, '..')) === 'dist')
    return [process.execPath, resolve(import.meta.dirname, '../../bin/dyff-step.cjs'), 'step'];
  return [...DYFFCTL_COMMAND, 'step'];
}

export async function createObjectStore(config: Config): Promise<ObjectStore> {
  switch (config.objectStore) {
    case 'filesystem': {
      const { FilesystemObjectStore } = await import('./object-store/filesystem.js');
      return new FilesystemObjectStore({ root: join(config.dataHome, 'objects') });
    }
    case 'gcs': {
      const { GcsObjectStore } = await import('./object-store/gcs.js');
      return new GcsObjectStore({
        buckets: config.gcs.buckets,
        projectId: config.gcs.projectId,
        apiEndpoint: config.gcs.apiEndpoint,
      });
    }
  }
}

export async function createEntityStore(config: Config): Promise<EntityStore> {
  switch (config.entityStore) {
    case 'sqlite': {
      const { SqliteEntityStore } = await import('./entity-store/sqlite.js');
      return new SqliteEntityStore({ path: join(config.dataHome, 'entities.sqlite') });
    }
    case 'datastore': {
      const { DatastoreEntityStore } = await import('./entity-store/datastore.js');
      return new DatastoreEntityStore({
        projectId: config.datastore.projectId,
        apiEndpoint: config.datastore.apiEndpoint,
        namespace: config.datastore.namespace,
      });
    }
  }
}

export async function createJobRunner(config: Config): Promise<JobRunner> {
  switch (config.runner) {
    case 'local': {
      const { LocalProcessJobRunner } = await import('./job-runner/local-process.js');
      return new LocalProcessJobRunner({
        root: join(config.dataHome, 'jobs'),
        command: stepCommand(),
        env: configEnv(config),
      });
    }
    case 'kubernetes': {
      const { KubernetesJobRunner } = await import('./job-runner/kubernetes.js');
      return new KubernetesJobRunner({
        namespace: config.kubernetes.namespace,
        image: config.kubernetes.image,
        kubeConfig: config.kubernetes.kubeconfig,
        env: configEnv(config),
        scratch: { scratch: config.kubernetes.scratch, defaultScratch: config.kubernetes.defaultScratch },
      });
    }
    case 'docker':
      return (await import('./docker/create.js')).createDockerJobRunner(config);
  }
}

/** Sessions follow the job runner: local processes, Deployments + Services on Kubernetes, or containers. */
export async function createSessionRunner(config: Config): Promise<SessionRunner> {
  switch (config.runner) {
    case 'local': {
      const { LocalSessionRunner } = await import('./session-runner/local-process.js');
      const { localSecrets } = await import('../secrets/resolver.js');
      return new LocalSessionRunner({
        root: join(config.dataHome, 'sessions'),
        command: DYFFCTL_COMMAND,
        env: configEnv(config),
        secrets: localSecrets({ dataHome: config.dataHome }),
      });
    }
    case 'kubernetes': {
      const { KubernetesSessionRunner } = await import('./session-runner/kubernetes.js');
      return new KubernetesSessionRunner({
        namespace: config.kubernetes.namespace,
        image: config.kubernetes.image,
        kubeConfig: config.kubernetes.kubeconfig,
        env: configEnv(config),
        scratch: { scratch: config.kubernetes.scratch, defaultScratch: config.kubernetes.defaultScratch },
      });
    }
    case 'docker':
      return (await import('./docker/create.js')).createDockerSessionRunner(config);
  }
}

/** The image builder: none (a spec with `build` is refused), Cloud Build, or the Docker engine. */
export async function createImageBuilder(config: Config): Promise<ImageBuilderChoice> {
  switch (config.builder) {
    case 'none':
      return { unavailable: NO_BUILDER };
    case 'docker':
      return (await import('./docker/create.js')).createDockerImageBuilder(config);
    case 'cloudbuild': {
      const { CloudBuildImageBuilder } = await import('./image-builder/cloud-build.js');
      const cb = config.cloudbuild;
      return new CloudBuildImageBuilder({
        projectId: cb.projectId!,
        location: cb.location,
        repository: cb.repository,
        apiEndpoint: cb.apiEndpoint,
        pollIntervalMs: cb.pollIntervalMs,
      });
    }
  }
}

export async function createAdapters(config: Config): Promise<Adapters> {
  const [entityStore, objectStore, jobRunner, sessionRunner, imageBuilder] = await Promise.all([
    createEntityStore(config),
    createObjectStore(config),
    createJobRunner(config),
    createSessionRunner(config),
    createImageBuilder(config),
  ]);
  return {
    entityStore,
    objectStore,
    jobRunner,
    sessionRunner,
    imageBuilder,
    async close() {
      await Promise.all([entityStore.close(), jobRunner.close(), sessionRunner.close()]);
    },
  };
}
