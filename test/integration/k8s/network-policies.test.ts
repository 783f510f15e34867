import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, NetworkingV1Api } from '@kubernetes/client-node';
import {
  auditIngressPolicy,
  auditPolicy,
  sessionIngressPolicy,
} from '../../../src/adapters/session-runner/kubernetes-manifest.js';
import { newId } from '../../../src/domain/ids.js';
import { STEP_NAMES } from '../../../src/domain/step-catalogue.js';
import {
  DEFAULT_NETWORK_POLICY_OPTIONS,
  stepNetworkPoliciesYaml,
} from '../../../src/gcp/k8s-network-policies.js';
import { skipK8s, startControlPlane, type ControlPlane } from '../../support/k8s-control-plane.js';

/*
 * The NetworkPolicies pass the real apiserver's validation (server-side dry-run): the generated file, the same
 * with other CIDRs, and the per-session policies the session runner creates. The apiserver validates them but
 * nothing enforces them here (no CNI): which peers they admit is test/unit/network-policies.test.ts.
 */
const K8S_DIR = resolve(import.meta.dirname, '../../../k8s');
let cp: ControlPlane;

describe.skipIf(skipK8s)('step NetworkPolicies on a real apiserver', () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    const created = await cp.kubectl(['apply', '-f', join(K8S_DIR, 'namespace.yaml')]);
    expect(created.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it('k8s/step-networkpolicies.yaml, and the same for other CIDRs, pass kubectl apply --dry-run=server', async () => {
    const file = await cp.kubectl([
      'apply',
      '--dry-run=server',
      '-f',
      join(K8S_DIR, 'step-networkpolicies.yaml'),
    ]);
    expect(file.stderr).toBe('');
    expect(file.code).toBe(0);
    for (const name of [...STEP_NAMES.map((n) => `step-${n}`), 'step-baseline', 'inference-session'])
      expect(file.stdout).toContain(`networkpolicy.networking.k8s.io/${name} created (server dry run)`);
    const other = stepNetworkPoliciesYaml({
      ...DEFAULT_NETWORK_POLICY_OPTIONS,
      clusterCidrs: ['10.60.0.0/14', '10.64.0.0/20', '100.64.0.0/10'],
      storageCidrs: ['199.36.153.4/30', '199.36.153.8/30'],
    });
    const custom = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: other });
    expect(custom.stderr).toBe('');
    expect(custom.code).toBe(0);
  });

  it("the session runner's per-session and per-audit policies pass server-side dry-run", async () => {
    const net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    const evaluation = newId();
    const session = `session-${evaluation}`;
    for (const body of [
      sessionIngressPolicy({ name: session, entityId: evaluation }),
      auditPolicy(session, newId()),
      auditIngressPolicy(session, newId()),
    ]) {
      const created = await net.createNamespacedNetworkPolicy({ namespace: 'dyff', body, dryRun: 'All' });
      // The ingress rule's peers survive serialization (the client types `from` as `_from`).
      expect(created.spec).toEqual(body.spec);
    }
  });

  it('the dry-run has teeth: the apiserver refuses an except outside its CIDR', async () => {
    const bad = stepNetworkPoliciesYaml({
      ...DEFAULT_NETWORK_POLICY_OPTIONS,
      storageCidrs: ['199.36.153.8/30'],
    }).replace('cidr: 0.0.0.0/0', 'cidr: 192.0.2.0/24');
    const refused = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: bad });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/except/);
    const net = cp.kubeConfig.makeApiClient(NetworkingV1Api);
    const body = sessionIngressPolicy({ name: 'session-x', entityId: 'not a label value!' });
    const err = await net.createNamespacedNetworkPolicy({ namespace: 'dyff', body, dryRun: 'All' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err instanceof ApiException && err.code).toBe(422);
  });
});
