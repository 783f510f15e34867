import type { V1NetworkPolicy, V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { LABEL_COMPONENT, SESSION_COMPONENT } from '../adapters/session-runner/kubernetes-manifest.js';
import { LABEL_STEP, STEP_POD_NAME } from '../adapters/job-runner/kubernetes-job-manifest.js';
import { SESSION_ENTRY, STEP_CATALOGUE, STEP_NAMES, type StepName } from '../domain/step-catalogue.js';
import type { Network } from '../domain/step-contract.js';
import { egressFor, type NetworkPolicyOptions } from './k8s-network-rules.js';

export { DEFAULT_NETWORK_POLICY_OPTIONS, type NetworkPolicyOptions } from './k8s-network-rules.js';

/**
 * `k8s/step-networkpolicies.yaml`, made from the step catalogue's `network` of each step and of the session. A test
 * holds the file in the repository to this output, and another evaluates which peers each policy admits:
 *
 *   dyffctl gcp k8s-network-policies > k8s/step-networkpolicies.yaml
 *
 * Policies add up (a pod may do what any policy selecting it admits), so each pod gets exactly one static policy
 * here, chosen by its labels. What depends on the run is created by the session runner at session start: the
 * ingress from the evaluate pods of the session's own evaluation (`sessionIngressPolicy`) and, per audit, from that
 * audit's pods.
 */

export const K8S_NETWORK_POLICIES_HEADER = `# Generated from the step catalogue (src/domain/step-catalogue.ts) by \`dyffctl gcp k8s-network-policies\`; do not edit.
# One policy per step program (pods labelled dyff.io/step), a baseline for every step pod, and one for inference
# sessions. Enforced only by a CNI with NetworkPolicy support (GKE Dataplane V2); see docs/kubernetes.md.
# The CIDRs are flags of the command: the cluster's pod and service ranges, the metadata server, the storage endpoint.`;

const KIND: Record<Network, string> = {
  internet:
    'DNS, Workload Identity, the internet outside the cluster (no cluster address, no metadata server)',
  storage: 'DNS, Workload Identity, the storage endpoint (Google APIs) only',
  none: 'none at all',
};

/** The policy of one step program: no ingress; egress as its catalogue `network` says. */
function stepPolicy(name: StepName, o: NetworkPolicyOptions): V1NetworkPolicy {
  const network = STEP_CATALOGUE[name].network;
  const egress: V1NetworkPolicyEgressRule[] = [...egressFor(network, o)];
  // The evaluation client talks to its session; the session's own policy admits only its evaluation's pods.
  if (name === 'evaluate') {
    egress.push({
      to: [{ podSelector: { matchLabels: { [LABEL_COMPONENT]: SESSION_COMPONENT } } }],
      ports: [{ protocol: 'TCP', port: 'http' }],
    });
  }
  return policy(`step-${name}`, { [LABEL_STEP]: name }, egress);
}

function policy(
  name: string,
  matchLabels: Record<string, string>,
  egress: V1NetworkPolicyEgressRule[],
  namespace?: string,
): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'dyff-temporal' } },
    spec: { podSelector: { matchLabels }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress },
  };
}

/** Every static policy: one per step program, the step baseline, and the sessions'. */
export function stepNetworkPolicies(o: NetworkPolicyOptions): V1NetworkPolicy[] {
  const withNs = (p: V1NetworkPolicy) => ({ ...p, metadata: { ...p.metadata, namespace: o.namespace } });
  return [
    ...STEP_NAMES.map((n) => stepPolicy(n, o)),
    // Every step pod, with or without a catalogue program (a test program, an older image): DNS and storage, what
    // every step needs; a program's own policy adds to it.
    policy('step-baseline', { 'app.kubernetes.io/name': STEP_POD_NAME }, egressFor('storage', o)),
    // Sessions answer requests: no ingress here (each session's runner adds its evaluation's pods), egress as the
    // catalogue's session entry says.
    policy(
      'inference-session',
      { [LABEL_COMPONENT]: SESSION_COMPONENT },
      egressFor(SESSION_ENTRY.network, o),
    ),
  ].map(withNs);
}

/** What each policy admits, as the comment above it in the YAML. */
function describe(p: V1NetworkPolicy): string {
  const name = p.metadata!.name!;
  if (name === 'inference-session')
    return `inference sessions: ingress only from the evaluate and audit pods of their own run (added per session); egress: ${KIND[SESSION_ENTRY.network]}`;
  if (name === 'step-baseline')
    return `every step pod (a program's own policy adds to this): no ingress; egress: ${KIND.storage}`;
  const step = name.slice('step-'.length) as StepName;
  const extra = step === 'evaluate' ? ', and inference sessions on their http port' : '';
  return `${step}: no ingress; egress: ${KIND[STEP_CATALOGUE[step].network]}${extra}`;
}

export function stepNetworkPoliciesYaml(o: NetworkPolicyOptions): string {
  const docs = stepNetworkPolicies(o).map((p) => `# ${describe(p)}\n${stringify(p, { lineWidth: 0 })}`);
  return `${K8S_NETWORK_POLICIES_HEADER}\n${docs.join('---\n')}`;
}
