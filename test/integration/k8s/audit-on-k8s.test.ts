import { join, resolve } from 'node:path';
import { BatchV1Api, CoreV1Api, NetworkingV1Api, type V1NetworkPolicy } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_SESSION, clusterServiceUrl } from '../../../src/adapters/session-runner/kubernetes.js';
import { DyffClient } from '../../../src/client.js';
import { parseManifest } from '../../../src/domain/manifest.js';
import { newId } from '../../../src/domain/ids.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import { AuditWorkflow, startWorkflow } from '../../../src/workflows/definitions.js';
import { skipK8s, until, type ControlPlane, type TestNamespace } from '../../support/k8s-control-plane.js';
import { startK8sPipelineEnv, type K8sPipelineEnv } from '../../support/k8s-pipeline-env.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { SPAM_ROBUSTNESS } from '../audit/audit-support.js';

/*
 * The example audit with `runner: kubernetes` against a real apiserver and controller manager: the procedure's
 * Job labelled for the audit NetworkPolicy (k8s/audit-networkpolicy.yaml, applied here), without a service-account
 * token, and the per-audit policies present while it runs, all read back from the apiserver. The exec kubelet runs
 * every pod as a local process (fetch-procedure, run-audit with the procedure in its sandbox, the session's
 * server); no CNI enforces the policies here, so what is checked is that they exist and select the audit's pod.
 */
const NS = 'dyff';
const K8S_DIR = resolve(import.meta.dirname, '../../../k8s');

let env: K8sPipelineEnv | undefined;
let cp: ControlPlane;
let ns: TestNamespace;
let client: DyffClient;

describe.skipIf(skipK8s)('the example audit on Kubernetes (exec kubelet)', () => {
  beforeAll(async () => {
    env = await startK8sPipelineEnv({
      namespace: NS,
      serviceUrl: (testNs, svc) => {
        const port = testNs.kubelet.servingPort({ [LABEL_SESSION]: svc.name });
        return port === undefined ? clusterServiceUrl(svc) : `http://127.0.0.1:${port}`;
      },
    });
    ({ cp, ns } = env);
    const applied = await cp.kubectl(['apply', '-f', join(K8S_DIR, 'audit-networkpolicy.yaml')]);
    expect(applied.stderr).toBe('');
    client = await DyffClient.connect(env.config, env.adapters);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await env?.stop();
  });

  it('runs to Complete: the audit pod labelled for the audit policy, no token, the per-audit policies present', async () => {
    const corpus = await tinyCorpus(env!.config.dataHome);
    const create = async (yaml: string) => {
      const { id } = await client.create(parseManifest(yaml));
      const view = await client.wait(id);
      expect(view.status, view.message).toMatch(/Ready|Complete/);
      return id;
    };
    const [dataset, model] = await Promise.all([
      create(`kind: Dataset
account: k8s
spec:
  source: { kind: local, path: ${corpus.dataDir} }
  ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
`),
      create(`kind: Model\naccount: k8s\nspec: { source: { kind: local, path: ${corpus.modelDir} } }\n`),
    ]);
    const service = await create(
      `kind: InferenceService\naccount: k8s\nspec: { model: ${model}, runner: { kind: standalone } }\n`,
    );

    const id = newId();
    await startWorkflow(client.temporal, AuditWorkflow, {
      taskQueue: env!.config.temporal.taskQueue,
      workflowId: workflowIdFor('Audit', id),
      args: [
        {
          id,
          account: 'k8s',
          spec: {
            procedure: { kind: 'local', path: SPAM_ROBUSTNESS },
            inferenceService: service,
            dataset,
            parameters: { split: 'test', positiveLabel: 'spam' },
          },
        },
      ],
    });
    const net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    const session = `session-${id}`;
    // While the audit runs, the worker has opened its session to the audit's pods alone.
    const policies = await until<V1NetworkPolicy>(
      cp.kubeConfig,
      `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      () => net.listNamespacedNetworkPolicy({ namespace: NS, labelSelector: `${LABEL_SESSION}=${session}` }),
      (items) => items.some((p) => p.metadata?.name === `${session}-audit`),
      120_000,
    );
    const egress = policies.find((p) => p.metadata?.name === `${session}-audit`)!;
    expect(egress.spec?.podSelector?.matchLabels).toEqual({ 'dyff.io/entity': id, 'dyff.io/stage': 'audit' });
    expect(egress.spec?.egress?.[0]?.to?.[0]?.podSelector?.matchLabels).toEqual({ [LABEL_SESSION]: session });

    const view = await client.wait(id);
    expect(view.status, view.message).toBe('Complete');
    expect((view.details as { files: string[] }).files).toEqual(['index.html', 'results.json']);

    // The procedure's Job, as the apiserver has it: the labels the audit policies select, no token, its identity.
    const batch = cp.kubeConfig.makeApiClient(BatchV1Api);
    const jobs = (
      await batch.listNamespacedJob({
        namespace: NS,
        labelSelector: `dyff.io/entity=${id},dyff.io/stage=audit`,
      })
    ).items;
    expect(jobs).toHaveLength(1);
    const pod = jobs[0]!.spec!.template;
    expect(pod.metadata?.labels).toMatchObject({
      'dyff.io/entity': id,
      'dyff.io/stage': 'audit',
      'dyff.io/step': 'run-audit',
    });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.spec?.serviceAccountName).toBe('audit-runner');
    expect(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    // The baseline policy selects that pod: no ingress, egress to DNS and the metadata server.
    const baseline = await net.readNamespacedNetworkPolicy({ name: 'audit', namespace: NS });
    expect(baseline.spec?.podSelector?.matchLabels).toEqual({ 'dyff.io/stage': 'audit' });
    expect(baseline.spec?.ingress ?? []).toEqual([]);

    // The pod really ran: the exec kubelet ran `dyffctl step run-audit`, and it exited 0.
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const pods = (
      await core.listNamespacedPod({
        namespace: NS,
        labelSelector: `batch.kubernetes.io/job-name=${jobs[0]!.metadata!.name}`,
      })
    ).items;
    expect(pods[0]?.status?.phase).toBe('Succeeded');
    const exec = ns.kubelet.execs.get(pods[0]!.metadata!.name!);
    expect(exec?.args.slice(0, 2)).toEqual(['step', 'run-audit']);
    expect(await exec?.exited).toBe(0);

    // Stopped at the end: the session and its per-audit policies are gone.
    await until<V1NetworkPolicy>(
      cp.kubeConfig,
      `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      () => net.listNamespacedNetworkPolicy({ namespace: NS, labelSelector: `${LABEL_SESSION}=${session}` }),
      (items) => items.length === 0,
      60_000,
    );
  }, 300_000);

  it('the fake kubelet did not swallow errors', () => {
    expect(ns.kubelet.failures).toEqual([]);
  });
});
