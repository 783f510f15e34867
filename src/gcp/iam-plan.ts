import type { Category } from '../domain/kinds.js';

/**
 * The least-privilege IAM of the reference deployment (`reference/gcp-deployment-notes.md`), as commands: one Google
 * service account per program, storage roles limited by an IAM condition to the buckets of a category
 * (`resource.name.startsWith("projects/_/buckets/<prefix>-<category>-")`, the condition the notes set up by hand in
 * the console), project roles, Artifact Registry writers, and Workload Identity between each Google account and the
 * Kubernetes service account of the same name.
 *
 *   dyffctl gcp plan --project my-project --prefix dyff --namespace dyff > plan.sh   # review, then: bash plan.sh
 */

export const ROLES = {
  objectViewer: 'roles/storage.objectViewer',
  /** Create only: no overwrite, no delete (the notes call this a good thing for outputs). */
  objectCreator: 'roles/storage.objectCreator',
  objectAdmin: 'roles/storage.objectAdmin',
  storageAdmin: 'roles/storage.admin',
  datastoreUser: 'roles/datastore.user',
  datastoreViewer: 'roles/datastore.viewer',
  kubernetesViewer: 'roles/container.viewer',
  cloudBuildEditor: 'roles/cloudbuild.builds.editor',
  artifactWriter: 'roles/artifactregistry.writer',
  workloadIdentityUser: 'roles/iam.workloadIdentityUser',
} as const;

export interface ServiceAccountSpec {
  name: string;
  /** What runs as this account. */
  runs: string;
  /** Storage roles, each granted only on the buckets of the listed categories. */
  storage: ReadonlyArray<{ role: string; categories: readonly Category[] }>;
  /** Roles on the whole project (no condition). */
  project: readonly string[];
  /** `roles/artifactregistry.writer` on the model image repository. */
  pushesImages?: boolean;
}

const { objectViewer, objectCreator, objectAdmin, storageAdmin } = ROLES;
const operator = (kind: string): ServiceAccountSpec => ({
  name: `k8s-operator-${kind}`,
  runs: `the ${kind} operator (here: the Temporal worker's ${kind} workflows)`,
  storage: [],
  project: [ROLES.kubernetesViewer, ROLES.datastoreUser],
});

/** Every service account the notes set up, with the roles they list for it. */
export const SERVICE_ACCOUNTS: readonly ServiceAccountSpec[] = [
  {
    name: 'model-runner',
    runs: 'the model server of an inference service',
    storage: [
      { role: objectViewer, categories: ['datasets', 'models'] },
      { role: objectCreator, categories: ['outputs'] },
    ],
    project: [],
  },
  {
    name: 'data-fetcher',
    runs: 'the fetch-data step',
    storage: [
      { role: objectViewer, categories: ['rawdata'] },
      { role: objectCreator, categories: ['rawdata'] },
    ],
    project: [],
  },
  {
    name: 'dataset-ingester',
    runs: 'the ingest step',
    // "Read: rawdata; Read/Write: datasets" — write as create-only, like the other writers in the notes.
    storage: [
      { role: objectViewer, categories: ['rawdata', 'datasets'] },
      { role: objectCreator, categories: ['datasets'] },
    ],
    project: [],
  },
  {
    name: 'orchestrator',
    runs: 'the orchestrator, which admits entities (here: the Temporal worker)',
    storage: [],
    project: [ROLES.kubernetesViewer, ROLES.datastoreUser],
  },
  operator('evaluation'),
  operator('model'),
  operator('inference-service'),
  operator('report'),
  operator('audit'),
  {
    name: 'report-runner',
    runs: 'the report step',
    storage: [{ role: storageAdmin, categories: ['outputs'] }],
    project: [ROLES.datastoreViewer],
  },
  {
    name: 'evaluation-client',
    runs: 'the evaluate step (the evaluation client)',
    storage: [
      { role: objectViewer, categories: ['datasets'] },
      { role: objectAdmin, categories: ['outputs'] },
    ],
    project: [ROLES.datastoreViewer],
  },
  {
    name: 'model-fetcher',
    runs: 'the fetch-model step',
    storage: [{ role: objectAdmin, categories: ['models'] }],
    project: [],
  },
  {
    name: 'inference-service-builder',
    runs: 'the build step when it submits Cloud Build jobs',
    storage: [{ role: objectAdmin, categories: ['models'] }],
    // The notes say "Cloud Build Editor/Viewer": the editor role includes everything the viewer role grants.
    project: [ROLES.cloudBuildEditor],
    pushesImages: true,
  },
  {
    name: 'model-container-builder',
    runs: 'the build of a model container image',
    storage: [{ role: objectViewer, categories: ['models'] }],
    project: [],
    pushesImages: true,
  },
];

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
      lines.push('', `# ${account}: ${sa?.runs ?? ''}`);
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
