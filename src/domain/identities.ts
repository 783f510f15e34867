import type { Category } from './kinds.js';
import type { Access, CloudNeeds, Grant, Network } from './step-contract.js';
import { READS } from './step-contract.js';
import type { Identity } from './step-catalogue.js';
import { SESSION_ENTRY, STEP_CATALOGUE, STEP_NAMES, grantsOf } from './step-catalogue.js';

/**
 * The identities of a deployment, derived from the step catalogue: one per kind of step work (the steps that run
 * as it, the union of their grants and needs), the inference session's, the audit's, and the worker's own. The
 * IAM plan and `k8s/step-serviceaccounts.yaml` are made from this list and tests hold them to it.
 */

/** The worker's own Kubernetes and Google account (k8s/worker-rbac.yaml). */
export const WORKER_IDENTITY = 'dyff-worker';
/** The run-audit step's identity: it reads its procedure and inputs and writes the audit report. */
export const AUDIT_IDENTITY = 'audit-runner';

export interface WorkloadIdentity {
  name: Identity | typeof WORKER_IDENTITY;
  /** `step`: a ServiceAccount in k8s/step-serviceaccounts.yaml; `worker`: k8s/worker-rbac.yaml. */
  kind: 'step' | 'worker';
  /** What runs as it. */
  runs: string[];
  grants: Grant[];
  networks: Network[];
  cloud: CloudNeeds;
}

/** What the worker reads back after steps: manifests, service descriptions, summaries, reports and step logs. */
const WORKER_READS: Category[] = [
  'datasets',
  'models',
  'inferenceservices',
  'outputs',
  'reports',
  'auditprocedures',
  'auditreports',
];

export function workloadIdentities(): WorkloadIdentity[] {
  const byName = new Map<string, WorkloadIdentity>();
  const add = (
    name: WorkloadIdentity['name'],
    run: string,
    grants: Grant[],
    network: Network,
    cloud = {},
  ) => {
    const id = byName.get(name) ?? { name, kind: 'step', runs: [], grants: [], networks: [], cloud: {} };
    id.runs.push(run);
    id.grants.push(...grants);
    if (!id.networks.includes(network)) id.networks.push(network);
    Object.assign(id.cloud, cloud);
    byName.set(name, id);
  };
  for (const name of STEP_NAMES) {
    const entry = STEP_CATALOGUE[name];
    add(entry.identity, entry.summary, grantsOf(entry), entry.network, entry.cloud);
  }
  add(SESSION_ENTRY.identity, SESSION_ENTRY.summary, [...SESSION_ENTRY.grants], SESSION_ENTRY.network);
  const worker: WorkloadIdentity = {
    name: WORKER_IDENTITY,
    kind: 'worker',
    runs: ['the Temporal worker: workflows and activities (entity state, job and session control)'],
    grants: [
      ...WORKER_READS.map((category) => ({ category, prefix: '<id>/', access: READS })),
      // The image-build activity packs a service's build context, again on a retry, and submits the build.
      { category: 'inferenceservices', prefix: '<id>/', access: ['create', 'overwrite'] },
      // A benchmark's report across corruptions is drawn from the metrics its run already holds.
      { category: 'reports', prefix: '<id>/', access: ['create', 'overwrite'] },
    ],
    networks: ['storage'],
    cloud: { datastore: 'user', cloudBuild: true },
  };
  return [...byName.values(), worker];
}

/** Per category, everything an identity does there. */
export function accessByCategory(grants: readonly Grant[]): Map<Category, Set<Access>> {
  const out = new Map<Category, Set<Access>>();
  for (const g of grants) {
    const set = out.get(g.category) ?? new Set<Access>();
    for (const a of g.access) set.add(a);
    out.set(g.category, set);
  }
  return out;
}
