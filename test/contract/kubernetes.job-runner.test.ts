import { afterAll, beforeAll, describe } from 'vitest';
import { BatchV1Api } from '@kubernetes/client-node';
import { KubernetesJobRunner } from '../../src/adapters/job-runner/kubernetes.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  type ControlPlane,
  type TestNamespace,
} from '../support/k8s-control-plane.js';
import { jobRunnerContract } from './job-runner.case.js';

/*
 * The JobRunner contract against a real kube-apiserver and the real job controller (kube-controller-manager);
 * the fake kubelet schedules and "runs" the pods from their step args and serves their logs to the apiserver.
 */
let cp: ControlPlane | undefined;
let ns: TestNamespace | undefined;

describe.skipIf(skipK8s)('kubernetes', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    ns = await startNamespace(cp, 'dyff-contract');
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  jobRunnerContract('KubernetesJobRunner', async () => {
    const kubeConfig = cp!.kubeConfig;
    const namespace = ns!.namespace;
    const batch = kubeConfig.makeApiClient(BatchV1Api);
    return {
      runner: new KubernetesJobRunner({
        namespace,
        image: 'dyff-temporal:test',
        kubeConfig,
        heartbeatMs: 1000,
      }),
      capabilities: { logs: true, env: true },
      // Someone runs `kubectl delete job` behind the runner's back.
      vanish: async (name: string) => {
        await batch.deleteNamespacedJob({ name, namespace, body: { propagationPolicy: 'Background' } });
      },
    };
  });
});
