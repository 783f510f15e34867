import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildJob, type JobTemplateOptions } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import { sessionDeployment } from '../../src/adapters/session-runner/kubernetes-manifest.js';
import { loadConfig } from '../../src/config.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { STEP_CATALOGUE, STEP_NAMES } from '../../src/domain/step-catalogue.js';
import { k8sQuantity } from '../../src/domain/specs.js';
import {
  FALLBACK_SCRATCH,
  SESSION_SCRATCH,
  parseScratchSettings,
  resolveSessionScratch,
  resolveStepResources,
  type ScratchSettings,
} from '../../src/domain/step-resources.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { STEPS } from '../../src/steps/index.js';

const env = (vars: Record<string, string> = {}) => ({
  DYFF_CONFIG: '/nonexistent/dyff.config.yaml',
  ...vars,
});
const ID = '0123456789abcdef0123456789abcdef';
const TEMPLATE: JobTemplateOptions = {
  image: 'dyff-temporal:test',
  imagePullPolicy: 'IfNotPresent',
  argsPrefix: ['step'],
  env: {},
  workerEnv: {},
  ttlSecondsAfterFinished: 60,
  runAsUser: 1000,
};
const job = (args: string[], extra: Partial<JobSpec> = {}, o: Partial<JobTemplateOptions> = {}) => {
  const pod = buildJob(
    { name: `ingest-${ID}-1`, entityId: ID, stage: 'ingest', args, ...extra },
    { ...TEMPLATE, ...o },
  ).spec!.template.spec!;
  return { container: pod.containers[0]!, tmp: pod.volumes!.find((v) => v.name === 'tmp')! };
};

describe('step resources: catalogue default ← configured scratch ← spec', () => {
  it('every catalogue step has cpu, memory and scratch as valid quantities', () => {
    for (const name of STEP_NAMES) {
      const r = STEP_CATALOGUE[name].resources;
      for (const q of [r.cpu, r.memory, r.scratch]) expect(k8sQuantity.safeParse(q).success, name).toBe(true);
    }
  });

  it('takes the catalogue default when nothing overrides it', () => {
    expect(resolveStepResources('ingest-dataset')).toEqual(STEP_CATALOGUE['ingest-dataset'].resources);
    expect(resolveStepResources('test-sleep')).toEqual({ scratch: FALLBACK_SCRATCH });
  });

  it('defaultScratch replaces every catalogue scratch; a per-step scratch wins over it', () => {
    const settings = { scratch: { 'fetch-data': '64Gi' }, defaultScratch: '5Gi' };
    expect(resolveStepResources('fetch-data', settings).scratch).toBe('64Gi');
    expect(resolveStepResources('ingest-dataset', settings).scratch).toBe('5Gi');
    expect(resolveStepResources('test-sleep', settings).scratch).toBe('5Gi');
    expect(resolveStepResources('ingest-dataset', { scratch: { 'fetch-data': '64Gi' } }).scratch).toBe(
      STEP_CATALOGUE['ingest-dataset'].resources.scratch,
    );
  });

  it("the spec's cpu and memory win over the catalogue's, each on its own", () => {
    const defaults = STEP_CATALOGUE['ingest-dataset'].resources;
    expect(resolveStepResources('ingest-dataset', {}, { memory: '3Gi' })).toEqual({
      ...defaults,
      memory: '3Gi',
    });
    expect(resolveStepResources('ingest-dataset', {}, { cpu: '8' })).toEqual({ ...defaults, cpu: '8' });
  });

  it('the catalogue hands the spec resources on only when the spec sets cpu or memory', () => {
    const spec = (resources?: object) =>
      parseManifest(
        JSON.stringify({
          kind: 'Dataset',
          account: 'a',
          spec: { source: { kind: 'local', path: '/d' }, resources },
        }),
      ).spec as never;
    const of = (s: never) => STEP_CATALOGUE['ingest-dataset'].specResources?.({ id: ID, spec: s });
    expect(of(spec())).toBeUndefined();
    expect(of(spec({}))).toBeUndefined();
    expect(of(spec({ memory: '3Gi' }))).toEqual({ memory: '3Gi' });
    expect(STEP_CATALOGUE['fetch-data'].specResources?.({ id: ID, spec: spec({ cpu: '2' }) })).toEqual({
      cpu: '2',
    });
    expect(STEP_CATALOGUE.evaluate.specResources).toBeUndefined();
  });
});

describe('the step Job manifest', () => {
  it('requests cpu, memory and ephemeral-storage, limits memory and ephemeral-storage, sizes /tmp', () => {
    const { container, tmp } = job(
      ['ingest-dataset', '--id', ID],
      { resources: { memory: '3Gi' } },
      {
        scratch: { scratch: { 'ingest-dataset': '60Gi' } },
      },
    );
    const cpu = STEP_CATALOGUE['ingest-dataset'].resources.cpu;
    expect(container.resources).toEqual({
      requests: { cpu, memory: '3Gi', 'ephemeral-storage': '60Gi' },
      limits: { memory: '3Gi', 'ephemeral-storage': '60Gi' },
    });
    expect(tmp.emptyDir).toEqual({ sizeLimit: '60Gi' });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });

  it('keeps the GPU limit; a program outside the catalogue gets the fallback scratch only', () => {
    const { container, tmp } = job(['test-sleep'], { resources: { gpu: { count: 2 } } });
    expect(container.resources).toEqual({
      requests: { 'ephemeral-storage': FALLBACK_SCRATCH },
      limits: { 'ephemeral-storage': FALLBACK_SCRATCH, 'nvidia.com/gpu': '2' },
    });
    expect(tmp.emptyDir?.sizeLimit).toBe(FALLBACK_SCRATCH);
  });
});

describe('the session Deployment', () => {
  const session = (scratch?: ScratchSettings) =>
    sessionDeployment(
      {
        name: `session-${ID}`,
        entityId: ID,
        description: {
          serviceId: ID,
          runner: 'standalone',
          command: ['serve-model'],
          endpoint: '/',
          interface: {},
        },
        resources: { memory: '16Gi' },
      },
      { scratch },
    ).spec!.template.spec!;

  it('sizes /tmp for the model it copies there, requested and limited; the session key, then the default', () => {
    const pod = session();
    expect(pod.containers[0]!.resources).toEqual({
      requests: { memory: '16Gi', 'ephemeral-storage': SESSION_SCRATCH },
      limits: { memory: '16Gi', 'ephemeral-storage': SESSION_SCRATCH },
    });
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: SESSION_SCRATCH } }]);
    expect(session({ defaultScratch: '5Gi' }).volumes![0]!.emptyDir?.sizeLimit).toBe('5Gi');
    const both = session({ scratch: { session: '200Gi' }, defaultScratch: '5Gi' });
    expect(both.volumes![0]!.emptyDir?.sizeLimit).toBe('200Gi');
    expect(both.containers[0]!.resources?.requests?.['ephemeral-storage']).toBe('200Gi');
    expect(resolveSessionScratch({ scratch: { 'fetch-data': '1Gi' } })).toBe(SESSION_SCRATCH);
  });
});

describe('scratch configuration', () => {
  it('comes from the file keys and from DYFF_K8S_SCRATCH / DYFF_K8S_DEFAULT_SCRATCH', () => {
    expect(
      loadConfig({ kubernetes: { scratch: { report: '2Gi' }, defaultScratch: '8Gi' } }, env()).kubernetes,
    ).toMatchObject({ scratch: { report: '2Gi' }, defaultScratch: '8Gi' });
    const fromEnv = loadConfig(
      {},
      env({ DYFF_K8S_SCRATCH: 'fetch-data=40Gi, ingest-dataset = 80Gi', DYFF_K8S_DEFAULT_SCRATCH: '4Gi' }),
    );
    expect(fromEnv.kubernetes).toMatchObject({
      scratch: { 'fetch-data': '40Gi', 'ingest-dataset': '80Gi' },
      defaultScratch: '4Gi',
    });
  });

  it.each([
    [{ scratch: { 'fetch-data': '10 GB' } }, /kubernetes\.scratch\.fetch-data: expected a quantity/],
    [{ defaultScratch: 'lots' }, /kubernetes\.defaultScratch: expected a quantity/],
    [{ scratch: { 'fetch-everything': '1Gi' } }, /kubernetes\.scratch: .*"fetch-everything"/],
  ])('refuses %j, naming the key', (kubernetes, message) => {
    expect(() => loadConfig({ kubernetes } as never, env())).toThrow(message);
    expect(() => parseScratchSettings(kubernetes as never)).toThrow(message);
  });

  it('refuses a bad DYFF_K8S_SCRATCH, naming the key', () => {
    expect(() => loadConfig({}, env({ DYFF_K8S_SCRATCH: 'ingest-dataset=big' }))).toThrow(
      /kubernetes\.scratch\.ingest-dataset/,
    );
  });
});

describe('spec resources', () => {
  it.each([
    ['Dataset', { source: { kind: 'local', path: '/d' } }],
    ['Model', { source: { kind: 'local', path: '/m' } }],
  ])('a %s with a bad quantity is refused, naming the field', (kind, spec) => {
    const manifest = JSON.stringify({ kind, account: 'a', spec: { ...spec, resources: { memory: '3 GB' } } });
    expect(() => parseManifest(manifest, 'x.yaml')).toThrow(/spec\.resources\.memory/);
    expect(() => parseManifest(manifest, 'x.yaml')).toThrow(/expected a quantity/);
  });
});

describe('the step programs take the spec the workflow passes', () => {
  it('fetch-data, ingest-dataset and fetch-model accept spec resources; unknown keys are still refused', () => {
    const source = { kind: 'local', path: '/d' };
    const dataset = { source, resources: { memory: '3Gi' }, deadlineSeconds: 60 };
    expect(STEPS['fetch-data'].spec.safeParse(dataset).success).toBe(true);
    expect(STEPS['ingest-dataset'].spec.safeParse(dataset).success).toBe(true);
    expect(STEPS['ingest-dataset'].spec.safeParse({ ingest: { format: 'csv' } }).success).toBe(true);
    expect(STEPS['ingest-dataset'].spec.safeParse({ ...dataset, extra: 1 }).success).toBe(false);
    expect(STEPS['fetch-model'].spec.safeParse({ source, resources: { cpu: '2' } }).success).toBe(true);
  });
});

it('docs/kubernetes.md lists every step with the catalogue’s defaults', () => {
  const doc = readFileSync(resolve(import.meta.dirname, '../../docs/kubernetes.md'), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `([a-z-]+)` +\| `([^`]+)` +\| `([^`]+)` +\| `([^`]+)` +\|/gm)].map((m) => [
      m[1],
      { cpu: m[2], memory: m[3], scratch: m[4] },
    ]),
  );
  for (const name of STEP_NAMES) expect(rows.get(name), name).toEqual(STEP_CATALOGUE[name].resources);
});
