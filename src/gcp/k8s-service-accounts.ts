import { workloadIdentities } from '../domain/identities.js';
import { SERVICE_ACCOUNTS } from './service-accounts.js';

/**
 * `k8s/step-serviceaccounts.yaml`, made from the step catalogue: one ServiceAccount per step identity, annotated
 * for Workload Identity with the Google account of the same name, with no API token mounted. The worker's own
 * account is in k8s/worker-rbac.yaml with its RBAC. A test holds the file in the repository to this output:
 *
 *   dyffctl gcp k8s-accounts > k8s/step-serviceaccounts.yaml
 */

export const K8S_ACCOUNTS_HEADER = `# Generated from the step catalogue (src/domain/step-catalogue.ts) by \`dyffctl gcp k8s-accounts\`; do not edit.
# One Kubernetes identity per kind of step work, each bound by Workload Identity to the Google service account of
# the same name, which holds only its buckets (\`dyffctl gcp plan\`, docs/gcp.md). Steps never call the Kubernetes
# API: no token is mounted. Replace PROJECT_ID (a kustomize patch, or sed) before applying.`;

export function stepServiceAccountsYaml(opts: { namespace?: string; project?: string } = {}): string {
  const namespace = opts.namespace ?? 'dyff';
  const project = opts.project ?? 'PROJECT_ID';
  const roles = new Map(SERVICE_ACCOUNTS.map((sa) => [sa.name, sa]));
  const docs = workloadIdentities()
    .filter((id) => id.kind === 'step')
    .map((id) => {
      const sa = roles.get(id.name)!;
      const grants = sa.storage.map(
        (s) => `${s.role.replace('roles/storage.', '')} on ${s.categories.join(', ')}`,
      );
      const extra = [
        ...sa.project,
        ...(sa.pushesImages ? ['artifactregistry.writer on the model images'] : []),
      ];
      return [
        `# ${id.runs.join('; ')}`,
        `# grants: ${[...grants, ...extra].join('; ')}`,
        'apiVersion: v1',
        'kind: ServiceAccount',
        'metadata:',
        `  name: ${id.name}`,
        `  namespace: ${namespace}`,
        '  labels:',
        '    app.kubernetes.io/part-of: dyff-temporal',
        '    dyff.io/identity: step',
        '  annotations:',
        `    iam.gke.io/gcp-service-account: ${id.name}@${project}.iam.gserviceaccount.com`,
        'automountServiceAccountToken: false',
      ].join('\n');
    });
  return `${K8S_ACCOUNTS_HEADER}\n${docs.join('\n---\n')}\n`;
}
