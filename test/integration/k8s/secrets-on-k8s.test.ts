import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, BatchV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { createAdapters, type Adapters } from '../../../src/adapters/index.js';
import {
  KubernetesSessionRunner,
  LABEL_SESSION,
  clusterServiceUrl,
} from '../../../src/adapters/session-runner/kubernetes.js';
import { DyffClient } from '../../../src/client.js';
import { Pipelines } from '../../../src/client-pipelines.js';
import { configEnv, type Config } from '../../../src/config.js';
import { parsePipelineManifest } from '../../../src/domain/manifest.js';
import { filesContaining, historiesContaining } from '../../support/canary.js';
import { execSessions, execSteps } from '../../support/k8s-exec-kubelet.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  until,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';
import { startWorker, testConfig, type RunningWorker } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';

/*
 * Acceptance (runner: kubernetes): a Secret created as an operator would reaches the session pod through a
 * `secretKeyRef` in its Deployment — the exec kubelet reads it from the apiserver as a kubelet does — and the
 * canary appears in no Deployment or Job object, object, entity row or workflow history.
 */
const K8S_DIR = resolve(import.meta.dirname, '../../../k8s');
const NS = 'dyff';
const CANARY = `canary-k8s-${randomBytes(12).toString('hex')}`;

let cp: ControlPlane;
let ns: TestNamespace;
let config: Config;
let cleanup: (() => Promise<void>) | undefined;
let adapters: Adapters | undefined;
let worker: RunningWorker | undefined;
let client: DyffClient | undefined;

describe.skipIf(skipK8s)('secret canary on Kubernetes', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    for (const file of ['namespace.yaml', 'step-serviceaccounts.yaml']) {
      await cp.kubectl(['apply', '-f', join(K8S_DIR, file)]);
    }
    ns = await startNamespace(cp, NS, { existing: true, rules: [execSteps(), execSessions()] });
    await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'canary' }, stringData: { value: CANARY } },
    });
    ({ config, cleanup } = await testConfig({
      runner: 'kubernetes',
      kubernetes: { namespace: NS, image: 'dyff-temporal:test', kubeconfig: cp.kubeconfigPath },
    }));
    const created = await createAdapters(config);
    await created.sessionRunner.close();
    const sessionRunner = new KubernetesSessionRunner({
      namespace: NS,
      image: config.kubernetes.image,
      kubeConfig: cp.kubeConfig,
      env: configEnv(config),
      serviceUrl: (svc) => {
        const port = ns.kubelet.servingPort({ [LABEL_SESSION]: svc.name });
        return port === undefined ? clusterServiceUrl(svc) : `http://127.0.0.1:${port}`;
      },
    });
    adapters = {
      ...created,
      sessionRunner,
      async close() {
        await Promise.all([created.entityStore.close(), created.jobRunner.close(), sessionRunner.close()]);
      },
    };
    worker = await startWorker(config, adapters);
    client = await DyffClient.connect(config, adapters);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await worker?.stop();
    await adapters?.close();
    await ns?.stop();
    await cp?.stop();
    await cleanup?.();
  });

  it('the session pod receives the secret through a secretKeyRef; the value is stored nowhere', async () => {
    const corpus = await tinyCorpus(join(config.dataHome, 'input'));
    const manifest = parsePipelineManifest(`
kind: Pipeline
account: k8s
metadata: { name: canary }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service:
    runner:
      kind: standalone
      args: [--require-env, MODEL_API_TOKEN]
      env: { MODEL_API_TOKEN: { secretRef: { name: canary, key: value } } }
  evaluation: { replications: 1, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`);
    const pipelines = new Pipelines(client!.temporal, config.temporal.taskQueue);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const { id } = await pipelines.start(manifest, { force: true });
    const [deployment] = await until<V1Deployment>(
      cp.kubeConfig,
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      () => apps.listNamespacedDeployment({ namespace: NS }),
      (items) => items.length > 0,
      180_000,
    );
    const env = deployment!.spec!.template.spec!.containers[0]!.env!;
    expect(env).toContainEqual({
      name: 'MODEL_API_TOKEN',
      valueFrom: { secretKeyRef: { name: 'canary', key: 'value' } },
    });
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');

    expect(JSON.stringify(deployment)).not.toContain(CANARY);
    const jobs = await cp.kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NS });
    expect(jobs.items.length).toBeGreaterThan(0);
    expect(JSON.stringify(jobs.items)).not.toContain(CANARY);
    expect(await filesContaining(config.dataHome, CANARY, () => false)).toEqual([]);
    const histories = await historiesContaining(client!.temporal, config.temporal.taskQueue, CANARY);
    expect(histories.count).toBeGreaterThanOrEqual(6);
    expect(histories.hits).toEqual([]);
  }, 420_000);
});
