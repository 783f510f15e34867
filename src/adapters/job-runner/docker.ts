import Docker from 'dockerode';
import { stepEnvironment } from '../../domain/step-environment.js';
import { isStepName, STEP_CATALOGUE } from '../../domain/step-catalogue.js';
import type { ScratchSettings } from '../../domain/step-resources.js';
import { parseScratchSettings, resolveStepResources } from '../../domain/step-resources.js';
import { secretEnvName } from '../../domain/secrets.js';
import type { JobRunner, JobSpec, JobStatus, StartResult, WaitOptions } from '../../ports/job-runner.js';
import type { SecretResolver } from '../../secrets/resolver.js';
import { containerUser, grantBindAccess } from '../docker/bind-access.js';
import type { BindMount } from '../docker/hardening.js';
import {
  envList,
  hardenedHostConfig,
  isStatus,
  LABEL_DEADLINE,
  LABEL_ENTITY,
  LABEL_KIND,
  LABEL_MANAGED,
  LABEL_STAGE,
  MANAGED_BY,
} from '../docker/hardening.js';
import { containerLogTail } from '../docker/logs.js';
import { evaluationNetwork, networkExists, type DockerNetworks } from '../docker/networks.js';
import { containerJobStatus } from './docker-job-status.js';

/** The programs that talk to an evaluation's inference session. */
const SESSION_CLIENTS = new Set(['evaluate', 'audit']);

export interface DockerJobRunnerOptions {
  docker?: Docker;
  /** The project image; its entrypoint is `node bin/dyffctl.mjs`. */
  image: string;
  /** Container args before the step's own. @default ['step'] */
  argsPrefix?: string[];
  /** The configuration as variables (`configEnv`); JobSpec.env wins. */
  env?: Record<string, string>;
  /** Where a step's settings (STEP_ENVIRONMENT) come from. @default process.env */
  workerEnv?: Record<string, string | undefined>;
  /** Host paths every step sees at the same path: the filesystem store's tree, local data roots. */
  binds?: BindMount[];
  /** Writable tmpfs paths besides /tmp (a step's work directory under the data home). */
  scratchPaths?: string[];
  networks?: Partial<DockerNetworks>;
  /** Resolves the secrets a step is granted; their values reach the container as `secretEnvName` variables. */
  secrets?: SecretResolver;
  /** The uid and gid containers run as. @default the worker's, or the image's 1000:1000 when the worker is root */
  user?: { uid: number; gid: number };
  scratch?: ScratchSettings;
  /** How often `wait` looks and calls `onUpdate`. @default 1000 */
  pollMs?: number;
}

/**
 * Runs each step as a container of the project image, named by the job name: a second `start` under that name
 * (a retried activity, another worker) finds the container and adopts it, running or finished. Containers are not
 * removed when they end, so their exit code, OOM flag and output outlive the worker; cancel removes them.
 */
export class DockerJobRunner implements JobRunner {
  private readonly docker: Docker;
  private readonly networks: DockerNetworks;
  /** Containers this runner stopped, so that their ending (or disappearance) reads as `cancelled`. */
  private readonly cancelled = new Set<string>();
  private readonly deadlines = new Set<NodeJS.Timeout>();
  private readonly user: { uid: number; gid: number; user: string };
  private access?: Promise<void>;

  constructor(private readonly opts: DockerJobRunnerOptions) {
    this.docker = opts.docker ?? new Docker();
    this.networks = { internet: 'bridge', storage: 'none', ...opts.networks };
    parseScratchSettings(opts.scratch, 'docker');
    const u = opts.user ?? containerUser();
    this.user = { ...u, user: `${u.uid}:${u.gid}` };
  }

  async start(spec: JobSpec): Promise<StartResult> {
    this.access ??= grantBindAccess(this.opts.binds ?? [], this.user.uid);
    await this.access;
    const program = spec.args[0];
    const wanted = resolveStepResources(program, this.opts.scratch, spec.resources);
    const secrets: Record<string, string> = {};
    for (const ref of spec.secrets ?? []) {
      if (!this.opts.secrets)
        throw new Error(`job ${spec.name}: secrets granted but the docker runner has no resolver`);
      secrets[secretEnvName(ref)] = await this.opts.secrets.resolve(ref);
    }
    const env = {
      ...stepEnvironment(program, {
        config: this.opts.env ?? {},
        worker: this.opts.workerEnv ?? process.env,
        placement: 'pod',
      }),
      ...spec.env,
      ...secrets,
      DYFF_JOB_NAME: spec.name,
    };
    const base =
      isStepName(program) && STEP_CATALOGUE[program].network === 'internet'
        ? this.networks.internet
        : this.networks.storage;
    // The evaluate (and audit) step sends requests to its evaluation's session, on that evaluation's network.
    const sessionNet = SESSION_CLIENTS.has(program ?? '') ? evaluationNetwork(spec.entityId) : undefined;
    const onSessionNet = sessionNet !== undefined && (await networkExists(this.docker, sessionNet));
    const network = onSessionNet ? sessionNet : base;
    const labels: Record<string, string> = {
      [LABEL_MANAGED]: MANAGED_BY,
      [LABEL_KIND]: 'job',
      [LABEL_ENTITY]: spec.entityId,
      [LABEL_STAGE]: spec.stage,
    };
    if (spec.activeDeadlineSeconds) labels[LABEL_DEADLINE] = String(spec.activeDeadlineSeconds);
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: spec.name,
        Image: this.opts.image,
        Cmd: [...(this.opts.argsPrefix ?? ['step']), ...spec.args],
        Env: envList(env),
        User: this.user.user,
        Labels: labels,
        HostConfig: hardenedHostConfig({
          scratch: wanted.scratch,
          scratchPaths: this.opts.scratchPaths,
          cpu: wanted.cpu,
          memory: wanted.memory,
          binds: this.opts.binds ?? [],
          network,
        }),
      });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      return this.adopt(spec);
    }
    // Storage on a network of its own (an emulator's) is joined besides the session's.
    if (onSessionNet && base !== 'none') await this.joinNetwork(container, base);
    await this.startContainer(container);
    this.enforceDeadline(spec.name, spec.activeDeadlineSeconds);
    return {
      adopted: false,
      status: (await this.status(spec.name)) ?? { name: spec.name, phase: 'pending' },
    };
  }

  private async adopt(spec: JobSpec): Promise<StartResult> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(spec.name).inspect();
    } catch (err) {
      if (isStatus(err, 404)) return this.start(spec); // removed between our create and inspect
      throw err;
    }
    const owner = info.Config.Labels?.[LABEL_ENTITY];
    if (owner !== spec.entityId) {
      throw new Error(
        `job ${spec.name} exists but belongs to entity ${owner ?? '(none)'}, not ${spec.entityId}`,
      );
    }
    // Created by a starter that died (or is still busy) before starting it: starting twice is harmless.
    if (info.State.Status === 'created') await this.startContainer(this.docker.getContainer(spec.name));
    return { adopted: true, status: (await this.status(spec.name)) ?? { name: spec.name, phase: 'pending' } };
  }

  private async startContainer(container: Docker.Container): Promise<void> {
    try {
      await container.start();
    } catch (err) {
      if (!isStatus(err, 304)) throw err; // 304: already started
    }
  }

  private async joinNetwork(container: Docker.Container, network: string): Promise<void> {
    await this.docker.getNetwork(network).connect({ Container: container.id });
  }

  /** Kill the job at its deadline; a worker that adopts it re-arms the timer in `wait`. */
  private enforceDeadline(name: string, seconds: number | undefined, startedAt = Date.now()): void {
    if (!seconds) return;
    const timer = setTimeout(
      () => {
        this.deadlines.delete(timer);
        void this.docker
          .getContainer(name)
          .kill()
          .catch(() => {});
      },
      Math.max(0, startedAt + seconds * 1000 - Date.now()),
    );
    timer.unref();
    this.deadlines.add(timer);
  }

  async status(name: string): Promise<JobStatus | undefined> {
    const container = this.docker.getContainer(name);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
    return containerJobStatus(name, info, await containerLogTail(container), this.cancelled.has(name));
  }

  async wait(name: string, opts: WaitOptions = {}): Promise<JobStatus> {
    let armed = false;
    for (;;) {
      opts.signal?.throwIfAborted();
      const s = (await this.status(name)) ?? this.gone(name);
      opts.onUpdate?.(s);
      if (s.phase === 'succeeded' || s.phase === 'failed') return s;
      if (!armed && s.phase === 'running') {
        armed = true;
        const info = await this.docker
          .getContainer(name)
          .inspect()
          .catch(() => undefined);
        const seconds = Number(info?.Config.Labels?.[LABEL_DEADLINE] ?? 0);
        if (seconds && info) this.enforceDeadline(name, seconds, Date.parse(info.State.StartedAt));
      }
      await sleep(this.opts.pollMs ?? 1000, opts.signal);
    }
  }

  private gone(name: string): JobStatus {
    if (this.cancelled.has(name)) return { name, phase: 'failed', outcome: 'cancelled', reason: 'cancelled' };
    return { name, phase: 'failed', outcome: 'lost', reason: 'deleted: the job container no longer exists' };
  }

  async cancel(name: string): Promise<void> {
    const s = await this.status(name);
    if (!s || s.phase === 'succeeded' || s.phase === 'failed') return;
    this.cancelled.add(name);
    const container = this.docker.getContainer(name);
    // SIGTERM, then SIGKILL after the grace period; then nothing of the job is left.
    await container.stop({ t: 10 }).catch((err: unknown) => {
      if (!isStatus(err, 304) && !isStatus(err, 404)) throw err;
    });
    await container.remove({ force: true }).catch((err: unknown) => {
      if (!isStatus(err, 404) && !isStatus(err, 409)) throw err;
    });
  }

  async list(entityId: string): Promise<JobStatus[]> {
    const found = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_ENTITY}=${entityId}`, `${LABEL_KIND}=job`] },
    });
    const out: JobStatus[] = [];
    for (const c of found) {
      const name = (c.Names[0] ?? '').replace(/^\//, '');
      const s = await this.status(name);
      if (s) out.push(s);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    for (const t of this.deadlines) clearTimeout(t);
    this.deadlines.clear();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
