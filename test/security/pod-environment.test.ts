import { describe, expect, it } from 'vitest';
import { buildJob } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import { sessionDeployment } from '../../src/adapters/session-runner/kubernetes-manifest.js';
import { configEnv, loadConfig } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import { STEP_ENVIRONMENT, stepEnvironment } from '../../src/domain/step-environment.js';
import { DYFF_CANARY, HF_CANARY } from './helpers/canary.js';

/**
 * The pods a Kubernetes runner makes carry only what their program needs: the configuration, the job's name and
 * the settings of the step catalogue. The worker's secrets never appear in a manifest as values.
 */
const worker = {
  HF_TOKEN: HF_CANARY,
  HF_ENDPOINT: 'https://hub.internal.example',
  DYFF_CANARY_SECRET: DYFF_CANARY,
  GOOGLE_APPLICATION_CREDENTIALS: '/var/secrets/worker-key.json',
  PATH: '/usr/bin',
  HOME: '/home/worker',
};
const config = configEnv(
  loadConfig({ runner: 'kubernetes', dataHome: '/data' }, { DYFF_CONFIG: '/nonexistent.yaml' }),
);
const options = {
  image: 'dyff:test',
  imagePullPolicy: 'Never' as const,
  argsPrefix: ['step'],
  env: config,
  workerEnv: worker,
  ttlSecondsAfterFinished: 60,
  runAsUser: 1000,
};

function podEnv(step: string): Record<string, string> {
  const job = buildJob(
    { name: `${step}-job-1`, entityId: newId(), stage: step, args: [step, '--id', newId()] },
    options,
  );
  const env = job.spec!.template.spec!.containers[0]!.env ?? [];
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? '']));
}

describe('pod environments', () => {
  it.each(Object.keys(STEP_ENVIRONMENT).filter((p) => p !== 'session'))(
    'the %s pod gets the configuration and its own settings, nothing of the worker else',
    (step) => {
      const env = podEnv(step);
      const expected = new Set([
        ...Object.keys(config),
        'DYFF_JOB_NAME',
        ...(step === 'fetch-model' || step === 'fetch-data' ? ['HF_ENDPOINT'] : []),
      ]);
      expect(new Set(Object.keys(env))).toEqual(expected);
      expect(JSON.stringify(env)).not.toContain(HF_CANARY);
      expect(JSON.stringify(env)).not.toContain(DYFF_CANARY);
      // A pod on Kubernetes has no local roots unless an operator configured some.
      expect(env.DYFF_LOCAL_ROOTS).toBe('');
    },
  );

  it('a session Deployment refuses a stored description that sets a loader variable', () => {
    const spec = {
      name: `session-${newId()}`,
      entityId: newId(),
      description: {
        serviceId: newId(),
        runner: 'standalone' as const,
        command: ['serve-model'],
        env: { LD_PRELOAD: '/tmp/evil.so' },
        endpoint: '/generate',
        interface: {},
      },
    };
    expect(() => sessionDeployment(spec, { env: config })).toThrow(/runner\.env may not set LD_PRELOAD/);
  });

  it("a session Deployment keeps the service's permitted variables but cannot override the platform's", () => {
    const d = sessionDeployment(
      {
        name: `session-${newId()}`,
        entityId: newId(),
        description: {
          serviceId: newId(),
          runner: 'standalone',
          command: ['serve-model'],
          env: { GREETING: 'hello' },
          endpoint: '/generate',
          interface: {},
        },
      },
      { env: config },
    );
    const env = Object.fromEntries(d.spec!.template.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env.GREETING).toBe('hello');
    expect(env.DYFF_DATA_HOME).toBe('/data');
    expect(env.HF_TOKEN).toBeUndefined();
  });

  it('a local step gets the runtime it needs and, for the fetch steps alone, the Hub token', () => {
    const local = (p: string) => stepEnvironment(p, { config, worker, placement: 'local' });
    expect(local('fetch-model').HF_TOKEN).toBe(HF_CANARY);
    expect(local('fetch-data').HF_TOKEN).toBe(HF_CANARY);
    expect(local('ingest-dataset').HF_TOKEN).toBeUndefined();
    expect(local('session').HF_TOKEN).toBeUndefined();
    expect(local('evaluate').PATH).toBe('/usr/bin');
    expect(local('evaluate').HOME).toBeUndefined();
    expect(JSON.stringify(local('report'))).not.toContain(DYFF_CANARY);
  });
});
