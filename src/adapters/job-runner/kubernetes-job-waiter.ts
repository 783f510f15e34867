import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { ApiException, Watch, type KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { JobStatus, WaitOptions } from '../../ports/job-runner.js';
import { LABEL_JOB_NAME } from './kubernetes-job-manifest.js';
import { newestPod, pendingCause, toStatus, withEvents } from './kubernetes-job-status.js';
import { parseLogTail } from './log-tail.js';

/** What a JobWaiter needs from its runner: reads, log following, and cleanup of a job stuck pending. */
export interface JobWaiterHost {
  readonly namespace: string;
  readonly kc: KubeConfig;
  readJob(name: string): Promise<V1Job | undefined>;
  listPods(name: string): Promise<{ pods: V1Pod[]; resourceVersion?: string }>;
  wasCancelled(name: string): boolean;
  /** The full status of a finished job: exit code, reason with events, and the log tail. */
  describe(name: string, job: V1Job, known?: V1Pod[], followed?: string[]): Promise<JobStatus>;
  warnings(jobName: string, pod?: V1Pod): Promise<string[]>;
  deleteJob(name: string): Promise<void>;
  followLog(pod: V1Pod, out: PassThrough): Promise<AbortController>;
}

export interface JobWaiterTiming {
  heartbeatMs: number;
  pendingDeadlineSeconds: number;
}

/** One `wait()`: a watch on the Job and one on its pods, re-listed and resumed whenever a watch ends. */
export class JobWaiter {
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
    private readonly runner: JobWaiterHost,
    private readonly name: string,
    private readonly opts: WaitOptions,
    private readonly config: JobWaiterTiming,
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
    const cancelled = this.runner.wasCancelled(this.name);
    const reason = cancelled ? 'cancelled' : 'deleted: the job no longer exists';
    const last = this.job ? toStatus(this.name, this.job, [...this.pods.values()], false) : undefined;
    this.finish({
      name: this.name,
      phase: 'failed',
      outcome: cancelled ? 'cancelled' : 'lost',
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
      this.finish({ ...base, phase: 'failed', outcome: 'failed', reason: withEvents(reason, events) });
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

function abortReason(signal?: AbortSignal): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new Error('wait aborted');
}
