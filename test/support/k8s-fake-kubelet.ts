import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type V1ContainerStatus,
  type V1Job,
  type V1JobCondition,
  type V1Pod,
  type V1PodCondition,
} from '@kubernetes/client-node';
import {
  ContainerConfigError,
  ExecUnsupported,
  containerEnv,
  dyffServeArgs,
  freePort,
  spawnStep,
  type ExecScript,
} from './k8s-exec-kubelet.js';

/**
 * Plays the parts of a cluster that a control plane without nodes lacks, against a REAL kube-apiserver:
 *  - the scheduler: binds pods of its namespace to its Node, or marks them Unschedulable (node selector, GPUs);
 *  - the kubelet: runs a pod's "container" from a script — Pending → Running → Succeeded/Failed with exit codes,
 *    OOMKilled, image-pull failures — writes pod status through `/status`, records Events, finishes graceful
 *    deletions, and serves container logs on an HTTPS kubelet endpoint so `pods/log` works through the apiserver;
 *  - with `jobController: true` (no kube-controller-manager): the job controller (a pod per Job, Job status
 *    conditions through `/status`, activeDeadlineSeconds) and the garbage collector for Job pods.
 *
 * Scripts come from per-test `rules` (first match wins) or else from the step args the runner put in the pod:
 *   test-sleep --ms N | test-exit --code N | test-print --lines N | test-progress --total N --ms M |
 *   test-env --name V | test-oom --ms N | test-pull-fail
 * Pods without step args (inference sessions) serve forever and turn Ready after `readyAfterMs`.
 * The `exec` script (opt-in through the rule `execSteps()` of k8s-exec-kubelet.ts) really runs a dyff step as a
 * local process: its output is the container log, its exit code the container's; see that file.
 */
export type StepScript =
  | {
      kind: 'run';
      output: { atMs: number; line: string }[];
      exitAfterMs: number;
      exitCode: number;
      reason?: string;
    }
  | { kind: 'serve'; readyAfterMs: number }
  | { kind: 'pull-fail'; reason?: 'ErrImagePull' | 'ImagePullBackOff'; message?: string }
  | { kind: 'unschedulable'; message: string }
  | ExecScript;

export interface FakeKubeletRule {
  match: (pod: V1Pod) => boolean;
  script: StepScript | ((pod: V1Pod) => StepScript);
}

export interface FakeKubeletOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** PEM: the kubelet serving cert/key and the CA that signed the apiserver's kubelet-client cert. */
  tls: { cert: string; key: string; ca: string };
  /** Play the job controller and garbage collector too (when no kube-controller-manager runs). */
  jobController?: boolean;
  /** @default `fake-node-<namespace>` */
  nodeName?: string;
  nodeLabels?: Record<string, string>;
  rules?: FakeKubeletRule[];
}

const JOB_NAME = 'batch.kubernetes.io/job-name';
const FOREGROUND = 'foregroundDeletion';

interface ContainerLog {
  lines: string[];
  ended: boolean;
  bus: EventEmitter;
}

interface Running {
  timers: NodeJS.Timeout[];
  terminated: boolean;
  /** exec: stop the process group gracefully (SIGTERM, SIGKILL after `graceMs`) and write its exit. */
  stop?: (graceMs: number) => Promise<void>;
  /** exec: SIGKILL the process group at once. */
  kill?: () => void;
}

/** A step process the kubelet ran in exec mode (kept after it ends, so tests can check it is gone). */
export interface ExecRecord {
  pod: string;
  pid: number;
  args: string[];
  /** The container's exit code once the process ended. */
  exited: Promise<number>;
  /** A session server (`serve-model`): the loopback port it listens on (its PORT). */
  port?: number;
  /** The pod's labels (to match a Service's selector). */
  labels: Record<string, string>;
}

export class FakeKubelet {
  readonly nodeName: string;
  /** When this kubelet (as job controller) sent the write of a Job's terminal condition: job name → epoch ms. */
  readonly jobFinishedAt = new Map<string, number>();
  /** Exec mode: the processes started, by pod name. */
  readonly execs = new Map<string, ExecRecord>();
  /** Exec mode: the session servers still running, by pod name. */
  private readonly liveServers = new Set<string>();
  private readonly core: CoreV1Api;
  private readonly batch: BatchV1Api;
  private readonly rules: FakeKubeletRule[];
  private readonly running = new Map<string, Running>();
  private readonly logs = new Map<string, ContainerLog>();
  private readonly handled = new Set<string>();
  private readonly jobsDone = new Set<string>();
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
  private informers: Informer<KubernetesObject>[] = [];
  private server?: Server;
  private stopped = false;
  private readonly errors: unknown[] = [];

  constructor(private readonly opts: FakeKubeletOptions) {
    this.nodeName = opts.nodeName ?? `fake-node-${opts.namespace}`;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.batch = opts.kubeConfig.makeApiClient(BatchV1Api);
    this.rules = [...(opts.rules ?? [])];
  }

  /**
   * Exec mode: the loopback port of a running session server whose pod matches the selector (a Service's), the
   * newest first; undefined when there is none.
   */
  servingPort(selector: Record<string, string>): number | undefined {
    const records = [...this.execs.values()].reverse();
    return records.find(
      (r) =>
        r.port !== undefined &&
        this.liveServers.has(r.pod) &&
        Object.entries(selector).every(([k, v]) => r.labels[k] === v),
    )?.port;
  }

  /** Add a rule ahead of the others (per test). */
  addRule(rule: FakeKubeletRule): void {
    this.rules.unshift(rule);
  }

  /** Errors swallowed while reacting to events (tests may assert it stays empty). */
  get failures(): readonly unknown[] {
    return this.errors;
  }

  async start(): Promise<void> {
    const port = await this.serve();
    await this.registerNode(port);
    const ns = this.opts.namespace;
    const pods = makeInformer<V1Pod>(this.opts.kubeConfig, `/api/v1/namespaces/${ns}/pods`, () =>
      this.core.listNamespacedPod({ namespace: ns }),
    );
    pods.on('add', (p) => this.guard(this.onPod(p)));
    pods.on('update', (p) => this.guard(this.onPod(p)));
    pods.on('delete', (p) => this.guard(this.onPodGone(p)));
    this.informers.push(pods as Informer<KubernetesObject>);
    if (this.opts.jobController) {
      const jobs = makeInformer<V1Job>(this.opts.kubeConfig, `/apis/batch/v1/namespaces/${ns}/jobs`, () =>
        this.batch.listNamespacedJob({ namespace: ns }),
      );
      jobs.on('add', (j) => this.guard(this.onJob(j)));
      jobs.on('update', (j) => this.guard(this.onJob(j)));
      jobs.on('delete', (j) => this.guard(this.onJobGone(j)));
      this.informers.push(jobs as Informer<KubernetesObject>);
    }
    for (const inf of this.informers) {
      // An informer stops on a watch error; resume with a fresh list.
      inf.on('error', () => {
        if (!this.stopped) setTimeout(() => void inf.start().catch(() => undefined), 200);
      });
      await inf.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const inf of this.informers) await inf.stop();
    for (const r of this.running.values()) {
      r.timers.forEach(clearTimeout);
      r.kill?.();
    }
    await Promise.all([...this.execs.values()].map((e) => e.exited));
    for (const t of this.deadlines.values()) clearTimeout(t);
    for (const l of this.logs.values()) l.bus.emit('end');
    const closed = new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server?.closeAllConnections(); // the apiserver keeps kubelet connections alive
    await closed;
    await this.core.deleteNode({ name: this.nodeName }).catch(() => undefined);
  }

  private guard(p: Promise<unknown>): void {
    p.catch((err: unknown) => {
      if (!this.stopped && !isCode(err, 404) && !isCode(err, 409)) this.errors.push(err);
    });
  }

  // ------------------------------------------------------------------ node + kubelet API

  private async serve(): Promise<number> {
    const { cert, key, ca } = this.opts.tls;
    this.server = createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      const log = m && this.logs.get(`${m[1]}/${m[2]}`);
      if (!log) {
        res.writeHead(404).end('container not found');
        return;
      }
      const tail = Number(url.searchParams.get('tailLines') ?? '0');
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const line of tail > 0 ? log.lines.slice(-tail) : log.lines) res.write(`${line}\n`);
      if (url.searchParams.get('follow') !== 'true' || log.ended) return void res.end();
      const onLine = (line: string) => res.write(`${line}\n`);
      const onEnd = () => res.end();
      log.bus.on('line', onLine).once('end', onEnd);
      res.on('close', () => log.bus.off('line', onLine).off('end', onEnd));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  private async registerNode(port: number): Promise<void> {
    await this.core.deleteNode({ name: this.nodeName }).catch(() => undefined);
    const labels = {
      'kubernetes.io/hostname': this.nodeName,
      'kubernetes.io/os': 'linux',
      ...this.opts.nodeLabels,
    };
    const node = await this.core.createNode({ body: { metadata: { name: this.nodeName, labels } } });
    const now = new Date();
    const capacity = { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    node.status = {
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: this.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
      capacity,
      allocatable: capacity,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'fake kubelet',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'fake://1',
        kernelVersion: '',
        kubeProxyVersion: '',
        kubeletVersion: 'v1.37.2',
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'fake',
        systemUUID: '',
      },
    };
    await this.core.replaceNodeStatus({ name: this.nodeName, body: node });
  }

  // ------------------------------------------------------------------ scheduler + kubelet

  private async onPod(pod: V1Pod): Promise<void> {
    if (this.stopped) return;
    const key = podKey(pod);
    if (pod.metadata?.deletionTimestamp) return this.finishDeletion(pod);
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed')
      return this.opts.jobController ? this.jobPodDone(pod) : undefined;
    if (!pod.spec?.nodeName) return this.schedule(pod);
    if (pod.spec.nodeName !== this.nodeName || this.handled.has(key)) return;
    this.handled.add(key);
    const script = this.scriptFor(pod);
    if (script.kind === 'pull-fail') return this.failPull(pod, script);
    if (script.kind === 'unschedulable') return; // already bound by someone else: nothing sensible to do
    if (script.kind === 'exec') return this.exec(pod, script);
    await this.run(pod, script);
  }

  private async schedule(pod: V1Pod): Promise<void> {
    const key = `sched/${podKey(pod)}`;
    if (this.handled.has(key)) return;
    this.handled.add(key);
    const script = this.scriptFor(pod);
    const misfit = script.kind === 'unschedulable' ? script.message : this.misfit(pod);
    if (misfit) {
      const message = `0/1 nodes are available: ${misfit}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;
      await this.updatePodStatus(pod, (s) => {
        s.conditions = upsert(s.conditions, {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message,
        });
      });
      await this.event(pod, 'default-scheduler', 'FailedScheduling', message);
      return;
    }
    await this.core.createNamespacedPodBinding({
      name: pod.metadata!.name!,
      namespace: this.opts.namespace,
      body: {
        metadata: { name: pod.metadata!.name! },
        target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
      },
    });
  }

  /** Why this node cannot take the pod, in the scheduler's words (undefined: it fits). */
  private misfit(pod: V1Pod): string | undefined {
    const labels: Record<string, string> = {
      'kubernetes.io/hostname': this.nodeName,
      ...this.opts.nodeLabels,
    };
    for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) {
      if (labels[k] !== v) return "1 node(s) didn't match Pod's node affinity/selector";
    }
    const wantsGpu = pod.spec?.containers.some(
      (c) => Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0) > 0,
    );
    if (wantsGpu) return '1 Insufficient nvidia.com/gpu';
    return undefined;
  }

  private scriptFor(pod: V1Pod): StepScript {
    for (const rule of this.rules) {
      if (rule.match(pod)) return typeof rule.script === 'function' ? rule.script(pod) : rule.script;
    }
    return scriptFromArgs(pod);
  }

  private async failPull(pod: V1Pod, script: Extract<StepScript, { kind: 'pull-fail' }>): Promise<void> {
    const image = pod.spec?.containers[0]?.image ?? '';
    const message =
      script.message ??
      `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`;
    const reason = script.reason ?? 'ErrImagePull';
    await this.updatePodStatus(pod, (s) => {
      s.conditions = upsert(s.conditions, { type: 'PodScheduled', status: 'True' });
      s.containerStatuses = (pod.spec?.containers ?? []).map((c) => ({
        ...containerBase(c.name, c.image ?? ''),
        state: { waiting: { reason, message } },
      }));
    });
    await this.event(pod, 'kubelet', 'Failed', `Failed to pull image "${image}": ${message}`);
  }

  private async run(pod: V1Pod, script: Extract<StepScript, { kind: 'run' | 'serve' }>): Promise<void> {
    const { log, state } = this.container(pod);
    const serving = script.kind === 'serve';
    await this.markRunning(pod, serving);
    if (serving) {
      state.timers.push(setTimeout(() => this.guard(this.markReady(pod)), script.readyAfterMs));
      return;
    }
    for (const { atMs, line } of script.output) {
      state.timers.push(setTimeout(() => this.logLine(log, line), atMs));
    }
    state.timers.push(
      setTimeout(() => this.guard(this.exit(pod, script.exitCode, script.reason)), script.exitAfterMs),
    );
  }

  /** Exec mode: resolve the env, mark the pod Running, run the step process; its exit is the container's. */
  private async exec(pod: V1Pod, script: ExecScript): Promise<void> {
    const { log, state } = this.container(pod);
    let env: Record<string, string>;
    try {
      env = await containerEnv(pod, this.core);
    } catch (err) {
      return this.execRefused(pod, err);
    }
    if (state.terminated) return; // deleted while starting
    const serving = dyffServeArgs(pod) !== undefined;
    // A session server listens on a free loopback port of this kubelet's choosing, whatever PORT the pod says.
    const port = serving ? await freePort() : undefined;
    await this.markRunning(pod, serving);
    if (state.terminated || this.stopped) return;
    let proc: ReturnType<typeof spawnStep>;
    try {
      const overrides: Record<string, string> =
        port === undefined ? {} : { PORT: String(port), HOST: '127.0.0.1' };
      proc = spawnStep(pod, env, script, (line) => this.logLine(log, line), overrides);
    } catch (err) {
      return this.execRefused(pod, err);
    }
    const name = pod.metadata!.name!;
    this.execs.set(name, {
      pod: name,
      pid: proc.pid,
      args: pod.spec!.containers[0]!.args ?? [],
      exited: proc.exited,
      port,
      labels: { ...pod.metadata?.labels },
    });
    let ended = false;
    if (serving) this.liveServers.add(name);
    const written = proc.exited.then((code) => {
      ended = true;
      this.liveServers.delete(name);
      return this.exit(pod, code);
    });
    this.guard(written);
    if (port !== undefined) {
      const path = pod.spec!.containers[0]!.readinessProbe?.httpGet?.path ?? '/ready';
      this.guard(this.probeReady(pod, `http://127.0.0.1:${port}${path}`, () => ended || state.terminated));
    }
    state.kill = () => proc.signal('SIGKILL');
    state.stop = async (graceMs) => {
      proc.signal('SIGTERM');
      const kill = setTimeout(() => proc.signal('SIGKILL'), graceMs);
      await written.catch(() => undefined);
      clearTimeout(kill);
    };
  }

  /** The readiness probe of an exec'd server: poll until it answers 200, then mark the pod Ready. */
  private async probeReady(pod: V1Pod, url: string, gone: () => boolean): Promise<void> {
    while (!gone() && !this.stopped) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
        async (res) => {
          await res.body?.cancel();
          return res.status === 200;
        },
        () => false,
      );
      if (ok) {
        if (!gone() && !this.stopped) await this.markReady(pod);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * The container cannot start. A missing ConfigMap/Secret key is what a real kubelet reports (waiting,
   * CreateContainerConfigError); what this helper cannot do fails the pod at once and counts as a failure here.
   */
  private async execRefused(pod: V1Pod, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ContainerConfigError) {
      await this.updatePodStatus(pod, (s) => {
        s.conditions = upsert(s.conditions, { type: 'PodScheduled', status: 'True' });
        s.containerStatuses = (pod.spec?.containers ?? []).map((c) => ({
          ...containerBase(c.name, c.image ?? ''),
          state: { waiting: { reason: 'CreateContainerConfigError', message } },
        }));
      });
      await this.event(pod, 'kubelet', 'Failed', `Error: ${message}`);
      return;
    }
    if (!(err instanceof ExecUnsupported)) throw err;
    this.errors.push(err);
    this.logLine(this.logs.get(podKey(pod))!, `exec kubelet: ${message}`);
    await this.event(pod, 'kubelet', 'Failed', `Error: ${message}`);
    await this.exit(pod, 128, 'ExecUnsupported');
  }

  /** The log and running state of a pod's container. */
  private container(pod: V1Pod): { log: ContainerLog; state: Running } {
    const key = podKey(pod);
    const log: ContainerLog = { lines: [], ended: false, bus: new EventEmitter() };
    this.logs.set(key, log);
    const state: Running = { timers: [], terminated: false };
    this.running.set(key, state);
    return { log, state };
  }

  private logLine(log: ContainerLog, line: string): void {
    log.lines.push(line);
    log.bus.emit('line', line);
  }

  private async markRunning(pod: V1Pod, serving: boolean): Promise<void> {
    const startedAt = new Date();
    await this.updatePodStatus(pod, (s) => {
      // The container may have ended (a quick exit, a deletion) before this write: a real kubelet never reports
      // a terminated container running again, and the apiserver refuses it (422).
      if (hasEnded(s)) return false;
      s.phase = 'Running';
      s.startTime = startedAt;
      s.hostIP = '127.0.0.1';
      s.podIP = '127.0.0.1';
      s.conditions = upsert(s.conditions, { type: 'PodScheduled', status: 'True' });
      s.conditions = upsert(s.conditions, { type: 'Initialized', status: 'True' });
      s.conditions = upsert(s.conditions, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' });
      s.conditions = upsert(s.conditions, {
        type: 'ContainersReady',
        status: 'False',
        reason: 'ContainersNotReady',
      });
      s.containerStatuses = (pod.spec?.containers ?? []).map((c) => ({
        ...containerBase(c.name, c.image ?? ''),
        started: true,
        ready: !serving,
        state: { running: { startedAt } },
      }));
    });
  }

  private async markReady(pod: V1Pod): Promise<void> {
    await this.updatePodStatus(pod, (s) => {
      if (hasEnded(s)) return false;
      s.conditions = upsert(s.conditions, { type: 'Ready', status: 'True' });
      s.conditions = upsert(s.conditions, { type: 'ContainersReady', status: 'True' });
      for (const c of s.containerStatuses ?? []) c.ready = true;
    });
  }

  /** The container ends: terminated state, exit code, and (FallbackToLogsOnError) the log tail as message. */
  private async exit(pod: V1Pod, exitCode: number, reason?: string): Promise<void> {
    const key = podKey(pod);
    const state = this.running.get(key);
    if (!state || state.terminated) return;
    state.terminated = true;
    state.timers.forEach(clearTimeout);
    const log = this.logs.get(key);
    if (log) {
      log.ended = true;
      log.bus.emit('end');
    }
    const finishedAt = new Date();
    const message = exitCode !== 0 ? log?.lines.slice(-20).join('\n') : undefined;
    await this.updatePodStatus(pod, (s) => {
      s.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      s.conditions = upsert(s.conditions, { type: 'Ready', status: 'False', reason: 'PodCompleted' });
      s.conditions = upsert(s.conditions, {
        type: 'ContainersReady',
        status: 'False',
        reason: 'PodCompleted',
      });
      const statuses = s.containerStatuses?.length
        ? s.containerStatuses
        : (pod.spec?.containers ?? []).map((c) => containerBase(c.name, c.image ?? ''));
      s.containerStatuses = statuses.map((c) => ({
        ...c,
        ready: false,
        started: false,
        state: {
          terminated: {
            exitCode,
            reason: reason ?? (exitCode === 0 ? 'Completed' : 'Error'),
            message,
            startedAt: c.state?.running?.startedAt ?? finishedAt,
            finishedAt,
            containerID: c.containerID,
          },
        },
      }));
    });
    if (reason === 'OOMKilled')
      await this.event(
        pod,
        'kubelet',
        'OOMKilling',
        `Memory cgroup out of memory: Killed process (node) in container ${pod.spec?.containers[0]?.name ?? ''}`,
      );
  }

  /**
   * A graceful delete: stop the "container" (SIGTERM → 143; an exec'd process gets SIGTERM, and SIGKILL after the
   * grace period), then confirm with a zero-grace delete, as the kubelet does.
   */
  private async finishDeletion(pod: V1Pod): Promise<void> {
    const key = podKey(pod);
    if (this.handled.has(`del/${key}`) || pod.spec?.nodeName !== this.nodeName) return;
    this.handled.add(`del/${key}`);
    const state = this.running.get(key);
    if (state?.stop && !state.terminated)
      await state.stop((pod.metadata?.deletionGracePeriodSeconds ?? 30) * 1000);
    else if (state && !state.terminated) await this.exit(pod, 143).catch(() => undefined);
    await this.core.deleteNamespacedPod({
      name: pod.metadata!.name!,
      namespace: this.opts.namespace,
      // In the body: a DeleteOptions body overrides the query parameters.
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } },
    });
  }

  private async onPodGone(pod: V1Pod): Promise<void> {
    const key = podKey(pod);
    const state = this.running.get(key);
    state?.timers.forEach(clearTimeout);
    state?.kill?.(); // deleted without grace (or after): nothing of the container may survive
    this.running.delete(key);
    this.logs.get(key)?.bus.emit('end');
    this.logs.delete(key);
    if (this.opts.jobController) {
      const job = pod.metadata?.labels?.[JOB_NAME];
      if (job) await this.releaseForeground(job);
    }
  }

  // ------------------------------------------------------------------ job controller + GC (optional)

  private async onJob(job: V1Job): Promise<void> {
    const name = job.metadata!.name!;
    if (job.metadata?.deletionTimestamp) return this.collect(job);
    if (
      this.jobsDone.has(job.metadata!.uid!) ||
      isFinished(job) ||
      this.handled.has(`job/${job.metadata!.uid!}`)
    )
      return;
    this.handled.add(`job/${job.metadata!.uid!}`);
    const existing = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `${JOB_NAME}=${name}`,
    });
    if (existing.items.length === 0) {
      const uid = job.metadata!.uid!;
      const labels = {
        ...job.spec?.template.metadata?.labels,
        [JOB_NAME]: name,
        'job-name': name,
        'batch.kubernetes.io/controller-uid': uid,
        'controller-uid': uid,
      };
      try {
        await this.core.createNamespacedPod({
          namespace: this.opts.namespace,
          body: {
            metadata: {
              generateName: `${name}-`,
              labels,
              ownerReferences: [
                {
                  apiVersion: 'batch/v1',
                  kind: 'Job',
                  name,
                  uid,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            },
            spec: job.spec!.template.spec!,
          },
        });
      } catch (err) {
        const message =
          err instanceof ApiException
            ? String((err.body as { message?: string })?.message ?? err.message)
            : String(err);
        await this.event(job, 'job-controller', 'FailedCreate', `Error creating: ${message}`);
        return;
      }
    }
    const startTime = new Date();
    await this.updateJobStatus(name, (s) => {
      s.startTime ??= startTime;
      s.active = 1;
      s.ready = 0;
    });
    const deadline = job.spec?.activeDeadlineSeconds;
    if (deadline) {
      this.deadlines.set(
        name,
        setTimeout(() => this.guard(this.deadlineExceeded(name)), deadline * 1000),
      );
    }
  }

  private async jobPodDone(pod: V1Pod): Promise<void> {
    const jobName = pod.metadata?.labels?.[JOB_NAME];
    const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'Job');
    if (!jobName || !owner || this.jobsDone.has(owner.uid)) return;
    this.jobsDone.add(owner.uid);
    clearTimeout(this.deadlines.get(jobName));
    const ok = pod.status?.phase === 'Succeeded';
    await this.finishJob(
      jobName,
      ok,
      ok ? 'CompletionsReached' : 'BackoffLimitExceeded',
      ok ? 'Reached expected number of succeeded pods' : 'Job has reached the specified backoff limit',
    );
  }

  private async deadlineExceeded(jobName: string): Promise<void> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `${JOB_NAME}=${jobName}`,
    });
    const uid = pods.items[0]?.metadata?.ownerReferences?.[0]?.uid;
    if (uid) this.jobsDone.add(uid);
    for (const p of pods.items)
      await this.core
        .deleteNamespacedPod({ name: p.metadata!.name!, namespace: this.opts.namespace })
        .catch(() => undefined);
    await this.finishJob(jobName, false, 'DeadlineExceeded', 'Job was active longer than specified deadline');
  }

  /** Terminal conditions as the 1.3x job controller writes them (the apiserver validates the sequence). */
  private async finishJob(name: string, ok: boolean, reason: string, message: string): Promise<void> {
    await this.updateJobStatus(name, (s) => {
      const now = new Date();
      const cond = (type: string): V1JobCondition => ({
        type,
        status: 'True',
        reason,
        message,
        lastProbeTime: now,
        lastTransitionTime: now,
      });
      s.active = 0;
      s.ready = 0;
      s.terminating = 0;
      if (ok) {
        s.succeeded = 1;
        s.completionTime = now;
        s.conditions = [...(s.conditions ?? []), cond('SuccessCriteriaMet'), cond('Complete')];
      } else {
        s.failed = 1;
        s.conditions = [...(s.conditions ?? []), cond('FailureTarget'), cond('Failed')];
      }
      this.jobFinishedAt.set(name, Date.now());
    });
  }

  /** Garbage collector, foreground: delete the Job's pods, then let the Job go. */
  private async collect(job: V1Job): Promise<void> {
    const name = job.metadata!.name!;
    clearTimeout(this.deadlines.get(name));
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `${JOB_NAME}=${name}`,
    });
    for (const p of pods.items) {
      if (!p.metadata?.deletionTimestamp)
        await this.core
          .deleteNamespacedPod({ name: p.metadata!.name!, namespace: this.opts.namespace })
          .catch(() => undefined);
    }
    if (pods.items.length === 0) await this.releaseForeground(name);
  }

  private async releaseForeground(jobName: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      let job: V1Job;
      try {
        job = await this.batch.readNamespacedJob({ name: jobName, namespace: this.opts.namespace });
      } catch {
        return;
      }
      if (!job.metadata?.deletionTimestamp || !job.metadata.finalizers?.includes(FOREGROUND)) return;
      const pods = await this.core.listNamespacedPod({
        namespace: this.opts.namespace,
        labelSelector: `${JOB_NAME}=${jobName}`,
      });
      if (pods.items.length > 0) return;
      job.metadata.finalizers = job.metadata.finalizers.filter((f) => f !== FOREGROUND);
      try {
        await this.batch.replaceNamespacedJob({ name: jobName, namespace: this.opts.namespace, body: job });
        return;
      } catch (err) {
        if (!isCode(err, 409)) throw err;
      }
    }
  }

  /** Background deletion: the dependents go after the owner. */
  private async onJobGone(job: V1Job): Promise<void> {
    const name = job.metadata!.name!;
    clearTimeout(this.deadlines.get(name));
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `${JOB_NAME}=${name}`,
    });
    for (const p of pods.items) {
      const owned = p.metadata?.ownerReferences?.some((o) => o.uid === job.metadata?.uid);
      if (owned && !p.metadata?.deletionTimestamp)
        await this.core
          .deleteNamespacedPod({ name: p.metadata!.name!, namespace: this.opts.namespace })
          .catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ writes

  private async updatePodStatus(
    pod: V1Pod,
    /** Returns false to leave the status as it is. */
    mutate: (s: NonNullable<V1Pod['status']>) => void | false,
  ): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = this.opts.namespace;
    for (let i = 0; ; i++) {
      const fresh = await this.core.readNamespacedPod({ name, namespace });
      if (fresh.metadata?.uid !== pod.metadata?.uid) return;
      fresh.status ??= {};
      if (mutate(fresh.status) === false) return;
      try {
        await this.core.replaceNamespacedPodStatus({ name, namespace, body: fresh });
        return;
      } catch (err) {
        if (!isCode(err, 409) || i >= 10) throw err;
      }
    }
  }

  private async updateJobStatus(
    name: string,
    mutate: (s: NonNullable<V1Job['status']>) => void,
  ): Promise<void> {
    const namespace = this.opts.namespace;
    for (let i = 0; ; i++) {
      const fresh = await this.batch.readNamespacedJob({ name, namespace });
      fresh.status ??= {};
      mutate(fresh.status);
      try {
        await this.batch.replaceNamespacedJobStatus({ name, namespace, body: fresh });
        return;
      } catch (err) {
        if (!isCode(err, 409) || i >= 10) throw err;
      }
    }
  }

  private async event(obj: V1Pod | V1Job, component: string, reason: string, message: string): Promise<void> {
    const now = new Date();
    const kind = 'spec' in obj && obj.spec && 'template' in obj.spec ? 'Job' : 'Pod';
    await this.core.createNamespacedEvent({
      namespace: this.opts.namespace,
      body: {
        metadata: { generateName: `${obj.metadata!.name!}.`, namespace: this.opts.namespace },
        involvedObject: {
          apiVersion: kind === 'Job' ? 'batch/v1' : 'v1',
          kind,
          name: obj.metadata!.name!,
          namespace: this.opts.namespace,
          uid: obj.metadata!.uid!,
        },
        reason,
        message,
        type: 'Warning',
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component, host: this.nodeName },
      },
    });
  }
}

// -------------------------------------------------------------------- scripts from step args

/** The behaviour of test/support/fake-step.mjs, as a kubelet would observe it. */
export function scriptFromArgs(pod: V1Pod): StepScript {
  const container = pod.spec?.containers[0];
  const args = container?.args ?? [];
  const at = args.findIndex((a) => a.startsWith('test-'));
  if (at < 0) return { kind: 'serve', readyAfterMs: 100 };
  const [cmd, ...rest] = args.slice(at);
  const arg = (name: string, dflt: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? (rest[i + 1] ?? dflt) : dflt;
  };
  const run = (
    output: { atMs: number; line: string }[],
    exitAfterMs: number,
    exitCode = 0,
    reason?: string,
  ): StepScript => ({
    kind: 'run',
    output,
    exitAfterMs,
    exitCode,
    reason,
  });
  switch (cmd) {
    case 'test-sleep': {
      const ms = Number(arg('ms', '0'));
      return run(
        [
          { atMs: 0, line: `sleeping ${ms} ms` },
          { atMs: ms, line: 'done' },
        ],
        ms + 5,
      );
    }
    case 'test-exit': {
      const code = Number(arg('code', '1'));
      return run([{ atMs: 0, line: `failing with exit code ${code}` }], 20, code);
    }
    case 'test-print':
      return run(
        Array.from({ length: Number(arg('lines', '1')) }, (_, i) => ({ atMs: 0, line: `line-${i + 1}` })),
        20,
      );
    case 'test-progress': {
      const total = Number(arg('total', '3'));
      const ms = Number(arg('ms', '100'));
      const lines = Array.from({ length: total }, (_, i) => ({
        atMs: i * ms,
        line: `::progress::${JSON.stringify({ done: i + 1, total, unit: 'items' })}`,
      }));
      return run(lines, total * ms);
    }
    case 'test-env': {
      const name = arg('name', '');
      const value = container?.env?.find((e) => e.name === name)?.value ?? '';
      return run([{ atMs: 0, line: `${name}=${value}` }], 20);
    }
    case 'test-oom':
      return run([{ atMs: 0, line: 'allocating' }], Number(arg('ms', '50')), 137, 'OOMKilled');
    case 'test-pull-fail':
      return { kind: 'pull-fail' };
    default:
      return run([{ atMs: 0, line: `unknown test step ${cmd}` }], 20, 64);
  }
}

function containerBase(name: string, image: string): V1ContainerStatus {
  return {
    name,
    image,
    imageID: `fake://${image}`,
    containerID: `fake://${name}`,
    ready: false,
    restartCount: 0,
  };
}

function upsert(
  conds: V1PodCondition[] | undefined,
  c: Omit<V1PodCondition, 'lastTransitionTime'>,
): V1PodCondition[] {
  const rest = (conds ?? []).filter((x) => x.type !== c.type);
  return [...rest, { ...c, lastTransitionTime: new Date() }];
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

function isFinished(job: V1Job): boolean {
  return !!job.status?.conditions?.some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** The pod's phase is terminal or a container has terminated: nothing may report it running again. */
function hasEnded(s: NonNullable<V1Pod['status']>): boolean {
  return (
    s.phase === 'Succeeded' || s.phase === 'Failed' || !!s.containerStatuses?.some((c) => c.state?.terminated)
  );
}
