import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { KubernetesSessionRunner } from '../../../src/adapters/session-runner/kubernetes.js';
import { newId } from '../../../src/domain/ids.js';
import { SESSION_ENTRY } from '../../../src/domain/step-catalogue.js';
import type { ServiceDescription } from '../../../src/domain/service.js';
import type { SessionStatus } from '../../../src/ports/session-runner.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  until,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';

/* Inference sessions: a Deployment + Service, readiness learned by watch, stop takes the pods along. */
let cp: ControlPlane;
let ns: TestNamespace;
const NS = 'dyff-sessions';

function description(): ServiceDescription {
  return {
    serviceId: newId(),
    runner: 'standalone',
    command: ['serve-model', '--model', 'm'],
    readinessPath: '/ready',
    endpoint: '/generate',
    interface: {},
  };
}

describe.skipIf(skipK8s)('KubernetesSessionRunner on a real apiserver', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    ns = await startNamespace(cp, NS);
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  it("places the session's pods as its service asks: GPUs of a type, CPU and memory, spot nodes; scratch as configured", async () => {
    const sessions = new KubernetesSessionRunner({
      namespace: NS,
      kubeConfig: cp.kubeConfig,
      image: 'dyff-temporal:test',
      scratch: { scratch: { session: '30Gi' }, defaultScratch: '2Gi' },
    });
    const entityId = newId();
    const name = `session-${entityId}`;
    await sessions.start({
      name,
      entityId,
      description: description(),
      accelerator: { count: 2, type: 'nvidia-l4' },
      resources: { cpu: '4', memory: '16Gi' },
      spot: true,
    });
    try {
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
      const pod = (await apps.readNamespacedDeployment({ name, namespace: NS })).spec?.template.spec;
      // The model is copied into /tmp: its size from kubernetes.scratch.session, requested and limited.
      expect(pod?.containers[0]?.resources).toEqual({
        limits: { 'nvidia.com/gpu': '2', memory: '16Gi', 'ephemeral-storage': '30Gi' },
        requests: { cpu: '4', memory: '16Gi', 'ephemeral-storage': '30Gi' },
      });
      expect(pod?.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '30Gi' } }]);
      expect(pod?.nodeSelector).toEqual({
        'cloud.google.com/gke-accelerator': 'nvidia-l4',
        'cloud.google.com/gke-spot': 'true',
      });
      expect(pod?.tolerations?.map((t) => t.key).sort()).toEqual([
        'cloud.google.com/gke-spot',
        'nvidia.com/gpu',
      ]);
    } finally {
      await sessions.stop(name);
    }
  });

  it("runs the service's built image (from its description) under the session's service account; else the project image", async () => {
    const sessions = new KubernetesSessionRunner({
      namespace: NS,
      kubeConfig: cp.kubeConfig,
      image: 'dyff-temporal:test',
    });
    const built = `us-central1-docker.pkg.dev/p/dyff-models/inferenceservice-x@sha256:${'ab'.repeat(32)}`;
    // As the build activity records it: the digest-pinned image, and the runner's args for its entrypoint.
    const withImage = { ...description(), image: built, command: ['--port-from-env'] };
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    // The session's ServiceAccount, as k8s/step-serviceaccounts.yaml makes it: without it no pod is admitted.
    await core.createNamespacedServiceAccount({
      namespace: NS,
      body: { metadata: { name: SESSION_ENTRY.identity } },
    });
    for (const [d, image, args] of [
      [withImage, built, ['--port-from-env']],
      [description(), 'dyff-temporal:test', ['serve-model', '--model', 'm']],
    ] as const) {
      const entityId = newId();
      const name = `session-${entityId}`;
      await sessions.start({ name, entityId, description: d, serviceAccount: SESSION_ENTRY.identity });
      try {
        await sessions.waitReady(name);
        const pod = (await apps.readNamespacedDeployment({ name, namespace: NS })).spec?.template.spec;
        expect(pod?.serviceAccountName).toBe(SESSION_ENTRY.identity);
        expect(pod?.containers[0]).toMatchObject({ image, args });
        const pods = await core.listNamespacedPod({
          namespace: NS,
          labelSelector: `dyff.io/session=${name}`,
        });
        expect(pods.items.map((p) => p.spec?.containers[0]?.image)).toEqual([image]);
      } finally {
        await sessions.stop(name);
      }
    }
  });

  it('starts replicas behind a Service, resolves when all are ready, and stop removes everything', async () => {
    const sessions = new KubernetesSessionRunner({
      namespace: NS,
      kubeConfig: cp.kubeConfig,
      image: 'dyff-temporal:test',
    });
    const entityId = newId();
    const name = `session-${entityId}`;
    const spec = { name, entityId, description: description(), replicas: 2 };
    const started = await sessions.start(spec);
    expect(started).toMatchObject({ phase: 'starting', endpoint: `http://${name}.${NS}.svc.cluster.local` });

    const updates: SessionStatus[] = [];
    const ready = await sessions.waitReady(name, { onUpdate: (s) => updates.push(s) });
    expect(ready.phase).toBe('ready');
    expect(updates.at(-1)?.phase).toBe('ready');
    expect((await sessions.start(spec)).phase).toBe('ready'); // adopted, not a second Deployment

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const svc = await core.readNamespacedService({ name, namespace: NS });
    expect(svc.spec?.selector).toEqual({ 'dyff.io/session': name });
    const dep = await apps.readNamespacedDeployment({ name, namespace: NS });
    const c = dep.spec?.template.spec?.containers[0];
    expect(c?.readinessProbe?.httpGet?.path).toBe('/ready');
    expect(c?.args).toEqual(['serve-model', '--model', 'm']);
    const podsOf = () => core.listNamespacedPod({ namespace: NS, labelSelector: `dyff.io/session=${name}` });
    expect((await podsOf()).items.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);

    // Who may reach the session: its evaluation's evaluate pods (from start), and the audit (both sides).
    const net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    const policies = async () =>
      (
        await net.listNamespacedNetworkPolicy({ namespace: NS, labelSelector: `dyff.io/session=${name}` })
      ).items
        .map((p) => p.metadata!.name)
        .sort();
    expect(await policies()).toEqual([`${name}-ingress`]);
    const ingress = await net.readNamespacedNetworkPolicy({ name: `${name}-ingress`, namespace: NS });
    expect(ingress.spec?.ingress?.[0]?._from?.[0]?.podSelector?.matchLabels).toEqual({
      'dyff.io/entity': entityId,
      'dyff.io/step': 'evaluate',
    });
    await sessions.allowAudit(name, newId());
    expect(await policies()).toEqual([`${name}-audit`, `${name}-audit-ingress`, `${name}-ingress`]);
    await sessions.stop(name);
    expect(await policies()).toEqual([]);
    await until<V1Pod>(cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, podsOf, (pods) => pods.length === 0);
    // Foreground: the Deployment goes last, after its ReplicaSet and pods.
    const deploymentsNamed = () =>
      apps.listNamespacedDeployment({ namespace: NS, fieldSelector: `metadata.name=${name}` });
    await until(
      cp.kubeConfig,
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      deploymentsNamed,
      (d) => d.length === 0,
    );
    expect(await sessions.status(name)).toBeUndefined();
    await expect(core.readNamespacedService({ name, namespace: NS })).rejects.toThrow(/404|not found/i);
    await sessions.stop(name); // idempotent
  });

  it('an unschedulable session is not ready; stopping it fails the wait instead of hanging', async () => {
    const sessions = new KubernetesSessionRunner({ namespace: NS, kubeConfig: cp.kubeConfig });
    const entityId = newId();
    const name = `session-${entityId}`;
    await sessions.start({
      name,
      entityId,
      description: description(),
      accelerator: { count: 1, type: 'nvidia-l4' },
      spot: true,
    });
    let seenStarting!: (s: SessionStatus) => void;
    const starting = new Promise<SessionStatus>((resolve) => (seenStarting = resolve));
    const waiting = sessions
      .waitReady(name, { onUpdate: (s) => s.phase === 'starting' && seenStarting(s) })
      .then(
        (s) => s.phase,
        (err: Error) => err.message,
      );
    await starting;
    const dep = await cp.kubeConfig
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name, namespace: NS });
    expect(dep.spec?.template.spec?.nodeSelector).toEqual({
      'cloud.google.com/gke-accelerator': 'nvidia-l4',
      'cloud.google.com/gke-spot': 'true',
    });
    await sessions.stop(name);
    expect(await waiting).toMatch(/failed: deleted/);
  });

  it('times out instead of waiting forever', async () => {
    const sessions = new KubernetesSessionRunner({ namespace: NS, kubeConfig: cp.kubeConfig });
    const entityId = newId();
    const name = `session-${entityId}`;
    await sessions.start({ name, entityId, description: description(), accelerator: { count: 1 } });
    await expect(sessions.waitReady(name, { timeoutMs: 500 })).rejects.toThrow(/not ready after 500 ms/);
    await sessions.stop(name);
  });
});
