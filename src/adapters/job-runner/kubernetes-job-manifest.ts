import type {
  V1Container,
  V1Job,
  V1PodFailurePolicy,
  V1ResourceRequirements,
  V1Toleration,
} from '@kubernetes/client-node';
import { EXIT_INVALID_INPUT } from '../../domain/job-outcome.js';
import { isStepName } from '../../domain/step-catalogue.js';
import { stepEnvironment } from '../../domain/step-environment.js';
import type { ResolvedResources, ScratchSettings } from '../../domain/step-resources.js';
import { resolveStepResources } from '../../domain/step-resources.js';
import type { JobSpec } from '../../ports/job-runner.js';
import { envVars, secretEnv } from './kubernetes-env.js';

/** Labels every Job and its Pods carry; `list(entityId)` selects on the first. */
export const LABEL_ENTITY = 'dyff.io/entity';
export const LABEL_STAGE = 'dyff.io/stage';
export const LABEL_TRY = 'dyff.io/try';
/** The step program a pod runs (a catalogue name): the step NetworkPolicies select on it. */
export const LABEL_STEP = 'dyff.io/step';
/** `app.kubernetes.io/name` of every step pod. */
export const STEP_POD_NAME = 'dyff-step';
/** The job controller's own label on the pods of a Job. */
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
/** The one container of a step pod. */
export const STEP_CONTAINER = 'step';
export const GKE_ACCELERATOR = 'cloud.google.com/gke-accelerator';
export const GKE_SPOT = 'cloud.google.com/gke-spot';
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** The runner settings that shape a step's Job. */
export interface JobTemplateOptions {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  argsPrefix: string[];
  /** The configuration as variables (`configEnv`). */
  env: Record<string, string>;
  /** Where a step's settings (STEP_ENVIRONMENT) come from; its secrets never reach the manifest as values. */
  workerEnv?: Record<string, string | undefined>;
  ttlSecondsAfterFinished: number;
  runAsUser: number;
  /** `kubernetes.scratch` and `kubernetes.defaultScratch`, over the catalogue's scratch per step. */
  scratch?: ScratchSettings;
}

/*
 * Every pod failure ends the Job (backoffLimit 0): retries are the workflow's, each under a new Job name, bounded
 * per stage. The rules make the Job's Failed condition say which kind of ending it was (reason PodFailurePolicy,
 * the message naming the rule), so bad input (exit 2) and a disruption (preemption, eviction, a drain: the pod's
 * DisruptionTarget condition) are told apart from an ordinary failure without guessing from exit codes.
 */
export const POD_FAILURE_POLICY: V1PodFailurePolicy = {
  rules: [
    {
      action: 'FailJob',
      onExitCodes: { containerName: STEP_CONTAINER, operator: 'In', values: [EXIT_INVALID_INPUT] },
    },
    { action: 'FailJob', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
  ],
};

/** The Job for one step: one pod, no retries, a restricted security context. */
export function buildJob(spec: JobSpec, o: JobTemplateOptions): V1Job {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': STEP_POD_NAME,
    'app.kubernetes.io/managed-by': 'dyff-temporal',
    [LABEL_ENTITY]: spec.entityId,
    [LABEL_STAGE]: spec.stage,
  };
  const attempt = /-(\d+)$/.exec(spec.name)?.[1];
  if (attempt) labels[LABEL_TRY] = attempt;
  if (isStepName(spec.args[0])) labels[LABEL_STEP] = spec.args[0];
  const wanted = resolveStepResources(spec.args[0], o.scratch, spec.resources);
  const env = {
    ...stepEnvironment(spec.args[0], { config: o.env, worker: o.workerEnv ?? {}, placement: 'pod' }),
    ...spec.env,
    ...secretEnv(spec.secrets),
    DYFF_JOB_NAME: spec.name,
  };
  const container: V1Container = {
    name: STEP_CONTAINER,
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: [...o.argsPrefix, ...spec.args],
    env: envVars(env),
    resources: resources(wanted, spec.resources?.gpu),
    // Without log access (or after the pod is gone) the tail of the output still reaches the Job's pod status.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  const nodeSelector: Record<string, string> = {};
  const tolerations: V1Toleration[] = [];
  const gpu = spec.resources?.gpu;
  if (gpu && gpu.count > 0) {
    if (gpu.type) nodeSelector[GKE_ACCELERATOR] = gpu.type;
    tolerations.push({ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' });
  }
  if (spec.resources?.spot) {
    nodeSelector[GKE_SPOT] = 'true';
    tolerations.push({ key: GKE_SPOT, operator: 'Equal', value: 'true', effect: 'NoSchedule' });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: spec.name, labels },
    spec: {
      backoffLimit: 0,
      podFailurePolicy: POD_FAILURE_POLICY,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      ttlSecondsAfterFinished: o.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: spec.serviceAccount,
          // Steps talk to storage through workload identity (the metadata server), never to the Kubernetes API.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: o.runAsUser,
            runAsGroup: o.runAsUser,
            fsGroup: o.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [container],
          // The step's scratch: past it the kubelet evicts the pod, instead of the node's disk filling up.
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: wanted.scratch } }],
          nodeSelector: Object.keys(nodeSelector).length ? nodeSelector : undefined,
          tolerations: tolerations.length ? tolerations : undefined,
        },
      },
    },
  };
}

/**
 * CPU, memory and scratch requested; memory and scratch also limited (a memory limit makes OOMKilled the failure
 * mode; an ephemeral-storage limit makes a full /tmp an eviction naming it, not a full node). CPU is not limited:
 * a step may use idle cores.
 */
function resources(r: ResolvedResources, gpu: { count: number } | undefined): V1ResourceRequirements {
  const requests: Record<string, string> = { 'ephemeral-storage': r.scratch };
  const limits: Record<string, string> = { 'ephemeral-storage': r.scratch };
  if (r.cpu) requests.cpu = r.cpu;
  if (r.memory) requests.memory = limits.memory = r.memory;
  if (gpu && gpu.count > 0) limits[GPU_RESOURCE] = String(gpu.count);
  return { requests, limits };
}
