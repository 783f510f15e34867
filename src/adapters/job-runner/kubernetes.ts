import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  Log,
  Watch,
  type CoreV1Event,
  type V1Container,
  type V1Job,
  type V1Pod,
  type V1ResourceRequirements,
  type V1Toleration,
} from '@kubernetes/client-node';
import type { JobRunner, JobSpec, JobStatus, StartResult, WaitOptions } from '../../ports/job-runner.js';
import { parseLogTail } from './log-tail.js';

/** Labels every Job and its Pods carry; `list(entityId)` selects on the first. */
export const LABEL_ENTITY = 'dyff.io/entity';
export const LABEL_STAGE = 'dyff.io/stage';
export const LABEL_TRY = 'dyff.io/try';
/** The job controller's own label on the pods of a Job. */
const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
/** The one container of a step pod. */
export const STEP_CONTAINER = 'step';
export const GKE_ACCELERATOR = 'cloud.google.com/gke-accelerator';
export const GKE_SPOT = 'cloud.google.com/gke-spot';
export const GPU_RESOURCE = 'nvidia.com/gpu';

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
  /** Environment for every step; JobSpec.env wins. */
  env?: Record<string, string>;
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
}

type Compiled = Required<Omit<KubernetesJobRunnerOptions, 'kubeConfig' | 'env'>> & {
  env: Record<string, string>;
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
      argsPrefix: opts.argsPrefix ?? ['step'],
      imagePullPolicy: opts.imagePullPolicy ?? 'IfNotPresent',
      runAsUser: opts.runAsUser ?? 1000,
      heartbeatMs: opts.heartbeatMs ?? 5000,
      propagationPolicy: opts.propagationPolicy ?? 'Foreground',
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

/** One `wait()`: a watch on the Job and one on its pods, re-listed and resumed whenever a watch ends. */
class JobWaiter {
  private job?: V1Job;
  private pods = new Map<string, V1Pod>();
  private podsRv?: string;
  private generation = 0;
  private watches: AbortController[] = [];
  private settled = false;
  private retryMs = 0;
  private timers = new Set<NodeJS.Timeout>();
  private deadlineTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private lastReported = '';
  private logPod?: string;
  private logAbort?: AbortController;
  private logLines: string[] = [];
  private progress?: JobStatus['progress'];
  private readonly onAbort = () => this.abort(abortReason(this.opts.signal));

  constructor(
    private readonly runner: KubernetesJobRunner,
    private readonly name: string,
    private readonly opts: WaitOptions,
    private readonly config: Compiled,
    private readonly done: (result: JobStatus | Error) => void,
  ) {}

  begin(): void {
    if (this.opts.signal?.aborted) return this.abort(abortReason(this.opts.signal));
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.heartbeat = setInterval(() => this.report(true), this.config.heartbeatMs);
    void this.resync();
  }

  abort(reason: Error): void {
    this.settle(reason);
  }

  /** Fresh state from a GET and a LIST, then watches from exactly those resource versions. */
  private async resync(): Promise<void> {
    const gen = ++this.generation;
    this.stopWatches();
    try {
      const job = await this.runner.readJob(this.name);
      if (this.stale(gen)) return;
      if (!job) return this.vanished();
      this.job = job;
      const { pods, resourceVersion } = await this.runner.listPods(this.name);
      if (this.stale(gen)) return;
      this.pods = new Map(pods.map((p) => [p.metadata?.uid ?? '', p]));
      this.podsRv = resourceVersion;
      this.evaluate();
      if (this.stale(gen)) return;
      await this.watch(gen, 'jobs', job.metadata?.resourceVersion);
      await this.watch(gen, 'pods', this.podsRv);
      this.retryMs = 0;
    } catch (err) {
      if (!this.stale(gen)) this.retry(gen, err);
    }
  }

  private stale(gen: number): boolean {
    return this.settled || gen !== this.generation;
  }

  private retry(gen: number, err?: unknown): void {
    // Not allowed to read or watch: no retry fixes that (a missing Role rule), so say so instead of hanging.
    const code =
      err instanceof ApiException ? err.code : (err as { statusCode?: number } | undefined)?.statusCode;
    if (code === 401 || code === 403) {
      this.settle(new Error(`cannot watch job ${this.name}: HTTP ${code} ${String((err as Error).message)}`));
      return;
    }
    this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 5000);
    this.later(() => {
      if (!this.stale(gen)) void this.resync();
    }, this.retryMs);
  }

  private async watch(gen: number, kind: 'jobs' | 'pods', resourceVersion?: string): Promise<void> {
    const ns = this.runner.namespace;
    const path = kind === 'jobs' ? `/apis/batch/v1/namespaces/${ns}/jobs` : `/api/v1/namespaces/${ns}/pods`;
    const selector =
      kind === 'jobs'
        ? { fieldSelector: `metadata.name=${this.name}` }
        : { labelSelector: `${LABEL_JOB_NAME}=${this.name}` };
    const controller = await new Watch(this.runner.kc).watch(
      path,
      { ...selector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
      (type: string, obj: unknown) => {
        if (this.stale(gen)) return;
        if (type === 'ERROR') return void this.resync(); // e.g. 410 Gone: our resource version is too old
        if (type === 'BOOKMARK') return;
        if (kind === 'jobs') this.onJob(type, obj as V1Job);
        else this.onPod(type, obj as V1Pod);
      },
      (err: unknown) => {
        // Ends on server timeout, connection loss, or our own abort (then the generation has moved on).
        if (this.stale(gen)) return;
        if (err) this.retry(gen, err);
        else void this.resync();
      },
    );
    if (this.stale(gen)) controller.abort();
    else this.watches.push(controller);
  }

  private onJob(type: string, job: V1Job): void {
    if (type === 'DELETED') return this.vanished();
    this.job = job;
    this.evaluate();
  }

  private onPod(type: string, pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    if (type === 'DELETED') this.pods.delete(uid);
    else this.pods.set(uid, pod);
    this.evaluate();
  }

  private vanished(): void {
    const reason = this.runner.wasCancelled(this.name) ? 'cancelled' : 'deleted: the job no longer exists';
    const last = this.job ? toStatus(this.name, this.job, [...this.pods.values()], false) : undefined;
    this.finish({
      name: this.name,
      phase: 'failed',
      reason,
      startTime: last?.startTime,
      exitCode: last?.exitCode,
      logTail: this.logLines.length ? this.logLines.slice(-20) : undefined,
      progress: this.progress,
    });
  }

  private evaluate(): void {
    if (!this.job || this.settled) return;
    const pods = [...this.pods.values()];
    const status = toStatus(this.name, this.job, pods, this.runner.wasCancelled(this.name));
    if (status.phase === 'succeeded' || status.phase === 'failed') {
      this.settledSoon();
      void this.runner
        .describe(this.name, this.job, pods, this.logLines)
        .catch(() => status)
        .then((full) => this.finish(full));
      return;
    }
    this.checkPending(pods);
    const pod = newestPod(pods);
    if (pod?.status?.phase === 'Running' && pod.metadata?.name !== this.logPod) void this.follow(pod);
    this.report(false);
  }

  /** Stop reacting to events while the final description is fetched. */
  private settledSoon(): void {
    this.stopWatches();
    this.generation++;
  }

  /** Pending past the deadline — unschedulable, image not pullable, no pod at all — fails the job and deletes it. */
  private checkPending(pods: V1Pod[]): void {
    clearTimeout(this.deadlineTimer);
    const pod = newestPod(pods);
    if (pod && pod.status?.phase !== 'Pending') return;
    const since = Date.parse(String((pod ?? this.job)?.metadata?.creationTimestamp ?? new Date()));
    const due = since + this.config.pendingDeadlineSeconds * 1000 - Date.now();
    if (due > 0) {
      this.deadlineTimer = setTimeout(() => this.evaluate(), due);
      return;
    }
    const cause = pod ? pendingCause(pod) : 'no pod was created';
    const reason = `pending longer than ${this.config.pendingDeadlineSeconds}s: ${cause}`;
    this.settledSoon();
    void (async () => {
      const events = await this.runner.warnings(this.name, pod);
      await this.runner.deleteJob(this.name).catch(() => undefined);
      const base = toStatus(this.name, this.job!, pods, false);
      this.finish({ ...base, phase: 'failed', reason: withEvents(reason, events) });
    })();
  }

  /** Follow the running pod's output: progress lines become onUpdate calls. */
  private async follow(pod: V1Pod): Promise<void> {
    this.logAbort?.abort();
    this.logPod = pod.metadata?.name;
    this.logLines = [];
    const stream = new PassThrough();
    createInterface({ input: stream }).on('line', (line) => {
      const parsed = parseLogTail(line);
      if (parsed.progress) {
        this.progress = parsed.progress;
        this.report(false);
      } else this.logLines = [...this.logLines.slice(-199), line];
    });
    try {
      const ctl = await this.runner.followLog(pod, stream);
      if (this.settled) ctl.abort();
      else this.logAbort = ctl;
    } catch {
      this.logPod = undefined; // not ready yet; the next pod event tries again
    }
  }

  private report(heartbeat: boolean): void {
    if (!this.job || this.settled || !this.opts.onUpdate) return;
    const status = toStatus(this.name, this.job, [...this.pods.values()], false);
    if (this.progress) status.progress = this.progress;
    const key = JSON.stringify([status.phase, status.progress]);
    if (!heartbeat && key === this.lastReported) return;
    this.lastReported = key;
    this.opts.onUpdate(status);
  }

  private finish(status: JobStatus): void {
    if (this.settled) return;
    if (!status.progress && this.progress) status.progress = this.progress;
    this.opts.onUpdate?.(status);
    this.settle(status);
  }

  private settle(result: JobStatus | Error): void {
    if (this.settled) return;
    this.settled = true;
    this.stopWatches();
    this.logAbort?.abort();
    clearInterval(this.heartbeat);
    clearTimeout(this.deadlineTimer);
    for (const t of this.timers) clearTimeout(t);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.done(result);
  }

  private stopWatches(): void {
    for (const w of this.watches.splice(0)) w.abort();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

// ---------------------------------------------------------------- manifest

function buildJob(spec: JobSpec, o: Compiled): V1Job {
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'dyff-step',
    'app.kubernetes.io/managed-by': 'dyff-temporal',
    [LABEL_ENTITY]: spec.entityId,
    [LABEL_STAGE]: spec.stage,
  };
  const attempt = /-(\d+)$/.exec(spec.name)?.[1];
  if (attempt) labels[LABEL_TRY] = attempt;
  const env = { ...o.env, ...spec.env, DYFF_JOB_NAME: spec.name };
  const container: V1Container = {
    name: STEP_CONTAINER,
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: [...o.argsPrefix, ...spec.args],
    env: Object.entries(env).map(([name, value]) => ({ name, value })),
    resources: resources(spec.resources),
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
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
          nodeSelector: Object.keys(nodeSelector).length ? nodeSelector : undefined,
          tolerations: tolerations.length ? tolerations : undefined,
        },
      },
    },
  };
}

function resources(r: JobSpec['resources']): V1ResourceRequirements | undefined {
  if (!r) return undefined;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (r.cpu) requests.cpu = r.cpu;
  if (r.memory) requests.memory = limits.memory = r.memory; // a memory limit makes OOMKilled the failure mode
  if (r.gpu && r.gpu.count > 0) limits[GPU_RESOURCE] = String(r.gpu.count);
  if (!Object.keys(requests).length && !Object.keys(limits).length) return undefined;
  return { requests: Object.keys(requests).length ? requests : undefined, limits };
}

// ---------------------------------------------------------------- status

function condition(job: V1Job, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function isFinished(job: V1Job): boolean {
  return !!(condition(job, 'Complete') ?? condition(job, 'Failed'));
}

function toStatus(name: string, job: V1Job, pods: V1Pod[], cancelled: boolean): JobStatus {
  const pod = newestPod(pods);
  const term = terminated(pod);
  const base: JobStatus = {
    name,
    phase: 'pending',
    startTime: iso(job.status?.startTime ?? job.metadata?.creationTimestamp),
  };
  const complete = condition(job, 'Complete');
  if (complete) {
    return {
      ...base,
      phase: 'succeeded',
      exitCode: 0,
      completionTime: iso(job.status?.completionTime ?? complete.lastTransitionTime),
    };
  }
  const failed = condition(job, 'Failed');
  if (failed) {
    return {
      ...base,
      phase: 'failed',
      exitCode: term?.exitCode,
      reason: cancelled ? 'cancelled' : failureReason(job, failed.reason, failed.message, term),
      completionTime: iso(failed.lastTransitionTime),
    };
  }
  if (job.metadata?.deletionTimestamp) {
    return {
      ...base,
      phase: 'failed',
      exitCode: term?.exitCode,
      reason: cancelled ? 'cancelled' : 'deleted',
    };
  }
  const running = pods.some(
    (p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
  );
  return { ...base, phase: running ? 'running' : 'pending' };
}

interface Terminated {
  exitCode: number;
  reason?: string;
  message?: string;
}

function terminated(pod?: V1Pod): Terminated | undefined {
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === STEP_CONTAINER);
  const t = cs?.state?.terminated ?? cs?.lastState?.terminated;
  return t ? { exitCode: t.exitCode, reason: t.reason, message: t.message } : undefined;
}

function failureReason(job: V1Job, condReason?: string, condMessage?: string, term?: Terminated): string {
  if (condReason === 'DeadlineExceeded') {
    return `deadline exceeded: ran longer than activeDeadlineSeconds=${job.spec?.activeDeadlineSeconds ?? '?'}`;
  }
  if (term?.reason === 'OOMKilled')
    return `OOMKilled: the step used more memory than its limit (exit code ${term.exitCode})`;
  if (term && term.exitCode !== 0) return `exit code ${term.exitCode}`;
  return [condReason, condMessage].filter(Boolean).join(': ') || 'failed';
}

/** Why a pod is still Pending, in the words of the scheduler or the kubelet. */
function pendingCause(pod: V1Pod): string {
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) return `${sched.reason ?? 'Unschedulable'}: ${sched.message ?? ''}`.trim();
  for (const cs of pod.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    if (w?.reason && w.reason !== 'ContainerCreating') return `${w.reason}: ${w.message ?? ''}`.trim();
  }
  return pod.spec?.nodeName ? 'containers not started' : 'not scheduled';
}

function withEvents(reason: string, events: string[]): string {
  const fresh = events.filter((e) => !reason.includes(e));
  return fresh.length ? `${reason}; events: ${fresh.join(' | ')}` : reason;
}

function newestPod(pods: V1Pod[]): V1Pod | undefined {
  return [...pods].sort(
    (a, b) => time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp),
  )[0];
}

function byEventTime(a: CoreV1Event, b: CoreV1Event): number {
  return (
    time(a.lastTimestamp ?? a.eventTime ?? a.metadata.creationTimestamp) -
    time(b.lastTimestamp ?? b.eventTime ?? b.metadata.creationTimestamp)
  );
}

/** Typed responses carry Dates, raw watch events carry strings; both normalise here. */
function time(v: Date | string | undefined): number {
  return v ? new Date(v).getTime() : 0;
}

function iso(v: Date | string | undefined): string | undefined {
  return v ? new Date(v).toISOString() : undefined;
}

function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

function abortReason(signal?: AbortSignal): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new Error('wait aborted');
}

function toKubeConfig(k?: KubeConfig | string): KubeConfig {
  if (k instanceof KubeConfig) return k;
  const kc = new KubeConfig();
  if (typeof k === 'string') kc.loadFromFile(k);
  else kc.loadFromDefault();
  return kc;
}
