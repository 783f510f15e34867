import type { Category } from './kinds.js';
import type { SecretRef } from './secrets.js';
import type { ServiceDescription } from './service.js';
import type { AuditSpec } from './audit-spec.js';
import type {
  DatasetSpec,
  EvaluationSpec,
  InferenceServiceSpec,
  ModelSpec,
  ReportSpec,
  StepResourcesSpec,
} from './specs.js';
import type { CloudNeeds, Grant, Network, StepEnvironmentRule, StepResources } from './step-contract.js';
import { NO_ENVIRONMENT, OWNS, READS, logGrant } from './step-contract.js';

/**
 * The step catalogue: for every program a Job runs, its typed input, the identity it runs as, what it reads and
 * writes in the object store, the environment and network it needs. Workflows run steps through it
 * (`EntityLifecycle.runJob(name, input)`), `steps/index.ts` is typed by it, and the IAM plan, the Kubernetes
 * ServiceAccounts and each process's environment are derived from it (`identities.ts`, `step-environment.ts`).
 *
 *   stepArgs('fetch-data', { id, spec })   // ['fetch-data', '--id', id, '--spec', '{…}'] for `dyffctl step`
 */

/** What each step takes: its entity's id and spec, and what a step needs besides them. */
export interface StepInputs {
  'fetch-data': { id: string; spec: DatasetSpec };
  'ingest-dataset': { id: string; spec: DatasetSpec };
  'fetch-model': { id: string; spec: ModelSpec };
  'build-service': { id: string; spec: InferenceServiceSpec };
  /** `endpoint`: the session's base URL ('' for a remote endpoint); `service`: the built ServiceDescription. */
  evaluate: { id: string; spec: EvaluationSpec; endpoint: string; service: ServiceDescription };
  'verify-outputs': { id: string; spec: EvaluationSpec };
  /** `dataset`: the evaluation's dataset id; lineage and history are shown in the report as they are. */
  report: { id: string; spec: ReportSpec; dataset: string; lineage: unknown; history: unknown };
  'fetch-procedure': { id: string; spec: AuditSpec };
  /**
   * `endpoint`: the session's base URL ('' when the procedure does not probe the model); `service`: the audited
   * service's description; `dataset`: the dataset staged for it (the spec's, or its evaluation's).
   */
  'run-audit': {
    id: string;
    spec: AuditSpec;
    endpoint: string;
    service?: ServiceDescription;
    dataset?: string;
  };
}
export type StepName = keyof StepInputs;

/** The Kubernetes ServiceAccount and Google service account names (one per kind of work). */
export type Identity =
  | 'data-fetcher'
  | 'dataset-ingester'
  | 'model-fetcher'
  | 'inference-service-builder'
  | 'evaluation-client'
  | 'model-runner'
  | 'report-runner'
  | 'procedure-fetcher'
  | 'audit-runner';

export interface StepEntry<I> {
  /** The job-name stage: jobs are named (entity id, stage, try). */
  stage: string;
  identity: Identity;
  /** Logs go to `<logCategory>/<id>/.dyff/`: the category of the entity the step works for. */
  logCategory: Category;
  /** Object-store access besides the log (which `grantsOf` adds). */
  grants: readonly Grant[];
  environment: StepEnvironmentRule;
  network: Network;
  cloud?: CloudNeeds;
  /** What the step does, for the IAM plan's comments and docs/gcp.md. */
  summary: string;
  /** Options after `--id` and `--spec`. */
  options?: (input: I) => string[];
  /** Secrets the step is granted, by reference (the job resolves them; never their values). */
  secrets?: (input: I) => SecretRef[];
  /**
   * What its pod asks for when the spec says nothing (the Kubernetes runner applies these, and the configuration's
   * `kubernetes.scratch`, on the worker side; local processes take what the machine has).
   */
  resources: StepResources;
  /** The spec's own CPU and memory for this step, which win over `resources`; undefined when it sets none. */
  specResources?: (input: I) => StepResourcesSpec | undefined;
}

export type StepCatalogue = { readonly [N in StepName]: StepEntry<StepInputs[N]> };

export const STEP_CATALOGUE: StepCatalogue = {
  'fetch-data': {
    stage: 'fetch',
    identity: 'data-fetcher',
    logCategory: 'datasets',
    // A refetch replaces changed files, drops the manifest first and deletes files the source no longer has.
    grants: [{ category: 'rawdata', prefix: '<id>/', access: OWNS }],
    // Hub datasets as Hub models: the worker's endpoint and token, or the spec's token by reference.
    environment: { settings: ['HF_ENDPOINT'], secrets: ['HF_TOKEN'] },
    network: 'internet',
    summary: 'fetch-data: downloads a data source into rawdata/<id>/files/',
    // Downloads land in /tmp until verified and stored (then deleted), up to four at a time: room for the largest
    // file a fetch accepts (`limits.maxFileBytes`, 10 GiB) twice over. Streaming and hashing need little else.
    resources: { cpu: '500m', memory: '1Gi', scratch: '20Gi' },
    specResources: ({ spec }) => setResources(spec.resources),
    secrets: ({ spec }) =>
      spec.source.kind === 'huggingFaceHub' && spec.source.token ? [spec.source.token] : [],
  },
  'ingest-dataset': {
    stage: 'ingest',
    identity: 'dataset-ingester',
    logCategory: 'datasets',
    grants: [
      { category: 'rawdata', prefix: '<id>/', access: READS },
      // Re-ingesting rewrites shards and the manifest and deletes stale shards.
      { category: 'datasets', prefix: '<id>/', access: OWNS },
      // A derived dataset (spec.source.kind: dataset) reads its source Dataset's shards.
      { category: 'datasets', prefix: '<spec.source.dataset>/', access: READS },
    ],
    environment: NO_ENVIRONMENT,
    network: 'storage',
    summary: 'ingest-dataset: raw files → Parquet shards and manifest in datasets/<id>/',
    // DuckDB stages rows in memory up to `limits.duckdbMemoryLimit` (2 GB) plus Node's own heap and Arrow
    // buffers; scratch holds the raw files copied down, DuckDB's spill (`limits.duckdbMaxTempSize`, 20 GB) and the
    // shards before upload. Parsing and Parquet encoding use the cores.
    resources: { cpu: '2', memory: '3Gi', scratch: '40Gi' },
    specResources: ({ spec }) => setResources(spec.resources),
  },
  'fetch-model': {
    stage: 'fetch',
    identity: 'model-fetcher',
    logCategory: 'models',
    grants: [{ category: 'models', prefix: '<id>/', access: OWNS }],
    // The Hub token is the one credential a user's source may use; only the fetch steps talk to the Hub.
    environment: { settings: ['HF_ENDPOINT'], secrets: ['HF_TOKEN'] },
    network: 'internet',
    summary: 'fetch-model: downloads model files into models/<id>/files/',
    // Like fetch-data: each file is downloaded to /tmp, verified, stored and deleted.
    resources: { cpu: '500m', memory: '1Gi', scratch: '20Gi' },
    specResources: ({ spec }) => setResources(spec.resources),
    secrets: ({ spec }) =>
      spec.source.kind === 'huggingFaceHub' && spec.source.token ? [spec.source.token] : [],
  },
  'build-service': {
    stage: 'build',
    identity: 'inference-service-builder',
    logCategory: 'inferenceservices',
    grants: [
      { category: 'models', prefix: '<spec.model>/', access: READS },
      { category: 'inferenceservices', prefix: '<id>/', access: ['read', 'create', 'overwrite'] },
    ],
    environment: NO_ENVIRONMENT,
    network: 'storage',
    cloud: { cloudBuild: true, pushesImages: true },
    summary: 'build-service: writes inferenceservices/<id>/service.json (and has model images built)',
    // Writes one description and submits image builds elsewhere (Cloud Build): the smallest pod.
    resources: { cpu: '250m', memory: '512Mi', scratch: '1Gi' },
  },
  evaluate: {
    stage: 'evaluate',
    identity: 'evaluation-client',
    logCategory: 'outputs',
    grants: [
      { category: 'datasets', prefix: '<spec.dataset>/', access: READS },
      { category: 'inferenceservices', prefix: '<spec.inferenceService>/', access: READS },
      // Parts are create-only; checkpoints and skipped.json are rewritten as the client goes.
      { category: 'outputs', prefix: '<id>/', access: ['read', 'create', 'overwrite'] },
    ],
    environment: NO_ENVIRONMENT,
    // The session, or a remote endpoint (openai, http runners) somewhere on the internet.
    network: 'internet',
    summary:
      'evaluate: the evaluation client, sends the dataset to the service and writes outputs/<id>/data/',
    // Waits on the service most of the time (CPU-light); the dataset's shards and the output parts are staged in
    // /tmp, and requests in flight with their responses (up to `limits.maxResponseBytes` each) in memory.
    resources: { cpu: '500m', memory: '2Gi', scratch: '10Gi' },
    options: ({ endpoint, service }) => ['--endpoint', endpoint, '--service', JSON.stringify(service)],
    // The endpoint's API key travels as a reference; only the evaluate Job is granted it.
    secrets: ({ service }) => (service.apiKey ? [service.apiKey] : []),
  },
  'verify-outputs': {
    stage: 'verify',
    identity: 'evaluation-client',
    logCategory: 'outputs',
    grants: [
      { category: 'datasets', prefix: '<spec.dataset>/', access: READS },
      // Rewrites verified parts and the summary, deletes stale ones.
      { category: 'outputs', prefix: '<id>/', access: OWNS },
    ],
    environment: NO_ENVIRONMENT,
    network: 'storage',
    summary: 'verify-outputs: dedupes and checks outputs, writes outputs/<id>/verified/',
    // DuckDB over the outputs and the dataset, both copied to /tmp.
    resources: { cpu: '1', memory: '2Gi', scratch: '10Gi' },
  },
  report: {
    stage: 'report',
    identity: 'report-runner',
    logCategory: 'reports',
    grants: [
      { category: 'outputs', prefix: '<spec.evaluation>/verified/', access: READS },
      { category: 'datasets', prefix: '<dataset>/data/', access: READS },
      // A rerun rewrites the same objects.
      { category: 'reports', prefix: '<id>/', access: ['create', 'overwrite'] },
    ],
    environment: NO_ENVIRONMENT,
    network: 'storage',
    summary: 'report: metrics over verified outputs, writes reports/<id>/',
    // DuckDB over the verified outputs and the dataset's shards, copied to /tmp.
    resources: { cpu: '1', memory: '2Gi', scratch: '10Gi' },
    options: ({ dataset, lineage, history }) => [
      '--dataset',
      dataset,
      '--lineage',
      JSON.stringify(lineage),
      '--history',
      JSON.stringify(history),
    ],
  },
  'fetch-procedure': {
    stage: 'fetch',
    identity: 'procedure-fetcher',
    logCategory: 'auditreports',
    grants: [
      { category: 'auditprocedures', prefix: '<id>/', access: OWNS },
      // An `object` procedure is copied from its folder of the bucket.
      { category: 'auditprocedures', prefix: '<source>/', access: READS },
    ],
    environment: NO_ENVIRONMENT,
    // Git over HTTPS from wherever the repository is.
    network: 'internet',
    summary: 'fetch-procedure: an audit procedure (git, object or local) into auditprocedures/<id>/files/',
    resources: { cpu: '250m', memory: '512Mi', scratch: '2Gi' },
    options: ({ spec }) =>
      spec.procedure.kind === 'object' ? ['--source', spec.procedure.prefix.slice(0, -1)] : [],
    secrets: ({ spec }) =>
      spec.procedure.kind === 'git' && spec.procedure.token ? [spec.procedure.token] : [],
  },
  'run-audit': {
    // The stage the audit NetworkPolicies select on (k8s/audit-networkpolicy.yaml, KubernetesSessionRunner.allowAudit).
    stage: 'audit',
    identity: 'audit-runner',
    logCategory: 'auditreports',
    grants: [
      { category: 'auditprocedures', prefix: '<id>/', access: READS },
      { category: 'datasets', prefix: '<dataset>/data/', access: READS },
      { category: 'outputs', prefix: '<spec.evaluation>/verified/', access: READS },
      { category: 'reports', prefix: '<spec.report>/', access: READS },
      // A rerun rewrites the same objects.
      { category: 'auditreports', prefix: '<id>/', access: ['create', 'overwrite'] },
    ],
    environment: NO_ENVIRONMENT,
    // Storage for its inputs and report; the session under audit is added per audit (allowAudit).
    network: 'storage',
    summary:
      'run-audit: stages inputs, runs the procedure in a sandbox against the session, writes auditreports/<id>/',
    // The procedure is a Node.js program of unknown appetite; its inputs are staged in /tmp.
    resources: { cpu: '1', memory: '2Gi', scratch: '10Gi' },
    options: ({ endpoint, service, dataset }) => [
      '--endpoint',
      endpoint,
      ...(service ? ['--service', JSON.stringify(service)] : []),
      ...(dataset ? ['--dataset', dataset] : []),
    ],
  },
};

export const STEP_NAMES = Object.keys(STEP_CATALOGUE) as StepName[];

export function isStepName(name: string | undefined): name is StepName {
  return name !== undefined && Object.hasOwn(STEP_CATALOGUE, name);
}

/** The program and its arguments, as `dyffctl step` takes them. */
export function stepArgs<N extends StepName>(name: N, input: StepInputs[N]): string[] {
  const entry: StepEntry<StepInputs[N]> = STEP_CATALOGUE[name];
  return [name, '--id', input.id, '--spec', JSON.stringify(input.spec), ...(entry.options?.(input) ?? [])];
}

/** The spec's resources when it sets CPU or memory: only then does the workflow pass them to the activity. */
function setResources(r: StepResourcesSpec | undefined): StepResourcesSpec | undefined {
  return r && (r.cpu || r.memory) ? r : undefined;
}

/** Every grant of a step, its log included. */
export function grantsOf(entry: Pick<StepEntry<unknown>, 'grants' | 'logCategory'>): Grant[] {
  return [...entry.grants, logGrant(entry.logCategory)];
}

/**
 * The inference session (`dyffctl serve-model`): runs as model-runner, reads the model it serves from the models
 * bucket when it starts (hence storage egress, nothing else), and only answers requests (its Deployment sets this
 * account; it has no log in the store).
 */
export const SESSION_ENTRY = {
  identity: 'model-runner',
  grants: [{ category: 'models', prefix: '<spec.model>/', access: READS }],
  environment: NO_ENVIRONMENT,
  network: 'storage',
  summary: 'the inference session (model server) an evaluation sends requests to',
} as const satisfies Omit<StepEntry<unknown>, 'stage' | 'logCategory' | 'resources'>;
