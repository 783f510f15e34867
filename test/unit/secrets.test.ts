import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildJob } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import { sessionDeployment } from '../../src/adapters/session-runner/kubernetes-manifest.js';
import { InferenceServiceSpec, ModelSpec } from '../../src/domain/specs.js';
import { secretEnvName } from '../../src/domain/secrets.js';
import { localSecrets, resolveEnv } from '../../src/secrets/resolver.js';

const ref = (name: string, key: string) => ({ secretRef: { name, key } });
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'dyff-secrets-'));
  await mkdir(join(home, 'secrets'));
  await writeFile(join(home, 'secrets', 'openai.json'), JSON.stringify({ 'api-key': 'sk-file' }), {
    mode: 0o600,
  });
  await writeFile(join(home, 'secrets.yaml'), 'hub:\n  token: hf_yaml\n', { mode: 0o600 });
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('secret references in specs', () => {
  it('takes a reference or a plain value in runner.env, and a reference for apiKey and the Hub token', () => {
    const service = InferenceServiceSpec.parse({
      runner: {
        kind: 'openai',
        endpoint: 'http://x',
        env: { A: 'plain', B: ref('s', 'k') },
        apiKey: ref('s', 'k'),
      },
    });
    expect(service.runner.env?.B).toEqual(ref('s', 'k'));
    expect(() =>
      ModelSpec.parse({ source: { kind: 'huggingFaceHub', repoID: 'o/n', token: 'hf_inline' } }),
    ).toThrow(/token/);
    expect(() => InferenceServiceSpec.parse({ runner: { kind: 'http', apiKey: 'sk-inline' } })).toThrow(
      /apiKey/,
    );
    expect(() =>
      InferenceServiceSpec.parse({ runner: { kind: 'http', env: { A: ref('BAD NAME', 'k') } } }),
    ).toThrow(/secret name/);
  });
});

describe('localSecrets', () => {
  it('reads secrets/<name>.json, then secrets.yaml, with the DYFF_SECRET_ variable first', async () => {
    const secrets = localSecrets({ dataHome: home, env: {} });
    expect(await secrets.resolve(ref('openai', 'api-key'))).toBe('sk-file');
    expect(await secrets.resolve(ref('hub', 'token'))).toBe('hf_yaml');
    const env = { [secretEnvName(ref('hub', 'token'))]: 'hf_env' };
    expect(await localSecrets({ dataHome: home, env }).resolve(ref('hub', 'token'))).toBe('hf_env');
    expect(await resolveEnv({ A: 'plain', B: ref('openai', 'api-key') }, secrets)).toEqual({
      A: 'plain',
      B: 'sk-file',
    });
  });

  it('names the secret and where it looked when it is missing', async () => {
    const secrets = localSecrets({ dataHome: home, env: {} });
    await expect(secrets.resolve(ref('nope', 'k'))).rejects.toThrow(
      /secret nope\/k not found: set DYFF_SECRET_NOPE__K/,
    );
    await expect(secrets.resolve(ref('openai', 'other'))).rejects.toThrow(
      /openai\.json has no string value for key "other"/,
    );
  });

  it('refuses a secrets file readable by group or others, without printing its content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dyff-secrets-open-'));
    await writeFile(join(dir, 'secrets.yaml'), 'hub:\n  token: hf_world_readable\n');
    await chmod(join(dir, 'secrets.yaml'), 0o644);
    const err = await localSecrets({ dataHome: dir, env: {} })
      .resolve(ref('hub', 'token'))
      .catch((e: Error) => e);
    expect(String(err)).toMatch(
      /secrets\.yaml: secrets file is readable by group or others \(mode 644\); chmod 600/,
    );
    expect(String(err)).not.toContain('hf_world_readable');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('Kubernetes manifests', () => {
  it('give a session Deployment secretKeyRefs for referenced env, and plain values as they are', () => {
    const d = sessionDeployment(
      {
        name: 'session-x',
        entityId: 'e',
        description: {
          serviceId: 's',
          runner: 'standalone',
          command: ['serve-model'],
          endpoint: '/generate',
          interface: {},
          env: { PLAIN: 'v', TOKEN: ref('canary', 'value') },
        },
      },
      {},
    );
    const env = d.spec!.template.spec!.containers[0]!.env!;
    expect(env).toContainEqual({ name: 'PLAIN', value: 'v' });
    expect(env).toContainEqual({
      name: 'TOKEN',
      valueFrom: { secretKeyRef: { name: 'canary', key: 'value' } },
    });
  });

  it('grant a Job the secrets of its spec as secretKeyRefs in DYFF_SECRET_ variables', () => {
    const job = buildJob(
      {
        name: 'j-1',
        entityId: 'e',
        stage: 'evaluate',
        args: ['evaluate'],
        secrets: [ref('openai', 'api-key')],
      },
      {
        image: 'i',
        imagePullPolicy: 'Never',
        argsPrefix: [],
        env: {},
        ttlSecondsAfterFinished: 1,
        runAsUser: 1000,
      },
    );
    expect(job.spec!.template.spec!.containers[0]!.env).toContainEqual({
      name: 'DYFF_SECRET_OPENAI__API_KEY',
      valueFrom: { secretKeyRef: { name: 'openai', key: 'api-key' } },
    });
  });
});
