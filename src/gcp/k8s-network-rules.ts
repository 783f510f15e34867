import type { V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import { cidrProblem } from '../domain/egress.js';
import type { Network } from '../domain/step-contract.js';

/** The addresses the generated NetworkPolicies are written for (flags of `dyffctl gcp k8s-network-policies`). */
export interface NetworkPolicyOptions {
  namespace: string;
  /** The cluster's pod and service ranges (and any other internal network): never reachable as "internet". */
  clusterCidrs: string[];
  /** The metadata server: never reachable as "internet" (node and project metadata, other credentials). */
  metadataCidrs: string[];
  /** Where Workload Identity tokens come from on port 988 (GKE Dataplane V2 redirects the metadata server there). */
  workloadIdentityCidrs: string[];
  /** The storage endpoint on 443: Google APIs through Private Google Access (private.googleapis.com). */
  storageCidrs: string[];
}

export const DEFAULT_NETWORK_POLICY_OPTIONS: NetworkPolicyOptions = {
  namespace: 'dyff',
  // Every private IPv4 range: GKE's pod and service ranges are carved from these unless configured otherwise.
  clusterCidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  metadataCidrs: ['169.254.169.254/32'],
  workloadIdentityCidrs: ['169.254.169.252/32'],
  storageCidrs: ['199.36.153.8/30'],
};

/** kube-dns, and GKE's node-local-dns (pods in kube-system, and its link-local listen address). */
export function dnsRule(): V1NetworkPolicyEgressRule {
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: {
          matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns', 'node-local-dns'] }],
        },
      },
      { ipBlock: { cidr: '169.254.20.10/32' } },
    ],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  };
}

/** The egress rules of a catalogue `network`. */
export function egressFor(network: Network, o: NetworkPolicyOptions): V1NetworkPolicyEgressRule[] {
  if (network === 'none') return [];
  const identity: V1NetworkPolicyEgressRule = {
    to: o.workloadIdentityCidrs.map((cidr) => ({ ipBlock: { cidr } })),
    ports: [{ protocol: 'TCP', port: 988 }],
  };
  if (network === 'storage') {
    return [
      dnsRule(),
      identity,
      { to: o.storageCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: 'TCP', port: 443 }] },
    ];
  }
  const except = [...o.clusterCidrs, ...o.metadataCidrs].filter((c) => !c.includes(':'));
  return [dnsRule(), identity, { to: [{ ipBlock: { cidr: '0.0.0.0/0', except } }] }];
}

/** A clear error for a bad CIDR flag, naming the flag. */
export function checkCidrs(flag: string, cidrs: readonly string[]): void {
  if (!cidrs.length) throw new Error(`--${flag}: at least one CIDR is needed`);
  for (const c of cidrs) {
    const problem =
      cidrProblem(c) ?? (c.includes('/') ? undefined : `${JSON.stringify(c)} has no prefix length`);
    if (problem) throw new Error(`--${flag}: ${problem}`);
    if (c.includes(':'))
      throw new Error(`--${flag}: ${c}: only IPv4 ranges are supported (IPv6 egress is denied)`);
  }
}
