import type { WorkloadIdentity } from '../domain/identities.js';
import { accessByCategory, workloadIdentities } from '../domain/identities.js';
import type { Category } from '../domain/kinds.js';
import type { Access } from '../domain/step-contract.js';

/**
 * The Google service accounts of a deployment and their roles, derived from the step catalogue's identities:
 * what each identity does to a category decides the storage role it gets on that category's buckets.
 */

export const ROLES = {
  objectViewer: 'roles/storage.objectViewer',
  /** Create only: no overwrite, no delete. */
  objectCreator: 'roles/storage.objectCreator',
  /** Read, create, overwrite, delete objects (not bucket settings). */
  objectAdmin: 'roles/storage.objectAdmin',
  datastoreUser: 'roles/datastore.user',
  datastoreViewer: 'roles/datastore.viewer',
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

/**
 * The least role that allows everything in `access`. Overwriting an object needs `storage.objects.delete` as
 * deleting does, which only Object Admin has; Object Creator can write new keys only and read nothing.
 */
export function storageRoles(access: ReadonlySet<Access>): string[] {
  if (access.has('overwrite') || access.has('delete')) return [ROLES.objectAdmin];
  const roles: string[] = [];
  if (access.has('read')) roles.push(ROLES.objectViewer);
  if (access.has('create')) roles.push(ROLES.objectCreator);
  return roles;
}

export function toServiceAccount(identity: WorkloadIdentity): ServiceAccountSpec {
  const byRole = new Map<string, Category[]>();
  for (const [category, access] of accessByCategory(identity.grants)) {
    for (const role of storageRoles(access)) byRole.set(role, [...(byRole.get(role) ?? []), category]);
  }
  const project: string[] = [];
  if (identity.cloud.datastore === 'user') project.push(ROLES.datastoreUser);
  if (identity.cloud.datastore === 'viewer') project.push(ROLES.datastoreViewer);
  if (identity.cloud.cloudBuild) project.push(ROLES.cloudBuildEditor);
  return {
    name: identity.name,
    runs: identity.runs.join('; '),
    storage: [...byRole].map(([role, categories]) => ({ role, categories })),
    project,
    ...(identity.cloud.pushesImages ? { pushesImages: true } : {}),
  };
}

/** Every service account the plan creates: one per identity of the catalogue, the worker's included. */
export const SERVICE_ACCOUNTS: readonly ServiceAccountSpec[] = workloadIdentities().map(toServiceAccount);

/**
 * Accounts of the deployment notes that this project does not create, and why: nothing here runs as them.
 */
export const NOT_CREATED: Readonly<Record<string, string>> = {
  orchestrator: 'the Temporal worker admits entities; it runs as dyff-worker',
  ...Object.fromEntries(
    ['evaluation', 'model', 'inference-service', 'report', 'audit'].map((kind) => [
      `k8s-operator-${kind}`,
      `the ${kind} workflows run in the Temporal worker (dyff-worker), not in an operator of their own`,
    ]),
  ),
  'model-container-builder':
    'images are built by Cloud Build under its own service account, submitted by inference-service-builder',
};
