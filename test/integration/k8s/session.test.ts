import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { KubernetesSessionRunner } from '../../../src/adapters/job-runner/kubernetes-session.js';
import { newId } from '../../../src/domain/ids.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  until,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';

/* Inference sessions: a Deployment + Service, readiness learned by watch, deletion takes the pods along. */
let cp: ControlPlane;
let ns: TestNamespace;
const NS = 'dyff-sessions';

describe.skipIf(skipK8s)('KubernetesSessionRunner on a real apiserver', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    ns = await startNamespace(cp, NS);
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  it('starts replicas behind a Service, resolves when all are ready, and delete removes everything', async () => {
    const sessions = new KubernetesSessionRunner({ namespace: NS, kubeConfig: cp.kubeConfig });
    const entityId = newId();
    const name = `session-${entityId}`;
    const started = await sessions.start({ name, entityId, image: 'model:test', replicas: 2, port: 8000 });
    expect(started).toEqual({ adopted: false, url: `http://${name}.${NS}.svc.cluster.local` });
    expect((await sessions.start({ name, entityId, image: 'model:test', replicas: 2 })).adopted).toBe(true);

    const ready = await sessions.waitReady(name);
    expect(ready.readyReplicas).toBe(2);

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const svc = await core.readNamespacedService({ name, namespace: NS });
    expect(svc.spec?.selector).toEqual({ 'dyff.io/session': name });
    const dep = await cp.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace: NS });
    expect(dep.spec?.template.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/ready');

    await sessions.allowAudit(name, newId());
    await sessions.delete(name);
    const podsOf = () => core.listNamespacedPod({ namespace: NS, labelSelector: `dyff.io/session=${name}` });
    await until<V1Pod>(cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, podsOf, (pods) => pods.length === 0);
    // Foreground: the Deployment goes last, after its ReplicaSet and pods.
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const deploymentsNamed = () => apps.listNamespacedDeployment({ namespace: NS, fieldSelector: `metadata.name=${name}` });
    await until(cp.kubeConfig, `/apis/apps/v1/namespaces/${NS}/deployments`, deploymentsNamed, (d) => d.length === 0);
    expect(await sessions.status(name)).toBeUndefined();
    await expect(core.readNamespacedService({ name, namespace: NS })).rejects.toThrow(/404|not found/i);
    await sessions.delete(name); // idempotent
  });

  it('a session that cannot be scheduled does not count as ready; waitReady follows the deletion', async () => {
    const sessions = new KubernetesSessionRunner({ namespace: NS, kubeConfig: cp.kubeConfig });
    const entityId = newId();
    const name = `session-${entityId}`;
    await sessions.start({ name, entityId, image: 'model:test', resources: { gpu: { count: 1, type: 'nvidia-l4' } } });
    const waiting = sessions.waitReady(name);
    await sessions.delete(name);
    await expect(waiting).rejects.toThrow(/deleted/);
  });
});
