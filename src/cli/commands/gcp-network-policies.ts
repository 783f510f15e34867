import type { Command } from 'commander';
import { DyffError, ErrorType } from '../../domain/errors.js';
import {
  DEFAULT_NETWORK_POLICY_OPTIONS as D,
  stepNetworkPoliciesYaml,
} from '../../gcp/k8s-network-policies.js';
import { checkCidrs } from '../../gcp/k8s-network-rules.js';

interface Flags {
  namespace: string;
  clusterCidr: string[];
  metadataCidr: string[];
  workloadIdentityCidr: string[];
  storageCidr: string[];
}

/** Repeatable flags: the first use replaces the default, later ones add to it. */
function collect(value: string, previous: string[], defaults: string[]): string[] {
  return previous === defaults ? [value] : [...previous, value];
}

/** `dyffctl gcp k8s-network-policies`: prints k8s/step-networkpolicies.yaml, made from the step catalogue. */
export function registerNetworkPoliciesCommand(gcp: Command): void {
  gcp
    .command('k8s-network-policies')
    .description(
      "print the steps' and sessions' NetworkPolicies (k8s/step-networkpolicies.yaml) from the step catalogue",
    )
    .option('--namespace <namespace>', 'Kubernetes namespace', D.namespace)
    .option(
      '--cluster-cidr <cidr>',
      "the cluster's pod/service ranges, never reachable by internet steps (repeatable)",
      (v: string, p: string[]) => collect(v, p, D.clusterCidrs),
      D.clusterCidrs,
    )
    .option(
      '--metadata-cidr <cidr>',
      'the metadata server, never reachable by internet steps (repeatable)',
      (v: string, p: string[]) => collect(v, p, D.metadataCidrs),
      D.metadataCidrs,
    )
    .option(
      '--workload-identity-cidr <cidr>',
      'where Workload Identity tokens are served on port 988 (repeatable)',
      (v: string, p: string[]) => collect(v, p, D.workloadIdentityCidrs),
      D.workloadIdentityCidrs,
    )
    .option(
      '--storage-cidr <cidr>',
      'the storage endpoint on port 443, e.g. private.googleapis.com (repeatable)',
      (v: string, p: string[]) => collect(v, p, D.storageCidrs),
      D.storageCidrs,
    )
    .action((f: Flags) => {
      try {
        checkCidrs('cluster-cidr', f.clusterCidr);
        checkCidrs('metadata-cidr', f.metadataCidr);
        checkCidrs('workload-identity-cidr', f.workloadIdentityCidr);
        checkCidrs('storage-cidr', f.storageCidr);
      } catch (err) {
        throw new DyffError(ErrorType.InvalidSpec, (err as Error).message);
      }
      process.stdout.write(
        stepNetworkPoliciesYaml({
          namespace: f.namespace,
          clusterCidrs: f.clusterCidr,
          metadataCidrs: f.metadataCidr,
          workloadIdentityCidrs: f.workloadIdentityCidr,
          storageCidrs: f.storageCidr,
        }),
      );
    });
}
