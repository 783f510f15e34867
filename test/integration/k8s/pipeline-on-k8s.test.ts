import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type V1Deployment,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { LABEL_SESSION, clusterServiceUrl } from '../../../src/adapters/session-runner/kubernetes.js';
import { Pipelines } from '../../../src/client-pipelines.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import { groupAlive } from '../../../src/adapters/process-group.js';
import { skipK8s, until, type ControlPlane, type TestNamespace } from '../../support/k8s-control-plane.js';
import { startK8sPipelineEnv, type K8sPipelineEnv } from '../../support/k8s-pipeline-env.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';

/*
 * The whole pipeline (dataset, model, inference service, evaluation with a session, report) with
 * `runner: kubernetes` against a real apiserver and controller manager. The exec kubelet really runs every step
 * Job's `dyffctl step …` and the session Deployment's `dyffctl serve-model …` as local processes; the session's
 * Service is reached at the loopback port the kubelet gave the server (the runner's `serviceUrl`), as the
 * evaluate pod would reach it through cluster DNS.
 */
const NS = 'dyff';
const REPLICATIONS = 2;

let env: K8sPipelineEnv | undefined;
let cp: ControlPlane;
let ns: TestNamespace;
let batch: BatchV1Api;
let core: CoreV1Api;
let apps: AppsV1Api;
/** The endpoints the session runner handed out. */
const endpoints: string[] = [];

const byEntity = (id: string) => `dyff.io/entity=${id}`;

describe.skipIf(skipK8s)('the pipeline on Kubernetes (exec kubelet, sessions included)', () => {
  beforeAll(async () => {
    env = await startK8sPipelineEnv({
      namespace: NS,
      // The Service's selector → the exec'd server pod → its loopback port; the cluster DNS name until it runs.
      serviceUrl: (testNs, svc) => {
        const port = testNs.kubelet.servingPort({ [LABEL_SESSION]: svc.name });
        const url = port === undefined ? clusterServiceUrl(svc) : `http://127.0.0.1:${port}`;
        endpoints.push(url);
        return url;
      },
    });
    ({ cp, ns } = env);
    batch = cp.kubeConfig.makeApiClient(BatchV1Api);
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    apps = cp.kubeConfig.makeApiClient(AppsV1Api);
  }, 180_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('runs to Complete: one Job per step, pods Succeeded, the session served from its pod and then removed', async () => {
    const corpus = await tinyCorpus(env!.config.dataHome);
    const manifest = parsePipelineManifest(`
kind: Pipeline
account: k8s
metadata: { name: tiny }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone } }
  evaluation: { replications: ${REPLICATIONS}, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);
    const pipelines = new Pipelines(env!.temporal, env!.config.temporal.taskQueue);
    const { id } = await pipelines.start(manifest, { force: true });
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');

    const report = await env!.adapters.entityStore.get(view.stages.report.id!);
    expect(report?.status).toBe('Complete');
    expect((report?.details?.metrics as { accuracy: number }).accuracy).toBe(1);

    // Every step ran as a Job of its entity, with the stage label, and its one pod Succeeded.
    const expected: [keyof typeof view.stages, string, string][] = [
      ['dataset', 'fetch', 'fetch-data'],
      ['dataset', 'ingest', 'ingest-dataset'],
      ['model', 'fetch', 'fetch-model'],
      ['inferenceService', 'build', 'build-service'],
      ['evaluation', 'evaluate', 'evaluate'],
      ['evaluation', 'verify', 'verify-outputs'],
      ['report', 'report', 'report'],
    ];
    for (const [stage, label, step] of expected) {
      const entityId = view.stages[stage].id!;
      const jobs = (
        await batch.listNamespacedJob({ namespace: NS, labelSelector: byEntity(entityId) })
      ).items.filter((j) => j.metadata?.labels?.['dyff.io/stage'] === label);
      expect(jobs, `${stage}/${label}`).toHaveLength(1);
      const job = jobs[0]!;
      const name = job.metadata!.name!;
      expect(
        job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
        name,
      ).toBe(true);
      expect(job.spec!.template.spec!.containers[0]!.args?.slice(0, 2)).toEqual(['step', step]);
      const pods = (
        await core.listNamespacedPod({ namespace: NS, labelSelector: `batch.kubernetes.io/job-name=${name}` })
      ).items;
      expect(pods, name).toHaveLength(1);
      expect(pods[0]!.status?.phase, name).toBe('Succeeded');
      const exec = ns.kubelet.execs.get(pods[0]!.metadata!.name!);
      expect(exec?.args.slice(0, 2)).toEqual(['step', step]);
      expect(await exec?.exited).toBe(0);
    }

    // The session: its server ran as an exec'd pod on a loopback port, and that is the endpoint evaluate used.
    const evaluationId = view.stages.evaluation.id!;
    const servers = [...ns.kubelet.execs.values()].filter((e) => e.args[0] === 'serve-model');
    expect(servers).toHaveLength(1);
    const server = servers[0]!;
    expect(server.labels).toMatchObject({ [LABEL_SESSION]: `session-${evaluationId}` });
    expect(server.port).toBeGreaterThan(0);
    expect(endpoints).toContain(`http://127.0.0.1:${server.port}`);
    const evaluateJob = (
      await batch.listNamespacedJob({
        namespace: NS,
        labelSelector: `${byEntity(evaluationId)},dyff.io/stage=evaluate`,
      })
    ).items[0]!;
    const args = evaluateJob.spec!.template.spec!.containers[0]!.args!;
    expect(args[args.indexOf('--endpoint') + 1]).toBe(`http://127.0.0.1:${server.port}`);

    // Stopped at the end: the Deployment (foreground: after its pods) and the Service are gone.
    const session = byEntity(evaluationId);
    await until<V1Pod>(
      cp.kubeConfig,
      `/api/v1/namespaces/${NS}/pods`,
      () => core.listNamespacedPod({ namespace: NS, labelSelector: `${LABEL_SESSION}` }),
      (p) => p.length === 0,
    );
    await until<V1Deployment>(
      cp.kubeConfig,
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      () => apps.listNamespacedDeployment({ namespace: NS, labelSelector: session }),
      (d) => d.length === 0,
    );
    await until<V1Service>(
      cp.kubeConfig,
      `/api/v1/namespaces/${NS}/services`,
      () => core.listNamespacedService({ namespace: NS, labelSelector: session }),
      (s) => s.length === 0,
    );
    // Deleting the pod stopped the server gracefully; no step or server process is left.
    expect(await server.exited).toBe(0);
    for (const exec of ns.kubelet.execs.values())
      expect(groupAlive(exec.pid), exec.args.join(' ')).toBe(false);
    expect(ns.kubelet.servingPort({ [LABEL_SESSION]: `session-${evaluationId}` })).toBeUndefined();
  }, 240_000);

  it('the fake kubelet did not swallow errors', () => {
    expect(ns.kubelet.failures).toEqual([]);
  });
});
