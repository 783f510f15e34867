import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import {
  clusterServiceUrl,
  KubernetesSessionRunner,
  LABEL_SESSION,
} from '../../src/adapters/session-runner/kubernetes.js';
import { groupAlive } from '../../src/adapters/process-group.js';
import { execSessions } from '../support/k8s-exec-kubelet.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  type ControlPlane,
  type TestNamespace,
} from '../support/k8s-control-plane.js';
import { sessionRunnerContract } from './session-runner.case.js';

/*
 * The SessionRunner contract against a real kube-apiserver and controller manager (Deployments, ReplicaSets, pod
 * garbage collection). The exec kubelet runs each session pod's `dyffctl serve-model` as a local process on a
 * loopback port, and `serviceUrl` maps the session's Service to that port, as cluster DNS would map it to the pod.
 */
let cp: ControlPlane | undefined;
let ns: TestNamespace | undefined;
const NS = 'dyff-session-contract';

describe.skipIf(skipK8s)('kubernetes', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    ns = await startNamespace(cp, NS, { rules: [execSessions()] });
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  sessionRunnerContract('KubernetesSessionRunner', async () => {
    const kubeConfig = cp!.kubeConfig;
    const kubelet = ns!.kubelet;
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const net = kubeConfig.makeApiClient(NetworkingV1Api);
    const servers = (name: string) =>
      [...kubelet.execs.values()].filter(
        (e) => e.labels[LABEL_SESSION] === name && e.args[0] === 'serve-model' && groupAlive(e.pid),
      );
    return {
      runner: new KubernetesSessionRunner({
        namespace: NS,
        image: 'dyff-temporal:test',
        kubeConfig,
        serviceUrl: (svc) => {
          const port = kubelet.servingPort({ [LABEL_SESSION]: svc.name });
          return port === undefined ? clusterServiceUrl(svc) : `http://127.0.0.1:${port}`;
        },
      }),
      servers: async (name) => servers(name).length,
      leftovers: async (name) => {
        const namespace = NS;
        const selector = { namespace, labelSelector: `${LABEL_SESSION}=${name}` };
        const named = { namespace, fieldSelector: `metadata.name=${name}` };
        return [
          ...(await apps.listNamespacedDeployment(named)).items.map((d) => `deployment ${d.metadata?.name}`),
          ...(await core.listNamespacedService(named)).items.map((s) => `service ${s.metadata?.name}`),
          ...(await core.listNamespacedPod(selector)).items.map((p) => `pod ${p.metadata?.name}`),
          ...(await net.listNamespacedNetworkPolicy(selector)).items.map((p) => `policy ${p.metadata?.name}`),
          ...servers(name).map((e) => `server process ${e.pid} of pod ${e.pod}`),
        ];
      },
    };
  });

  it('the fake kubelet did not swallow errors', () => {
    expect(ns!.kubelet.failures).toEqual([]);
  });
});
