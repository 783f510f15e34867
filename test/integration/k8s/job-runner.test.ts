import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, CoreV1Api, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { createJobRunner } from '../../../src/adapters/index.js';
import { KubernetesJobRunner } from '../../../src/adapters/job-runner/kubernetes.js';
import { loadConfig } from '../../../src/config.js';
import { newId } from '../../../src/domain/ids.js';
import { STEP_CATALOGUE } from '../../../src/domain/step-catalogue.js';
import { jobName, type JobSpec, type JobStatus } from '../../../src/ports/job-runner.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  until,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';

/*
 * The ways a Kubernetes Job goes wrong that a local process cannot show, against a real kube-apiserver and the
 * real job controller and garbage collector; the fake kubelet plays the scheduler and the node.
 */
let cp: ControlPlane;
let ns: TestNamespace;
let batch: BatchV1Api;
let core: CoreV1Api;
const NS = 'dyff-jobs';

function spec(args: string[], extra: Partial<JobSpec> = {}): JobSpec {
  const entityId = newId();
  return { name: jobName(entityId, 'test', 1), entityId, stage: 'test', args, ...extra };
}

function runner(extra: Partial<ConstructorParameters<typeof KubernetesJobRunner>[0]> = {}) {
  return new KubernetesJobRunner({
    namespace: NS,
    image: 'dyff-temporal:test',
    kubeConfig: cp.kubeConfig,
    ...extra,
  });
}

const podsOf = (name: string) => () =>
  core.listNamespacedPod({ namespace: NS, labelSelector: `batch.kubernetes.io/job-name=${name}` });
const jobsNamed = (name: string) => () =>
  batch.listNamespacedJob({ namespace: NS, fieldSelector: `metadata.name=${name}` });

/** Resolves with the first status passed to onUpdate that satisfies `pred`. */
function seen(pred: (s: JobStatus) => boolean): {
  onUpdate: (s: JobStatus) => void;
  reached: Promise<JobStatus>;
} {
  let hit!: (s: JobStatus) => void;
  const reached = new Promise<JobStatus>((r) => (hit = r));
  return { onUpdate: (s) => pred(s) && hit(s), reached };
}

describe.skipIf(skipK8s)('KubernetesJobRunner on a real apiserver', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    ns = await startNamespace(cp, NS, { serviceAccounts: ['model-runner'] });
    batch = cp.kubeConfig.makeApiClient(BatchV1Api);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  it('creates the Job the deployment notes describe: labels, identity, restricted pod, GPU on spot', async () => {
    const r = runner({ ttlSecondsAfterFinished: 600 });
    const s = spec(['test-sleep', '--ms', '10'], {
      serviceAccount: 'model-runner',
      activeDeadlineSeconds: 3600,
      resources: { cpu: '2', memory: '8Gi', gpu: { count: 1, type: 'nvidia-l4' }, spot: true },
    });
    await r.start(s);
    const job: V1Job = await batch.readNamespacedJob({ name: s.name, namespace: NS });
    expect(job.metadata?.labels).toMatchObject({
      'dyff.io/entity': s.entityId,
      'dyff.io/stage': 'test',
      'dyff.io/try': '1',
    });
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 3600,
      ttlSecondsAfterFinished: 600,
    });
    const pod = job.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('model-runner');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['step', 'test-sleep', '--ms', '10']);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/tmp' }));
    expect(c.resources?.limits).toMatchObject({ 'nvidia.com/gpu': '1', memory: '8Gi' });
    expect(pod.nodeSelector).toEqual({
      'cloud.google.com/gke-accelerator': 'nvidia-l4',
      'cloud.google.com/gke-spot': 'true',
    });
    expect(pod.tolerations).toContainEqual(
      expect.objectContaining({ key: 'cloud.google.com/gke-spot', effect: 'NoSchedule' }),
    );
    await r.cancel(s.name);
    await r.close();
  });

  it('a step Job carries its resources: catalogue defaults, configured scratch, the spec’s memory', async () => {
    const r = runner({ scratch: { scratch: { 'ingest-dataset': '60Gi' }, defaultScratch: '3Gi' } });
    const ingest = spec(['ingest-dataset', '--id', newId()], { resources: { memory: '3Gi' } });
    const report = spec(['report', '--id', newId()]);
    await r.start(ingest);
    await r.start(report);
    // What the apiserver stored (it validates and normalises quantities), not what the runner meant to send.
    const stored = async (name: string) => {
      const pod = (await batch.readNamespacedJob({ name, namespace: NS })).spec!.template.spec!;
      return { resources: pod.containers[0]!.resources, tmp: pod.volumes?.find((v) => v.name === 'tmp') };
    };
    const cpu = STEP_CATALOGUE['ingest-dataset'].resources.cpu;
    expect(await stored(ingest.name)).toEqual({
      resources: {
        requests: { cpu, memory: '3Gi', 'ephemeral-storage': '60Gi' },
        limits: { memory: '3Gi', 'ephemeral-storage': '60Gi' },
      },
      tmp: { name: 'tmp', emptyDir: { sizeLimit: '60Gi' } },
    });
    const defaults = STEP_CATALOGUE.report.resources;
    expect(await stored(report.name)).toEqual({
      resources: {
        requests: { cpu: defaults.cpu, memory: defaults.memory, 'ephemeral-storage': '3Gi' },
        limits: { memory: defaults.memory, 'ephemeral-storage': '3Gi' },
      },
      tmp: { name: 'tmp', emptyDir: { sizeLimit: '3Gi' } },
    });
    await r.cancel(ingest.name);
    await r.cancel(report.name);
    await r.close();
  });

  it('a bad scratch quantity is refused before any Job is made, naming the key', async () => {
    const env = { DYFF_CONFIG: '/nonexistent/dyff.config.yaml', DYFF_K8S_SCRATCH: 'fetch-data=20 GB' };
    const k8s = { namespace: NS, image: 'dyff-temporal:test', kubeconfig: cp.kubeconfigPath };
    expect(() => loadConfig({ runner: 'kubernetes', kubernetes: k8s }, env)).toThrow(
      /kubernetes\.scratch\.fetch-data: expected a quantity/,
    );
    // A configuration assembled in code reaches the runner unchecked by loadConfig: the runner checks it too.
    const config = loadConfig({ runner: 'kubernetes', kubernetes: k8s }, { DYFF_CONFIG: env.DYFF_CONFIG });
    const bad = { ...config, kubernetes: { ...config.kubernetes, defaultScratch: 'plenty' } };
    await expect(createJobRunner(bad)).rejects.toThrow(/kubernetes\.defaultScratch: expected a quantity/);
    expect(() => runner({ scratch: { scratch: { report: '-1Gi' } } })).toThrow(/kubernetes\.scratch\.report/);
    // The good configuration makes a runner whose Jobs carry it.
    const good = await createJobRunner({ ...config, kubernetes: { ...k8s, scratch: { report: '7Gi' } } });
    const s = spec(['report', '--id', newId()]);
    await good.start(s);
    const pod = (await batch.readNamespacedJob({ name: s.name, namespace: NS })).spec!.template.spec!;
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '7Gi' } });
    await good.cancel(s.name);
    await good.close();
  });

  it('a Job deleted from outside fails the wait with a reason instead of hanging', async () => {
    const r = runner();
    const s = spec(['test-sleep', '--ms', '60000']);
    await r.start(s);
    const running = seen((st) => st.phase === 'running');
    const waiting = r.wait(s.name, { onUpdate: running.onUpdate });
    await running.reached;
    await batch.deleteNamespacedJob({
      name: s.name,
      namespace: NS,
      body: { propagationPolicy: 'Background' },
    });
    const done = await waiting;
    expect(done.phase).toBe('failed');
    expect(done.reason).toMatch(/deleted/);
    expect(await r.status(s.name)).toBeUndefined();
    await r.close();
  });

  it('a pod that cannot be scheduled fails after the pending deadline, naming the cause, and the Job is removed', async () => {
    const r = runner({ pendingDeadlineSeconds: 2 });
    const s = spec(['test-sleep', '--ms', '10'], {
      resources: { gpu: { count: 1, type: 'nvidia-h100-80gb' }, spot: true },
    });
    await r.start(s);
    const done = await r.wait(s.name);
    expect(done.phase).toBe('failed');
    expect(done.reason).toMatch(/pending longer than 2s: Unschedulable: 0\/1 nodes are available/);
    expect(done.reason).toMatch(/events: FailedScheduling/);
    await until(
      cp.kubeConfig,
      `/apis/batch/v1/namespaces/${NS}/jobs`,
      jobsNamed(s.name),
      (jobs) => jobs.length === 0,
    );
    await r.close();
  });

  it('an image that cannot be pulled fails after the pending deadline with ErrImagePull', async () => {
    const r = runner({ pendingDeadlineSeconds: 2 });
    const s = spec(['test-pull-fail']);
    await r.start(s);
    const done = await r.wait(s.name);
    expect(done.phase).toBe('failed');
    expect(done.reason).toMatch(/pending longer than 2s: ErrImagePull/);
    expect(done.reason).toMatch(/Failed to pull image "dyff-temporal:test"/);
    await r.close();
  });

  it('an OOM-killed step fails as OOMKilled with exit code 137', async () => {
    const r = runner();
    const s = spec(['test-oom', '--ms', '100'], { resources: { memory: '64Mi' } });
    await r.start(s);
    const done = await r.wait(s.name);
    expect(done.phase).toBe('failed');
    expect(done.exitCode).toBe(137);
    expect(done.reason).toMatch(/^OOMKilled/);
    expect(done.reason).toMatch(/OOMKilling/); // the kubelet's event
    await r.close();
  });

  it('activeDeadlineSeconds ends a step that runs too long', async () => {
    const r = runner();
    const s = spec(['test-sleep', '--ms', '60000'], { activeDeadlineSeconds: 1 });
    await r.start(s);
    const done = await r.wait(s.name);
    expect(done.phase).toBe('failed');
    expect(done.reason).toMatch(/deadline exceeded/);
    await r.close();
  });

  it('a second runner (a retried activity on another worker) adopts the Job instead of creating one', async () => {
    const first = runner();
    const second = runner();
    const s = spec(['test-sleep', '--ms', '300']);
    const a = await first.start(s);
    const b = await second.start(s);
    expect([a.adopted, b.adopted]).toEqual([false, true]);
    const jobs = await batch.listNamespacedJob({
      namespace: NS,
      labelSelector: `dyff.io/entity=${s.entityId}`,
    });
    expect(jobs.items).toHaveLength(1);
    const [x, y] = await Promise.all([first.wait(s.name), second.wait(s.name)]);
    expect([x.phase, y.phase]).toEqual(['succeeded', 'succeeded']);
    expect((await podsOf(s.name)()).items).toHaveLength(1);
    await first.close();
    await second.close();
  });

  it('cancel deletes the Job and its pods', async () => {
    const r = runner();
    const s = spec(['test-sleep', '--ms', '60000']);
    await r.start(s);
    const running = seen((st) => st.phase === 'running');
    const waiting = r.wait(s.name, { onUpdate: running.onUpdate });
    await running.reached;
    expect((await podsOf(s.name)()).items).toHaveLength(1);
    await r.cancel(s.name);
    expect((await waiting).reason).toBe('cancelled');
    await until<V1Pod>(
      cp.kubeConfig,
      `/api/v1/namespaces/${NS}/pods`,
      podsOf(s.name),
      (pods) => pods.length === 0,
    );
    await until<V1Job>(
      cp.kubeConfig,
      `/apis/batch/v1/namespaces/${NS}/jobs`,
      jobsNamed(s.name),
      (jobs) => jobs.length === 0,
    );
    await r.cancel(s.name);
    await r.close();
  });

  it('the fake kubelet did not swallow errors', () => {
    expect(ns.kubelet.failures).toEqual([]);
  });
});
