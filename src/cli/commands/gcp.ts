import type { Command } from 'commander';
import type { loadConfig } from '../../config.js';
import { DyffError } from '../../domain/errors.js';
import { checkPrefix } from '../../gcp/buckets.js';
import { buildIamPlan, planToShell } from '../../gcp/iam-plan.js';
import { stepServiceAccountsYaml } from '../../gcp/k8s-service-accounts.js';
import { registerNetworkPoliciesCommand } from './gcp-network-policies.js';
import { registerRegistriesCommand } from './gcp-registries.js';

interface PlanCliOptions {
  project?: string;
  prefix?: string;
  namespace?: string;
  location: string;
  format: string;
  webassetsPublisher?: string[];
}

/** `dyffctl gcp plan`: prints the gcloud/kubectl commands of the least-privilege IAM setup; runs nothing. */
export function registerGcpCommands(program: Command, deps: { loadConfig: typeof loadConfig }): void {
  const gcp = program.command('gcp').description('Google Cloud setup');
  gcp
    .command('plan')
    .description('print the service accounts, bucket-scoped role bindings and Workload Identity commands')
    .option('--project <project>', 'GCP project (default: gcs.projectId)')
    .option('--prefix <prefix>', 'bucket name prefix (default: gcs.bucketPrefix)')
    .option('--namespace <namespace>', 'Kubernetes namespace (default: kubernetes.namespace)')
    .option('--location <location>', 'Artifact Registry location', 'us-central1')
    .option('--format <format>', 'shell or json', 'shell')
    .option(
      '--webassets-publisher <member...>',
      'IAM members (group:docs@example.org) that publish the API docs to the webassets bucket',
    )
    .action((opts: PlanCliOptions) => {
      const config = deps.loadConfig();
      const project = opts.project ?? config.gcs.projectId;
      if (!project)
        throw new DyffError(
          'InvalidSpec',
          'no GCP project: pass --project or set gcs.projectId (DYFF_GCS_PROJECT)',
        );
      if (opts.format !== 'shell' && opts.format !== 'json') {
        throw new DyffError(
          'InvalidSpec',
          `--format must be shell or json, not ${JSON.stringify(opts.format)}`,
        );
      }
      const prefix = opts.prefix ?? config.gcs.bucketPrefix;
      checkPrefix(prefix);
      const plan = buildIamPlan({
        project,
        prefix,
        namespace: opts.namespace ?? config.kubernetes.namespace,
        location: opts.location,
        webassetsPublishers: opts.webassetsPublisher,
      });
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : planToShell(plan));
    });
  gcp
    .command('k8s-accounts')
    .description(
      "print the steps' Kubernetes ServiceAccounts (k8s/step-serviceaccounts.yaml) from the step catalogue",
    )
    .option('--namespace <namespace>', 'Kubernetes namespace', 'dyff')
    .option('--project <project>', 'GCP project in the Workload Identity annotations', 'PROJECT_ID')
    .action((opts: { namespace: string; project: string }) => {
      process.stdout.write(stepServiceAccountsYaml(opts));
    });
  registerNetworkPoliciesCommand(gcp);
  registerRegistriesCommand(gcp, deps);
}
