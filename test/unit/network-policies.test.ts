import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gcpCli } from '../support/gcp-cli.js';
import { buildJob } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import {
  auditIngressPolicy,
  auditPolicy,
  sessionDeployment,
  sessionIngressPolicy,
} from '../../src/adapters/session-runner/kubernetes-manifest.js';
import { newId } from '../../src/domain/ids.js';
import { STEP_CATALOGUE, STEP_NAMES, type StepName } from '../../src/domain/step-catalogue.js';
import {
  DEFAULT_NETWORK_POLICY_OPTIONS,
  stepNetworkPoliciesYaml,
} from '../../src/gcp/k8s-network-policies.js';
import { jobName } from '../../src/ports/job-runner.js';
import { admits, type Endpoint, type Pod, type Policy } from '../support/network-policy-eval.js';

/*
 * The NetworkPolicies in k8s/ are what the catalogue generates, and, read with NetworkPolicy semantics
 * (test/support/network-policy-eval.ts) over the labels the real Job and session manifests carry, each step kind
 * reaches what its catalogue `network` says and nothing else; a session is reached only by its own run.
 */
const K8S = resolve(import.meta.dirname, '../../k8s');
const NS = 'dyff';

const cli = gcpCli;

async function k8sPolicies(): Promise<Policy[]> {
  const files = ['step-networkpolicies.yaml', 'audit-networkpolicy.yaml'];
  const texts = await Promise.all(files.map((f) => readFile(resolve(K8S, f), 'utf8')));
  return texts.flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as Policy));
}

let nextIp = 10;
/** A step pod as the Kubernetes job runner makes it, at a cluster address. */
function stepPod(step: StepName, entityId: string): Pod {
  const stage = STEP_CATALOGUE[step].stage;
  const job = buildJob(
    { name: jobName(entityId, stage, 1), entityId, stage, args: [step, '--id', entityId] },
    {
      image: 'i',
      imagePullPolicy: 'Never',
      argsPrefix: ['step'],
      env: {},
      ttlSecondsAfterFinished: 60,
      runAsUser: 1000,
    },
  );
  return { namespace: NS, labels: job.spec!.template.metadata!.labels!, ip: `10.8.0.${nextIp++}` };
}

/** A session pod as the Kubernetes session runner makes it, for the evaluation `entityId`. */
function sessionPod(entityId: string): Pod {
  const d = sessionDeployment(
    {
      name: `session-${entityId}`,
      entityId,
      description: { serviceId: entityId, runner: 'standalone', endpoint: '/', interface: {} },
    },
    { port: 8000 },
  );
  const ports = Object.fromEntries(
    d.spec!.template.spec!.containers[0]!.ports!.map((p) => [p.name!, p.containerPort]),
  );
  return { namespace: NS, labels: d.spec!.template.metadata!.labels!, ip: `10.8.1.${nextIp++}`, ports };
}

const INTERNET = { ip: '93.184.216.34' };
const STORAGE = { ip: '199.36.153.9' }; // private.googleapis.com
const METADATA = { ip: '169.254.169.254' };
const WORKLOAD_IDENTITY = { ip: '169.254.169.252' };
const SERVICE_IP = { ip: '10.12.0.10' }; // a ClusterIP
const CLUSTER_POD: Pod = {
  namespace: NS,
  labels: { 'app.kubernetes.io/name': 'dyff-worker' },
  ip: '10.8.3.4',
};
const KUBE_DNS: Pod = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ip: '10.8.4.2' };

/** What a pod may reach, as a table the assertions read at a glance. */
function reach(policies: Policy[], from: Pod, session: Pod) {
  const to = (target: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP') =>
    admits(policies, { from, to: target, port, protocol });
  return {
    internet443: to(INTERNET, 443),
    internet80: to(INTERNET, 80),
    storage443: to(STORAGE, 443),
    dns: to(KUBE_DNS, 53, 'UDP'),
    workloadIdentity988: to(WORKLOAD_IDENTITY, 988),
    metadata80: to(METADATA, 80),
    clusterPod: to(CLUSTER_POD, 8080),
    serviceIp: to(SERVICE_IP, 443),
    session: to(session, 8000),
  };
}

describe('step NetworkPolicies', () => {
  it('k8s/step-networkpolicies.yaml is what dyffctl gcp k8s-network-policies prints from the catalogue', async () => {
    const file = await readFile(resolve(K8S, 'step-networkpolicies.yaml'), 'utf8');
    expect(file).toBe(stepNetworkPoliciesYaml(DEFAULT_NETWORK_POLICY_OPTIONS));
    expect(await cli('gcp', 'k8s-network-policies')).toBe(file);
    const names = parseAllDocuments(file).map((d) => (d.toJS() as Policy).metadata?.name);
    expect(names).toEqual([...STEP_NAMES.map((n) => `step-${n}`), 'step-baseline', 'inference-session']);
  });

  it('takes the CIDRs as flags, and names the flag of a bad one', async () => {
    const out = await cli(
      'gcp',
      'k8s-network-policies',
      '--cluster-cidr',
      '10.60.0.0/14',
      '--cluster-cidr',
      '10.64.0.0/20',
      '--storage-cidr',
      '199.36.153.4/30',
      '--namespace',
      'eval',
    );
    const fetch = parseAllDocuments(out)
      .map((d) => d.toJS() as Policy)
      .find((p) => p.metadata?.name === 'step-fetch-data')!;
    expect(fetch.metadata?.namespace).toBe('eval');
    expect(JSON.stringify(fetch.spec?.egress)).toContain(
      '"except":["10.60.0.0/14","10.64.0.0/20","169.254.169.254/32"]',
    );
    expect(out).toContain('cidr: 199.36.153.4/30');
    await expect(cli('gcp', 'k8s-network-policies', '--storage-cidr', '199.36.153.8/40')).rejects.toThrow(
      /--storage-cidr: "199\.36\.153\.8\/40" has an invalid prefix length/,
    );
  });

  it('each step kind reaches what its catalogue network says: fetch steps the internet, the others storage', async () => {
    const policies = await k8sPolicies();
    const evaluation = newId();
    const session = sessionPod(evaluation);
    const run = [...policies, sessionIngressPolicy({ name: `session-${evaluation}`, entityId: evaluation })];
    const internet = {
      internet443: true,
      internet80: true,
      storage443: true,
      dns: true,
      workloadIdentity988: true,
      metadata80: false,
      clusterPod: false,
      serviceIp: false,
      session: false,
    };
    const storage = { ...internet, internet443: false, internet80: false };
    const expected: Record<StepName, typeof internet> = {
      'fetch-data': internet,
      'fetch-model': internet,
      'ingest-dataset': storage,
      'build-service': storage,
      // The evaluation client also reaches remote endpoints, and its own session.
      evaluate: { ...internet, session: true },
      'verify-outputs': storage,
      report: storage,
      // The procedure's repository may be anywhere.
      'fetch-procedure': internet,
      // Under the baseline audit policy too (stage audit): the metadata server besides storage; its session only
      // once the audit is allowed in (allowAudit, per audit).
      'run-audit': { ...storage, metadata80: true },
    };
    for (const step of STEP_NAMES) {
      const pod = stepPod(step, evaluation);
      expect({ step, ...reach(run, pod, session) }).toEqual({ step, ...expected[step] });
      // Nothing reaches a step pod, not even the worker.
      expect({ step, ingress: admits(run, { from: CLUSTER_POD, to: pod, port: 8080 }) }).toEqual({
        step,
        ingress: false,
      });
    }
    // Without the catalogue's label (a program outside it) a step pod still gets the baseline: storage only.
    const bare = stepPod('report', evaluation);
    delete bare.labels['dyff.io/step'];
    expect(reach(run, bare, session)).toEqual(storage);
  });

  it("a session is reached only by its own evaluation's evaluate pods and its audits, and reaches only storage", async () => {
    const policies = await k8sPolicies();
    const [mine, other, audit, otherAudit] = [newId(), newId(), newId(), newId()];
    const session = sessionPod(mine);
    const name = `session-${mine}`;
    const run = [
      ...policies,
      sessionIngressPolicy({ name, entityId: mine }),
      sessionIngressPolicy({ name: `session-${other}`, entityId: other }),
      auditPolicy(name, audit),
      auditIngressPolicy(name, audit),
    ] as Policy[];
    const auditPod = (id: string): Pod => ({
      namespace: NS,
      labels: { 'dyff.io/entity': id, 'dyff.io/stage': 'audit' },
      ip: `10.8.2.${nextIp++}`,
    });
    const from = (pod: Pod) => admits(run, { from: pod, to: session, port: 8000 });
    expect({
      ownEvaluate: from(stepPod('evaluate', mine)),
      otherRunEvaluate: from(stepPod('evaluate', other)),
      ownRunVerify: from(stepPod('verify-outputs', mine)),
      fetch: from(stepPod('fetch-data', newId())),
      worker: from(CLUSTER_POD),
      allowedAudit: from(auditPod(audit)),
      otherAudit: from(auditPod(otherAudit)),
      ownEvaluateOtherPort: admits(run, { from: stepPod('evaluate', mine), to: session, port: 9090 }),
    }).toEqual({
      ownEvaluate: true,
      otherRunEvaluate: false,
      ownRunVerify: false,
      fetch: false,
      worker: false,
      allowedAudit: true,
      otherAudit: false,
      ownEvaluateOtherPort: false,
    });
    // It loads its model from the models bucket when it starts: storage (and what reaching it takes), nothing else.
    const out = reach(run, session, stepPod('evaluate', mine));
    expect(
      Object.entries(out)
        .filter(([, allowed]) => allowed)
        .map(([peer]) => peer)
        .sort(),
    ).toEqual(['dns', 'storage443', 'workloadIdentity988']);
  });

  it('the evaluator itself: an unselected pod allows all, policies add up, except and named ports hold', () => {
    const pod: Pod = { namespace: NS, labels: { a: '1' }, ip: '10.0.0.1', ports: { http: 8000 } };
    expect(admits([], { from: pod, to: INTERNET, port: 1 })).toBe(true);
    const deny: Policy = { spec: { podSelector: { matchLabels: { a: '1' } }, policyTypes: ['Egress'] } };
    expect(admits([deny], { from: pod, to: INTERNET, port: 1 })).toBe(false);
    const some: Policy = {
      spec: {
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: '93.0.0.0/8', except: ['93.184.0.0/16'] } }] }],
      },
    };
    expect(admits([deny, some], { from: pod, to: { ip: '93.1.2.3' }, port: 1 })).toBe(true);
    expect(admits([deny, some], { from: pod, to: INTERNET, port: 1 })).toBe(false);
    const named: Policy = {
      spec: { podSelector: {}, ingress: [{ _from: [{ podSelector: {} }], ports: [{ port: 'http' }] }] },
    };
    expect(admits([named], { from: CLUSTER_POD, to: pod, port: 8000 })).toBe(true);
    expect(admits([named], { from: CLUSTER_POD, to: pod, port: 8001 })).toBe(false);
    expect(admits([named], { from: { ...CLUSTER_POD, namespace: 'other' }, to: pod, port: 8000 })).toBe(
      false,
    );
  });
});
