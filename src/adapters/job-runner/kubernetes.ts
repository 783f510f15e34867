import type { PassThrough } from 'node:stream';
import { BatchV1Api, CoreV1Api, Log, type KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { ScratchSettings } from '../../domain/step-resources.js';
import { parseScratchSettings } from '../../domain/step-resources.js';
import type { JobRunner, JobSpec, JobStatus, StartResult, WaitOptions } from '../../ports/job-runner.js';
import { isCode, toKubeConfig } from './kube-client.js';
import { buildJob, LABEL_ENTITY, LABEL_JOB_NAME, STEP_CONTAINER } from './kubernetes-job-manifest.js';
import { byEventTime, isFinished, newestPod, toStatus, withEvents } from './kubernetes-job-status.js';
import { JobWaiter } from './kubernetes-job-waiter.js';
import { parseLogTail } from './log-tail.js';

export {
  GKE_ACCELERATOR,
  GKE_SPOT,
  GPU_RESOURCE,
  LABEL_ENTITY,
  LABEL_STAGE,
  LABEL_TRY,
  STEP_CONTAINER,
} from './kubernetes-job-manifest.js';

export interface KubernetesJobRunnerOptions {
  /** Namespace the Jobs run in (the worker's Role is scoped to it). */
  namespace: string;
  /** The image holding `dyffctl`; its entrypoint is `node bin/dyffctl.mjs`. */
  image: string;
  /** A KubeConfig, a kubeconfig path, or nothing for in-cluster / $KUBECONFIG. */
  kubeConfig?: KubeConfig | string;
  /** A pod Pending this long (unschedulable, image pull failing, never created) fails the job. @default 900 */
  pendingDeadlineSeconds?: number;
  /** Finished Jobs are garbage-collected after this long. @default 86400 */
  ttlSecondsAfterFinished?: number;
  /** The configuration as variables (`configEnv`); JobSpec.env wins. */
  env?: Record<string, string>;
  /** Where a step's settings (STEP_ENVIRONMENT) come from. @default process.env */
  workerEnv?: Record<string, string | undefined>;
  /** Container args before the step's own args. @default ['step'] */
  argsPrefix?: string[];
  /** @default 'IfNotPresent' */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The uid/gid steps run as (the image's non-root user). @default 1000 */
  runAsUser?: number;
  /** `onUpdate` fires at least this often while a job runs. @default 5000 */
  heartbeatMs?: number;
  /** How a cancelled Job's pods go. Foreground keeps the Job (marked deleting) until its pods are gone. @default 'Foreground' */
  propagationPolicy?: 'Foreground' | 'Background';
  /** Scratch (`/tmp`) per step over the catalogue's (`kubernetes.scratch`, `kubernetes.defaultScratch`). */
  scratch?: ScratchSettings;
}

type Compiled = Required<Omit<KubernetesJobRunnerOptions, 'kubeConfig' | 'env' | 'workerEnv'>> & {
  env: Record<string, string>;
  workerEnv: Record<string, string | undefined>;
};

/**
 * Runs each step as a Kubernetes Job (one pod, no retries: the workflow owns retries). Completion is learned from
 * a watch on the Job and its pods; a dropped watch is re-listed and resumed.
 */
export class KubernetesJobRunner implements JobRunner {
  readonly kc: KubeConfig;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly opts: Compiled;
  /** Jobs this runner deleted, so their disappearance reads as `cancelled`, not `deleted`. */
  private readonly cancelled = new Set<string>();
  private readonly waiters = new Set<JobWaiter>();

  constructor(opts: KubernetesJobRunnerOptions) {
    this.kc = toKubeConfig(opts.kubeConfig);
    this.batch = this.kc.makeApiClient(BatchV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.opts = {
      namespace: opts.namespace,
      image: opts.image,
      pendingDeadlineSeconds: opts.pendingDeadlineSeconds ?? 900,
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished ?? 86_400,
      env: opts.env ?? {},
      workerEnv: opts.workerEnv ?? process.env,
      argsPrefix: opts.argsPrefix ?? ['step'],
      imagePullPolicy: opts.imagePullPolicy ?? 'IfNotPresent',
      runAsUser: opts.runAsUser ?? 1000,
      heartbeatMs: opts.heartbeatMs ?? 5000,
      propagationPolicy: opts.propagationPolicy ?? 'Foreground',
      // Checked here too: a runner built in code (not through loadConfig) fails at once, naming the key.
      scratch: parseScratchSettings(opts.scratch),
    };
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  /** The Job this runner creates for a spec (exported for tests and `--dry-run` style tooling). */
  jobManifest(spec: JobSpec): V1Job {
    return buildJob(spec, this.opts);
  }

  async start(spec: JobSpec): Promise<StartResult> {
    try {
      const job = await this.batch.createNamespacedJob({
        namespace: this.namespace,
        body: this.jobManifest(spec),
      });
      return { adopted: false, status: toStatus(spec.name, job, [], false) };
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    const existing = await this.readJob(spec.name);
    if (!existing) return this.start(spec); // deleted between our create and read
    const owner = existing.metadata?.labels?.[LABEL_ENTITY];
    if (owner !== spec.entityId) {
      throw new Error(
        `job ${spec.name} exists but belongs to entity ${owner ?? '(none)'}, not ${spec.entityId}`,
      );
    }
    return { adopted: true, status: await this.describe(spec.name, existing) };
  }

  async status(name: string): Promise<JobStatus | undefined> {
    const job = await this.readJob(name);
    return job && this.describe(name, job);
  }

  wait(name: string, opts: WaitOptions = {}): Promise<JobStatus> {
    return new Promise<JobStatus>((resolve, reject) => {
      const waiter = new JobWaiter(this, name, opts, this.opts, (result) => {
        this.waiters.delete(waiter);
        if (result instanceof Error) reject(result);
        else resolve(result);
      });
      this.waiters.add(waiter);
      waiter.begin();
    });
  }

  async cancel(name: string): Promise<void> {
    const job = await this.readJob(name);
    if (!job || isFinished(job)) return;
    this.cancelled.add(name);
    try {
      await this.batch.deleteNamespacedJob({
        name,
        namespace: this.namespace,
        body: { propagationPolicy: this.opts.propagationPolicy },
      });
    } catch (err) {
      if (!isCode(err, 404)) throw err;
    }
  }

  async list(entityId: string): Promise<JobStatus[]> {
    const selector = `${LABEL_ENTITY}=${entityId}`;
    const [jobs, pods] = await Promise.all([
      this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: selector }),
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector }),
    ]);
    return jobs.items
      .map((job) => {
        const name = job.metadata?.name ?? '';
        const mine = pods.items.filter((p) => p.metadata?.labels?.[LABEL_JOB_NAME] === name);
        return toStatus(name, job, mine, this.cancelled.has(name));
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w.abort(new Error('job runner closed'));
  }

  // ---- used by JobWaiter ----

  async readJob(name: string): Promise<V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.namespace });
    } catch (err) {
      if (isCode(err, 404)) return undefined;
      throw err;
    }
  }

  async listPods(name: string): Promise<{ pods: V1Pod[]; resourceVersion?: string }> {
    const list = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${LABEL_JOB_NAME}=${name}`,
    });
    return { pods: list.items, resourceVersion: list.metadata?.resourceVersion };
  }

  wasCancelled(name: string): boolean {
    return this.cancelled.has(name);
  }

  async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({
        name,
        namespace: this.namespace,
        body: { propagationPolicy: 'Background' },
      });
    } catch (err) {
      if (!isCode(err, 404)) throw err;
    }
  }

  /** Status plus, for a finished job, its output tail and the warnings Kubernetes recorded. */
  async describe(name: string, job: V1Job, known?: V1Pod[], followed?: string[]): Promise<JobStatus> {
    const pods = known ?? (await this.listPods(name)).pods;
    const status = toStatus(name, job, pods, this.cancelled.has(name));
    if (status.phase !== 'succeeded' && status.phase !== 'failed') return status;
    const pod = newestPod(pods);
    const text = pod ? await this.readLog(pod) : undefined;
    const tail = parseLogTail(text ?? followed?.join('\n') ?? '');
    if (tail.lines.length) status.logTail = tail.lines;
    if (tail.progress) status.progress = tail.progress;
    if (status.phase === 'failed' && !this.cancelled.has(name)) {
      status.reason = withEvents(status.reason ?? 'failed', await this.warnings(name, pod));
    }
    return status;
  }

  async readLog(pod: V1Pod, tailLines = 200): Promise<string | undefined> {
    try {
      return await this.core.readNamespacedPodLog({
        name: pod.metadata?.name ?? '',
        namespace: this.namespace,
        container: STEP_CONTAINER,
        tailLines,
      });
    } catch {
      return undefined; // no kubelet reachable, or the pod never ran: logs are a nicety here
    }
  }

  followLog(pod: V1Pod, out: PassThrough): Promise<AbortController> {
    return new Log(this.kc).log(this.namespace, pod.metadata?.name ?? '', STEP_CONTAINER, out, {
      follow: true,
    });
  }

  /** Warning events of the job and its pod, oldest first, as `Reason: message`. */
  async warnings(jobName: string, pod?: V1Pod): Promise<string[]> {
    const names = [jobName, pod?.metadata?.name].filter((n): n is string => !!n);
    const out: string[] = [];
    try {
      for (const n of names) {
        const events = await this.core.listNamespacedEvent({
          namespace: this.namespace,
          fieldSelector: `involvedObject.name=${n},type=Warning`,
        });
        out.push(
          ...events.items.sort(byEventTime).map((e) => `${e.reason ?? 'Warning'}: ${e.message ?? ''}`.trim()),
        );
      }
    } catch {
      // events are best effort
    }
    return [...new Set(out)].slice(-5);
  }
}
