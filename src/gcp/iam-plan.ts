import type { Category } from '../domain/kinds.js';
import type { ServiceAccountSpec } from './service-accounts.js';
import { ROLES, SERVICE_ACCOUNTS } from './service-accounts.js';
import { WEBASSETS_ACCOUNT, webassetsCommands } from './webassets.js';

export type { ServiceAccountSpec } from './service-accounts.js';
export { NOT_CREATED, ROLES, SERVICE_ACCOUNTS } from './service-accounts.js';

/**
 * The least-privilege IAM of a deployment, as commands, derived from the step catalogue (service-accounts.ts): one
 * Google service account per identity, storage roles limited by an IAM condition to the buckets of a category
 * (`resource.name.startsWith("projects/_/buckets/<prefix>-<category>-")`, the condition the deployment notes set
 * up by hand in the console), project roles, Artifact Registry writers, and Workload Identity between each Google
 * account and the Kubernetes service account of the same name. docs/gcp.md says where it departs from the notes.
 *
 *   dyffctl gcp plan --project my-project --prefix dyff --namespace dyff > plan.sh   # review, then: bash plan.sh
 */

export interface PlanOptions {
  project: string;
  /** Bucket name prefix, as in `<prefix>-<category>-<hex>`. */
  prefix: string;
  /** Kubernetes namespace of the service accounts. */
  namespace: string;
  /** Artifact Registry location. @default us-central1 */
  location?: string;
  /** Docker repository the builders push model images to. @default dyff-models */
  imageRepository?: string;
  /** IAM members that publish the API docs to the webassets buckets (see webassets.ts). @default none */
  webassetsPublishers?: readonly string[];
}

export interface PlanCommand {
  account: string;
  /** What the command does, for the shell comment. */
  step: 'create' | 'storage' | 'project' | 'images' | 'k8s-account' | 'workload-identity' | 'annotate';
  argv: string[];
  /** A check whose success makes the command unnecessary (the thing already exists), so re-runs are safe. */
  unless?: string[];
}

export interface IamPlan {
  project: string;
  prefix: string;
  namespace: string;
  serviceAccounts: Array<ServiceAccountSpec & { email: string; workloadIdentityMember: string }>;
  commands: PlanCommand[];
}

export function bucketCondition(prefix: string, category: Category): { expression: string; title: string } {
  return {
    expression: `resource.name.startsWith("projects/_/buckets/${prefix}-${category}-")`,
    title: `is-${category}-bucket`,
  };
}

export function buildIamPlan(opts: PlanOptions): IamPlan {
  const { project, prefix, namespace } = opts;
  const location = opts.location ?? 'us-central1';
  const repository = opts.imageRepository ?? 'dyff-models';
  const commands: PlanCommand[] = [];
  const serviceAccounts = SERVICE_ACCOUNTS.map((sa) => {
    const email = `${sa.name}@${project}.iam.gserviceaccount.com`;
    const member = `serviceAccount:${email}`;
    const workloadIdentityMember = `serviceAccount:${project}.svc.id.goog[${namespace}/${sa.name}]`;
    const add = (step: PlanCommand['step'], argv: string[], unless?: string[]) =>
      commands.push({ account: sa.name, step, argv, ...(unless ? { unless } : {}) });

    add(
      'create',
      [
        'gcloud',
        'iam',
        'service-accounts',
        'create',
        sa.name,
        `--project=${project}`,
        `--display-name=dyff ${sa.name}`,
      ],
      ['gcloud', 'iam', 'service-accounts', 'describe', email, `--project=${project}`],
    );
    for (const { role, categories } of sa.storage) {
      for (const category of categories) {
        const { expression, title } = bucketCondition(prefix, category);
        add('storage', [
          'gcloud',
          'projects',
          'add-iam-policy-binding',
          project,
          `--member=${member}`,
          `--role=${role}`,
          `--condition=expression=${expression},title=${title}`,
        ]);
      }
    }
    for (const role of sa.project) {
      // `None` says "unconditional" explicitly; without it gcloud prompts once the policy has conditions.
      add('project', [
        'gcloud',
        'projects',
        'add-iam-policy-binding',
        project,
        `--member=${member}`,
        `--role=${role}`,
        '--condition=None',
      ]);
    }
    if (sa.pushesImages) {
      add('images', [
        'gcloud',
        'artifacts',
        'repositories',
        'add-iam-policy-binding',
        repository,
        `--project=${project}`,
        `--location=${location}`,
        `--role=${ROLES.artifactWriter}`,
        `--member=${member}`,
      ]);
    }
    add(
      'k8s-account',
      ['kubectl', 'create', 'serviceaccount', sa.name, `--namespace=${namespace}`],
      ['kubectl', 'get', 'serviceaccount', sa.name, `--namespace=${namespace}`],
    );
    add('workload-identity', [
      'gcloud',
      'iam',
      'service-accounts',
      'add-iam-policy-binding',
      email,
      `--project=${project}`,
      `--role=${ROLES.workloadIdentityUser}`,
      `--member=${workloadIdentityMember}`,
    ]);
    add('annotate', [
      'kubectl',
      'annotate',
      'serviceaccount',
      sa.name,
      `--namespace=${namespace}`,
      '--overwrite',
      `iam.gke.io/gcp-service-account=${email}`,
    ]);
    return { ...sa, email, workloadIdentityMember };
  });
  const webassets = bucketCondition(prefix, 'webassets');
  commands.push(...webassetsCommands(project, webassets, opts.webassetsPublishers ?? []));
  return { project, prefix, namespace, serviceAccounts, commands };
}

/** The plan as a bash script; re-running it is safe (existing accounts are kept, bindings are idempotent). */
export function planToShell(plan: IamPlan): string {
  const lines = [
    '#!/usr/bin/env bash',
    `# dyff IAM for project ${plan.project}: bucket prefix "${plan.prefix}", Kubernetes namespace "${plan.namespace}".`,
    '# Generated by `dyffctl gcp plan`. Review before running.',
    'set -euo pipefail',
  ];
  let account = '';
  for (const cmd of plan.commands) {
    if (cmd.account !== account) {
      account = cmd.account;
      const sa = plan.serviceAccounts.find((s) => s.name === account);
      const runs = account === WEBASSETS_ACCOUNT ? 'the publishers of the API docs' : (sa?.runs ?? '');
      lines.push('', `# ${account}: ${runs}`);
    }
    lines.push(shellLine(cmd));
  }
  return `${lines.join('\n')}\n`;
}

function shellLine(cmd: PlanCommand): string {
  const text = cmd.argv.map(shellQuote).join(' ');
  return cmd.unless ? `${cmd.unless.map(shellQuote).join(' ')} >/dev/null 2>&1 || ${text}` : text;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
