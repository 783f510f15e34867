import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubernetesJobRunner } from '../../../src/adapters/job-runner/kubernetes.js';
import { KubernetesSessionRunner } from '../../../src/adapters/session-runner/kubernetes.js';
import { newId } from '../../../src/domain/ids.js';
import { workloadIdentities } from '../../../src/domain/identities.js';
import { STEP_NAMES } from '../../../src/domain/step-catalogue.js';
import { jobName } from '../../../src/ports/job-runner.js';
import {
  skipK8s,
  startControlPlane,
  startNamespace,
  type ControlPlane,
  type TestNamespace,
} from '../../support/k8s-control-plane.js';

/*
 * The manifests in k8s/ against a real apiserver: server-side validation of every object, then the worker's RBAC
 * exercised as the worker's own ServiceAccount (a token from the TokenRequest API).
 */
const K8S_DIR = resolve(import.meta.dirname, '../../../k8s');
/** Every step identity of the catalogue (k8s/step-serviceaccounts.yaml is generated from it). */
const STEP_ACCOUNTS = workloadIdentities()
  .filter((id) => id.kind === 'step')
  .map((id) => id.name);
/** The step NetworkPolicies (k8s/step-networkpolicies.yaml, generated from the catalogue). */
const STEP_POLICIES = [...STEP_NAMES.map((n) => `step-${n}`), 'step-baseline', 'inference-session'];
let cp: ControlPlane;
let ns: TestNamespace | undefined;
let worker: KubeConfig;

function forbidden(err: unknown): boolean {
  return err instanceof ApiException && err.code === 403;
}

describe.skipIf(skipK8s)('k8s/ manifests', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
  }, 180_000);

  afterAll(async () => {
    await ns?.stop();
    await cp?.stop();
  });

  it('every manifest passes server-side dry-run, on its own and through kustomize', async () => {
    // Namespaced objects can only be dry-run in a namespace that exists.
    const created = await cp.kubectl(['apply', '-f', join(K8S_DIR, 'namespace.yaml')]);
    expect(created.stderr).toBe('');
    const files = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const examples = readdirSync(join(K8S_DIR, 'examples')).map((f) => join(K8S_DIR, 'examples', f));
    const each = await cp.kubectl([
      'apply',
      '--dry-run=server',
      ...files.flatMap((f) => ['-f', join(K8S_DIR, f)]),
      ...examples.flatMap((f) => ['-f', f]),
    ]);
    expect(each.stderr).toBe('');
    expect(each.code).toBe(0);
    const kustomized = await cp.kubectl(['apply', '--dry-run=server', '-k', K8S_DIR]);
    expect(kustomized.stderr).toBe('');
    for (const obj of [
      'namespace/dyff',
      'configmap/dyff-worker-config',
      'serviceaccount/dyff-worker',
      'role.rbac.authorization.k8s.io/dyff-worker',
      'rolebinding.rbac.authorization.k8s.io/dyff-worker',
      'deployment.apps/dyff-worker',
      'networkpolicy.networking.k8s.io/audit',
      ...STEP_POLICIES.map((p) => `networkpolicy.networking.k8s.io/${p}`),
      ...STEP_ACCOUNTS.map((a) => `serviceaccount/${a}`),
    ]) {
      expect(kustomized.stdout).toContain(`${obj} `);
    }
  });

  it('applies, and the worker Deployment passes the restricted Pod Security profile and becomes ready', async () => {
    const applied = await cp.kubectl(['apply', '-k', K8S_DIR]);
    expect(applied.code).toBe(0);
    ns = await startNamespace(cp, 'dyff', { existing: true });
    const ready = await new KubernetesSessionRunner({
      namespace: 'dyff',
      kubeConfig: cp.kubeConfig,
    }).waitReady('dyff-worker');
    expect(ready.phase).toBe('ready');
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    expect(
      (await apps.readNamespacedDeployment({ name: 'dyff-worker', namespace: 'dyff' })).status?.readyReplicas,
    ).toBe(2);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of STEP_ACCOUNTS) {
      const sa = await core.readNamespacedServiceAccount({ name, namespace: 'dyff' });
      expect(sa.metadata?.annotations?.['iam.gke.io/gcp-service-account']).toBe(
        `${name}@PROJECT_ID.iam.gserviceaccount.com`,
      );
      expect(sa.automountServiceAccountToken).toBe(false);
    }
  });

  it('as the worker ServiceAccount: runs, watches, cancels Jobs and sessions in its namespace', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const token = await core.createNamespacedServiceAccountToken({
      name: 'dyff-worker',
      namespace: 'dyff',
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const cluster = cp.kubeConfig.getCurrentCluster()!;
    worker = new KubeConfig();
    worker.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caData: cluster.caData }],
      users: [{ name: 'dyff-worker', token: token.status!.token }],
      contexts: [{ name: 'worker', cluster: 'test', user: 'dyff-worker', namespace: 'dyff' }],
      currentContext: 'worker',
    });

    const runner = new KubernetesJobRunner({
      namespace: 'dyff',
      image: 'dyff-temporal:test',
      kubeConfig: worker,
    });
    const entityId = newId();
    const ok = {
      name: jobName(entityId, 'evaluate', 1),
      entityId,
      stage: 'evaluate',
      serviceAccount: 'model-runner',
    };
    await runner.start({ ...ok, args: ['test-print', '--lines', '3'] });
    const done = await runner.wait(ok.name);
    expect(done).toMatchObject({ phase: 'succeeded', logTail: ['line-1', 'line-2', 'line-3'] });

    const long = {
      name: jobName(entityId, 'evaluate', 2),
      entityId,
      stage: 'evaluate',
      args: ['test-sleep', '--ms', '60000'],
    };
    await runner.start(long);
    const waiting = runner.wait(long.name);
    await runner.cancel(long.name);
    expect((await waiting).reason).toBe('cancelled');
    expect((await runner.list(entityId)).map((j) => j.name)).toContain(ok.name);
    await runner.close();

    const sessions = new KubernetesSessionRunner({ namespace: 'dyff', kubeConfig: worker });
    const sessionName = `session-${entityId}`;
    const description = {
      serviceId: entityId,
      runner: 'standalone' as const,
      command: ['serve-model'],
      endpoint: '/',
      interface: {},
    };
    await sessions.start({ name: sessionName, entityId, description });
    expect((await sessions.waitReady(sessionName)).phase).toBe('ready');
    await sessions.allowAudit(sessionName, newId());
    await sessions.stop(sessionName);
  });

  it('as the worker ServiceAccount: refused Secrets, bare Pods, and every other namespace', async () => {
    const core = worker.makeApiClient(CoreV1Api);
    const batch = worker.makeApiClient(BatchV1Api);
    const refusals: [string, () => Promise<unknown>][] = [
      ['list secrets', () => core.listNamespacedSecret({ namespace: 'dyff' })],
      ['read a secret', () => core.readNamespacedSecret({ name: 'anything', namespace: 'dyff' })],
      [
        'create a bare pod',
        () =>
          core.createNamespacedPod({
            namespace: 'dyff',
            body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } },
          }),
      ],
      ['list jobs in default', () => batch.listNamespacedJob({ namespace: 'default' })],
      [
        'create a job in default',
        () =>
          batch.createNamespacedJob({
            namespace: 'default',
            body: {
              metadata: { name: 'x' },
              spec: {
                template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: 'x' }] } },
              },
            },
          }),
      ],
      ['list namespaces', () => core.listNamespace()],
      [
        'impersonate a step identity (token)',
        () =>
          core.createNamespacedServiceAccountToken({
            name: 'model-runner',
            namespace: 'dyff',
            body: { spec: { audiences: [] } },
          }),
      ],
    ];
    for (const [what, attempt] of refusals) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(forbidden(err), `${what} should be forbidden, got ${String(err)}`).toBe(true);
    }
    const canI = await cp.kubectl([
      'auth',
      'can-i',
      '--list',
      '-n',
      'dyff',
      '--as',
      'system:serviceaccount:dyff:dyff-worker',
    ]);
    expect(canI.stdout).toMatch(/jobs\.batch\s+\[\]\s+\[\]\s+\[create get list watch delete\]/);
    expect(canI.stdout).not.toMatch(/^secrets/m);
  });
});
