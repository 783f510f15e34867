import { describe, expect, it } from 'vitest';
import { createImageBuilder } from '../../src/adapters/index.js';
import { CloudBuildImageBuilder } from '../../src/adapters/image-builder/cloud-build.js';
import { DockerImageBuilder } from '../../src/adapters/image-builder/docker.js';
import { loadConfig } from '../../src/config.js';
import { validateManifest } from '../../src/domain/manifest.js';
import { PipelineServiceSpec } from '../../src/domain/service-spec.js';

const MODEL = 'a'.repeat(32);
const DIGEST = `sha256:${'0f'.repeat(32)}`;

/** The manifest's error text, or undefined when it validates. */
function problem(spec: Record<string, unknown>): string | undefined {
  try {
    validateManifest({ kind: 'InferenceService', account: 'a', spec });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const standalone = (extra: Record<string, unknown>) => ({
  model: MODEL,
  runner: { kind: 'standalone' },
  ...extra,
});

describe('InferenceService spec: image or build', () => {
  it('takes a prebuilt image, by digest or tag, or a build with defaults for context and Dockerfile', () => {
    expect(problem(standalone({ image: `europe-docker.pkg.dev/p/repo/server@${DIGEST}` }))).toBeUndefined();
    expect(problem(standalone({ image: 'registry.local:5000/team/server:1.2' }))).toBeUndefined();
    const m = validateManifest({ kind: 'InferenceService', account: 'a', spec: standalone({ build: {} }) });
    expect((m.spec as { build: unknown }).build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('refuses both at once, naming spec.build', () => {
    const text = problem(standalone({ image: `r.io/x@${DIGEST}`, build: { context: 'srv' } }));
    expect(text).toMatch(/spec\.build.*either image \(prebuilt\) or build, not both/);
  });

  it('refuses a build without a model, and image or build on a remote runner', () => {
    expect(problem({ runner: { kind: 'standalone' }, build: {} })).toMatch(/spec\.build.*needs spec\.model/);
    const remote = { kind: 'openai', endpoint: 'https://api.example.com' };
    expect(problem({ runner: remote, image: 'r.io/x:1' })).toMatch(/spec\.image.*only for runner standalone/);
    expect(problem({ model: MODEL, runner: remote, build: {} })).toMatch(
      /spec\.build.*only for runner standalone/,
    );
  });

  it('refuses a bad image reference, paths leaving the model or context, and bad build-arg names', () => {
    expect(problem(standalone({ image: 'Not An Image' }))).toMatch(/spec\.image.*image reference/);
    expect(problem(standalone({ image: 'r.io/x@sha256:short' }))).toMatch(/spec\.image/);
    expect(problem(standalone({ build: { context: '../other' } }))).toMatch(
      /spec\.build\.context.*relative path/,
    );
    expect(problem(standalone({ build: { dockerfile: '/etc/Dockerfile' } }))).toMatch(
      /spec\.build\.dockerfile/,
    );
    expect(problem(standalone({ build: { args: { 'bad-name': 'x' } } }))).toMatch(/spec\.build\.args/);
    expect(problem(standalone({ build: { tag: 'x' } }))).toMatch(/spec\.build/);
  });

  it("a pipeline's service follows the same rules (its model is the pipeline's)", () => {
    const both = PipelineServiceSpec.safeParse({
      runner: { kind: 'standalone' },
      image: 'r.io/x:1',
      build: {},
    });
    expect(both.success).toBe(false);
    expect(PipelineServiceSpec.safeParse({ runner: { kind: 'standalone' }, build: {} }).success).toBe(true);
  });
});

describe('builder configuration', () => {
  const env = (vars: Record<string, string>) => ({ DYFF_CONFIG: '/nonexistent/dyff.config.yaml', ...vars });

  it('defaults to none; cloudbuild settings come from DYFF_* variables', () => {
    expect(loadConfig({}, env({})).builder).toBe('none');
    const c = loadConfig(
      {},
      env({
        DYFF_BUILDER: 'cloudbuild',
        DYFF_CLOUDBUILD_PROJECT: 'p1',
        DYFF_CLOUDBUILD_ENDPOINT: 'http://127.0.0.1:9999',
      }),
    );
    expect(c).toMatchObject({
      builder: 'cloudbuild',
      cloudbuild: { projectId: 'p1', location: 'us-central1', repository: 'dyff-models' },
    });
  });

  it('docker builds into the engine that runner: docker runs; its base image and network come from docker.builder', () => {
    expect(() => loadConfig({ builder: 'docker' }, env({}))).toThrow(/builder: docker .*set runner: docker/);
    const c = loadConfig(
      {},
      env({
        DYFF_BUILDER: 'docker',
        DYFF_RUNNER: 'docker',
        DYFF_DOCKER_BUILDER_BASE_IMAGE: 'dyff-base:trixie-node20',
        DYFF_DOCKER_BUILDER_NETWORK: 'dyff-build',
      }),
    );
    expect(c.docker.builder).toEqual({ baseImage: 'dyff-base:trixie-node20', network: 'dyff-build' });
    expect(loadConfig({ runner: 'docker', builder: 'docker' }, env({})).docker.builder).toEqual({
      network: 'none',
    });
    expect(() => loadConfig({ docker: { builder: { basImage: 'x' } } } as never, env({}))).toThrow(
      /docker\.builder/,
    );
  });

  it('refuses an unknown builder, cloudbuild without a project, and a bad endpoint, naming the key', () => {
    expect(() => loadConfig({}, env({ DYFF_BUILDER: 'kaniko' }))).toThrow(/builder:/);
    expect(() => loadConfig({}, env({ DYFF_BUILDER: 'cloudbuild' }))).toThrow(
      /cloudbuild\.projectId: required/,
    );
    expect(() => loadConfig({ cloudbuild: { apiEndpoint: 'ftp://x' } }, env({}))).toThrow(
      /cloudbuild\.apiEndpoint/,
    );
  });

  it('none builds nothing and says why, naming the key; docker and cloudbuild are their adapters', async () => {
    const none = await createImageBuilder(loadConfig({}, env({})));
    expect(none).toEqual({ unavailable: expect.stringMatching(/builder: none.*set builder: cloudbuild/) });
    const docker = await createImageBuilder(
      loadConfig({}, env({ DYFF_BUILDER: 'docker', DYFF_RUNNER: 'docker' })),
    );
    expect(docker).toBeInstanceOf(DockerImageBuilder);
    expect((docker as DockerImageBuilder).generatedDockerfile()).toMatch(/^FROM dyff-temporal:dev$/m);
    const cb = await createImageBuilder(
      loadConfig({ builder: 'cloudbuild', cloudbuild: { projectId: 'p' } }, env({})),
    );
    expect(cb).toBeInstanceOf(CloudBuildImageBuilder);
  });
});
