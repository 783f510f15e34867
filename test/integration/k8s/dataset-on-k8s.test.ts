import { readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, CoreV1Api, type V1EnvVar, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { validateManifest } from '../../../src/domain/manifest.js';
import { query } from '../../support/duckdb.js';
import { serve } from '../../support/http-fixture.js';
import { KubernetesJobRunner } from '../../../src/adapters/job-runner/kubernetes.js';
import { newId } from '../../../src/domain/ids.js';
import { groupAlive } from '../../../src/adapters/process-group.js';
import { STEP_CATALOGUE } from '../../../src/domain/step-catalogue.js';
import { ExecUnsupported, execSteps } from '../../support/k8s-exec-kubelet.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  until,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';
import { startWorker, testConfig, type RunningWorker } from '../../support/temporal.js';
import { spawnWorker, until as waitFor } from '../../support/worker-process.js';

/*
 * The dataset workflow with `runner: kubernetes` against a real apiserver and job controller. The fake kubelet in
 * exec mode really runs each step Job's program (`dyffctl step …`) as a local process with the pod's env, so the
 * steps share the test's data home only through DYFF_DATA_HOME in the Job — as pods share a bucket in production.
 */
const K8S_DIR = resolve(import.meta.dirname, '../../../k8s');
const NS = 'dyff'; // the namespace of k8s/namespace.yaml and k8s/step-serviceaccounts.yaml

let cp: ControlPlane;
let ns: TestNamespace;
let batch: BatchV1Api;
let core: CoreV1Api;
let config: Config;
let cleanup: (() => Promise<void>) | undefined;
let worker: RunningWorker | undefined;
let client: DyffClient | undefined;

const byEntity = (id: string) => `dyff.io/entity=${id}`;
const jobsOf = (id: string) => () => batch.listNamespacedJob({ namespace: NS, labelSelector: byEntity(id) });
const podsOf = (id: string) => () => core.listNamespacedPod({ namespace: NS, labelSelector: byEntity(id) });

async function createDataset(spec: unknown, name: string): Promise<string> {
  const manifest = validateManifest(
    { kind: 'Dataset', account: 'test', metadata: { name }, spec },
    `${name}.yaml`,
  );
  return (await client!.create(manifest, { baseDir: config.dataHome })).id;
}

function terminated(pod: V1Pod) {
  return pod.status?.containerStatuses?.find((c) => c.name === 'step')?.state?.terminated;
}

describe.skipIf(skipK8s)('the dataset workflow on Kubernetes (exec kubelet)', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    // The real manifests: the restricted namespace and the step identities the Jobs name.
    for (const file of ['namespace.yaml', 'step-serviceaccounts.yaml']) {
      const applied = await cp.kubectl(['apply', '-f', join(K8S_DIR, file)]);
      expect(applied.stderr, file).toBe('');
    }
    ns = await startNamespace(cp, NS, { existing: true, rules: [execSteps()] });
    batch = cp.kubeConfig.makeApiClient(BatchV1Api);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    ({ config, cleanup } = await testConfig({
      runner: 'kubernetes',
      objectStore: 'filesystem',
      entityStore: 'sqlite',
      kubernetes: {
        namespace: NS,
        image: 'dyff-temporal:test',
        kubeconfig: cp.kubeconfigPath,
        // The configured scratch reaches the ingest Job through the worker's adapters.
        scratch: { 'ingest-dataset': '2Gi' },
      },
    }));
    worker = await startWorker(config);
    client = await DyffClient.connect(config, worker.adapters);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await worker?.stop();
    await ns?.stop();
    await cp?.stop();
    await cleanup?.();
  });

  it('a worker killed while the ingest Job runs: a new worker adopts that Job; one ingest Job, Ready', async () => {
    // Its own task queue, so that only the worker processes of this test (not the file's in-process one) run it.
    const own: Config = {
      ...config,
      temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-kill` },
    };
    const owned = await DyffClient.connect(own, worker!.adapters);
    const csv = join(config.dataHome, 'big.csv');
    const rows = Array.from({ length: 200_000 }, (_, i) => `${i},w${i % 97}`);
    await writeFile(csv, `n,word\n${rows.join('\n')}\n`);
    const first = await spawnWorker(own);
    const { id } = await owned.create(
      validateManifest({
        kind: 'Dataset',
        account: 'test',
        spec: { source: { kind: 'local', path: csv }, ingest: { format: 'csv' } },
      }),
    );
    const ingestJobs = async () =>
      (await jobsOf(id)()).items.filter((j) => j.metadata?.labels?.['dyff.io/stage'] === 'ingest');
    await waitFor('the ingest Job', async () => (await ingestJobs()).length > 0);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // The kill landed while the Job ran.
    const atKill = (await ingestJobs())[0]!;
    expect(atKill.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')).not.toBe(
      true,
    );
    const second = await spawnWorker(own);
    try {
      const view = await owned.wait(id, { intervalMs: 250 });
      expect(view.status, view.message).toBe('Ready');
      expect(view.details).toMatchObject({ rowCount: 200_000 });
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
      await owned.close();
    }
    const jobs = await ingestJobs();
    expect(jobs.map((j) => j.metadata?.name)).toEqual([`ingest-${id}-1`]);
    const pods = (await podsOf(id)()).items.filter((p) => p.metadata?.labels?.['dyff.io/stage'] === 'ingest');
    expect(pods).toHaveLength(1);
  });

  it('a CSV becomes Ready: one Job per stage with the spec’s memory, pods Succeeded, shards in the data home, the step output in the logs', async () => {
    const csv = join(config.dataHome, 'scores.csv');
    await writeFile(csv, 'id,score,comment\n1,0.5,good\n2,0.25,bad\n3,0.75,fine\n4,1.0,best\n');
    const id = await createDataset(
      { source: { kind: 'local', path: csv }, ingest: { format: 'csv' }, resources: { memory: '3Gi' } },
      'scores',
    );
    const view = await client!.wait(id, { intervalMs: 200 });
    expect(view.status, view.message).toBe('Ready');
    expect(view.details).toMatchObject({ rowCount: 4 });

    const jobs = (await jobsOf(id)()).items.sort((a, b) =>
      String(a.metadata?.labels?.['dyff.io/stage']).localeCompare(
        String(b.metadata?.labels?.['dyff.io/stage']),
      ),
    );
    expect(jobs.map((j) => j.metadata?.labels?.['dyff.io/stage'])).toEqual(['fetch', 'ingest']);
    const pods = (await podsOf(id)()).items;
    for (const [job, step] of [
      [jobs[0]!, 'fetch-data'],
      [jobs[1]!, 'ingest-dataset'],
    ] as const) {
      const name = job.metadata!.name!;
      expect(job.metadata?.labels).toMatchObject({ 'dyff.io/entity': id });
      expect(
        job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
        name,
      ).toBe(true);
      const container = job.spec!.template.spec!.containers[0]!;
      expect(container.args?.slice(0, 2)).toEqual(['step', step]);
      // DatasetSpec.resources over the catalogue's defaults; scratch from the catalogue or the configuration.
      const scratch = step === 'ingest-dataset' ? '2Gi' : STEP_CATALOGUE[step].resources.scratch;
      expect(container.resources, name).toEqual({
        requests: { cpu: STEP_CATALOGUE[step].resources.cpu, memory: '3Gi', 'ephemeral-storage': scratch },
        limits: { memory: '3Gi', 'ephemeral-storage': scratch },
      });
      expect(job.spec!.template.spec!.volumes).toContainEqual({
        name: 'tmp',
        emptyDir: { sizeLimit: scratch },
      });
      // The only way the step reaches the data home: the Job's env, from configEnv(config).
      expect(container.env).toContainEqual({ name: 'DYFF_DATA_HOME', value: config.dataHome });
      const mine = pods.filter((p) => p.metadata?.labels?.['batch.kubernetes.io/job-name'] === name);
      expect(mine, name).toHaveLength(1);
      expect(mine[0]!.status?.phase).toBe('Succeeded');
      expect(terminated(mine[0]!)?.exitCode).toBe(0);
      // It really ran: a process of the kubelet's, with the Job's args, and its output is the container log.
      const exec = ns.kubelet.execs.get(mine[0]!.metadata!.name!);
      expect(exec?.args.slice(0, 2)).toEqual(['step', step]);
      expect(await exec?.exited).toBe(0);
      const podLog = await core.readNamespacedPodLog({
        name: mine[0]!.metadata!.name!,
        namespace: NS,
        container: 'step',
      });
      expect(podLog).toContain(`${step} ${id}: done`);
    }

    const dataDir = join(config.dataHome, 'objects', 'datasets', id, 'data');
    const shards = (await readdir(dataDir)).filter((f) => f.endsWith('.parquet'));
    expect(shards.length).toBeGreaterThan(0);
    const rows = await query(
      `SELECT id, comment FROM read_parquet('${join(dataDir, '*.parquet')}') ORDER BY _index_`,
    );
    expect(rows.map((r) => [Number(r.id), r.comment])).toEqual([
      [1, 'good'],
      [2, 'bad'],
      [3, 'fine'],
      [4, 'best'],
    ]);

    const logs = await client!.logs(id);
    expect(logs.text).toContain(`fetch-data ${id}: done`);
    expect(logs.text).toContain(`ingest-dataset ${id}: done`);
  }, 120_000);

  it('a missing source ends Error/FetchFailed with the step’s last log lines; the pod Failed with exit code 2', async () => {
    const absent = join(config.dataHome, 'absent.csv');
    const id = await createDataset(
      { source: { kind: 'local', path: absent }, ingest: { format: 'csv' } },
      'absent',
    );
    const view = await client!.wait(id, { intervalMs: 200 });
    expect(view).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
    expect(view.message).toMatch(/fetch failed \(exit code 2/);
    expect(view.message).toContain('--- last log lines ---');
    expect(view.message).toMatch(/error: .*absent\.csv/);

    const jobs = (await jobsOf(id)()).items;
    expect(jobs.map((j) => j.metadata?.labels?.['dyff.io/stage'])).toEqual(['fetch']);
    expect(jobs[0]!.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')).toBe(true);
    // A spec without resources: the catalogue's defaults, applied by the worker's runner.
    const defaults = STEP_CATALOGUE['fetch-data'].resources;
    expect(jobs[0]!.spec!.template.spec!.containers[0]!.resources?.requests).toEqual({
      cpu: defaults.cpu,
      memory: defaults.memory,
      'ephemeral-storage': defaults.scratch,
    });
    const pods = (await podsOf(id)()).items;
    expect(pods).toHaveLength(1);
    expect(pods[0]!.status?.phase).toBe('Failed');
    const term = terminated(pods[0]!);
    expect(term?.exitCode).toBe(2);
    // FallbackToLogsOnError: the log tail is the termination message too.
    expect(term?.message).toMatch(/absent\.csv/);
  }, 120_000);

  it('cancel while the fetch Job runs: Terminated, the Job deleted, the step process gone', async () => {
    let underWay!: () => void;
    const downloading = new Promise<void>((r) => (underWay = r));
    let served = 0;
    const http = await serve({
      // A large file trickled out slowly, so the fetch is certainly running when the cancel arrives.
      '/slow.bin': (_req, res) => {
        res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
        const timer = setInterval(() => {
          served += 16 * 1024;
          res.write(Buffer.alloc(16 * 1024, 7));
          if (served >= 256 * 1024) underWay();
        }, 20);
        res.on('close', () => clearInterval(timer));
      },
    });
    try {
      const id = await createDataset({ source: { kind: 'url', url: `${http.url}/slow.bin` } }, 'slow');
      await downloading;
      const [pod] = await until<V1Pod>(cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, podsOf(id), (items) =>
        items.some((p) => p.status?.phase === 'Running'),
      );
      const exec = ns.kubelet.execs.get(pod!.metadata!.name!);
      expect(exec).toBeDefined();
      expect(groupAlive(exec!.pid)).toBe(true);

      await client!.cancel(id);
      const view = await client!.wait(id, { intervalMs: 100 });
      expect(view).toMatchObject({ status: 'Terminated', reason: 'TerminateCommand' });
      await until<V1Job>(
        cp.kubeConfig,
        `/apis/batch/v1/namespaces/${NS}/jobs`,
        jobsOf(id),
        (j) => j.length === 0,
      );
      await until<V1Pod>(cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, podsOf(id), (p) => p.length === 0);
      // Stopped the way a node stops a container on a graceful delete: SIGTERM, which the step answers with 143.
      expect(await exec!.exited).toBe(143);
      expect(groupAlive(exec!.pid)).toBe(false);
    } finally {
      await http.close();
    }
  }, 120_000);

  it('exec mode resolves the pod env as a kubelet does, and fails at once, naming it, on what it cannot', async () => {
    const runner = new KubernetesJobRunner({
      namespace: NS,
      image: 'dyff-temporal:test',
      kubeConfig: cp.kubeConfig,
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'exec-env' }, data: { id: 'not-an-id' } },
    });
    /** A Job as the runner makes it, but with an explicit command and the given env. */
    const job = (env: V1EnvVar[]) => {
      const entityId = newId();
      const manifest = runner.jobManifest({
        name: `fetch-${entityId}-1`,
        entityId,
        stage: 'fetch',
        args: ['fetch-data', '--id', '$(ID)'],
      });
      const c = manifest.spec!.template.spec!.containers[0]!;
      c.command = ['node', 'bin/dyffctl.mjs'];
      c.env = env;
      return { entityId, manifest };
    };
    const finished = async (entityId: string) =>
      (
        await until<V1Pod>(cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, podsOf(entityId), (p) =>
          p.some((x) => x.status?.phase === 'Failed' || x.status?.phase === 'Succeeded'),
        )
      )[0]!;

    // configMapKeyRef, then `$(ID)` in the args: the step sees the value.
    const ok = job([
      { name: 'RAW', valueFrom: { configMapKeyRef: { name: 'exec-env', key: 'id' } } },
      { name: 'ID', value: '$(RAW)' },
    ]);
    await batch.createNamespacedJob({ namespace: NS, body: ok.manifest });
    const ran = await finished(ok.entityId);
    expect(terminated(ran)?.exitCode).toBe(2);
    expect(terminated(ran)?.message).toMatch(/--id: expected an entity id .*got "not-an-id"/);

    const bad = job([{ name: 'CPUS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }]);
    await batch.createNamespacedJob({ namespace: NS, body: bad.manifest });
    const refused = await finished(bad.entityId);
    expect(refused.status?.phase).toBe('Failed');
    expect(terminated(refused)).toMatchObject({ reason: 'ExecUnsupported' });
    expect(terminated(refused)?.message).toMatch(/env CPUS: valueFrom.resourceFieldRef is not supported/);
    expect(ns.kubelet.execs.has(refused.metadata!.name!)).toBe(false);
    expect(ns.kubelet.failures).toContainEqual(expect.any(ExecUnsupported));
    await runner.close();
  });

  it('the fake kubelet did not swallow errors', () => {
    // Only the limitation the test above provoked on purpose.
    expect(
      ns.kubelet.failures.filter((e) => !(e instanceof ExecUnsupported && /CPUS/.test(e.message))),
    ).toEqual([]);
  });
});
