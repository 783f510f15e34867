import Docker from 'dockerode';
import { deniedEnvNames } from '../../domain/env-denylist.js';
import { stepEnvironment } from '../../domain/step-environment.js';
import type { ScratchSettings } from '../../domain/step-resources.js';
import { parseScratchSettings, resolveSessionScratch } from '../../domain/step-resources.js';
import type { SessionRunner, SessionSpec, SessionStatus } from '../../ports/session-runner.js';
import type { SecretResolver } from '../../secrets/resolver.js';
import { resolveEnv } from '../../secrets/resolver.js';
import { containerUser, grantBindAccess } from '../docker/bind-access.js';
import type { BindMount } from '../docker/hardening.js';
import {
  envList,
  hardenedHostConfig,
  isStatus,
  LABEL_ENTITY,
  LABEL_KIND,
  LABEL_MANAGED,
  MANAGED_BY,
} from '../docker/hardening.js';
import { containerLogTail } from '../docker/logs.js';
import { ensureEvaluationNetwork, evaluationNetwork, removeNetworkIfUnused } from '../docker/networks.js';
import { parseLogTail } from '../job-runner/log-tail.js';
import { probeSession, waitSessionReady } from './docker-probe.js';

export interface DockerSessionRunnerOptions {
  docker?: Docker;
  /** The image serving models: the project image (`dyffctl serve-model`); its entrypoint is `node bin/dyffctl.mjs`. */
  image: string;
  /** The configuration as variables (`configEnv`). */
  env?: Record<string, string>;
  workerEnv?: Record<string, string | undefined>;
  /** Resolves the secret references of a service's env, just before its container is made. */
  secrets: SecretResolver;
  /** Host paths a session sees at the same path, read-only: the filesystem store's tree. */
  binds?: BindMount[];
  /** Writable tmpfs paths besides /tmp (where `serve-model` copies the model under the data home). */
  scratchPaths?: string[];
  /** A network where the object store answers, joined besides the evaluation's; `none` when storage is a bind. */
  storageNetwork?: string;
  /** The port the server listens on (passed as PORT). @default 8000 */
  port?: number;
  user?: { uid: number; gid: number };
  scratch?: ScratchSettings;
}

/**
 * Inference sessions as containers, one per session, named by the session name so that a second start adopts it.
 * Each sits on the internal network of its evaluation (`dyff-session-<entity>`), which only that evaluation's
 * evaluate and audit containers join: no egress, no other evaluation, and the endpoint is the container's address
 * there (the worker, on the host, reaches it through the network's bridge for the readiness probe).
 */
export class DockerSessionRunner implements SessionRunner {
  private readonly docker: Docker;
  private readonly remote = new Map<string, string>();
  private readonly user: { uid: number; gid: number };
  private access?: Promise<void>;

  constructor(private readonly opts: DockerSessionRunnerOptions) {
    this.docker = opts.docker ?? new Docker();
    parseScratchSettings(opts.scratch, 'docker');
    this.user = opts.user ?? containerUser();
  }

  private get port(): number {
    return this.opts.port ?? 8000;
  }

  async start(spec: SessionSpec): Promise<SessionStatus> {
    const d = spec.description;
    if (!d.command) {
      this.remote.set(spec.name, '');
      return { name: spec.name, phase: 'ready', endpoint: '' };
    }
    const denied = deniedEnvNames(d.env);
    if (denied.length) throw new Error(`service ${d.serviceId}: runner.env may not set ${denied.join(', ')}`);
    // Before anything is created: a missing secret must fail the start, not leave a half-made session to adopt.
    const serviceEnv = await resolveEnv(d.env, this.opts.secrets);
    this.access ??= grantBindAccess(this.opts.binds ?? [], this.user.uid);
    await this.access;
    const network = await ensureEvaluationNetwork(this.docker, spec.entityId);
    const env = {
      ...serviceEnv,
      ...stepEnvironment('session', {
        config: this.opts.env ?? {},
        worker: this.opts.workerEnv ?? process.env,
        placement: 'pod',
      }),
      PORT: String(this.port),
    };
    try {
      const container = await this.docker.createContainer({
        name: spec.name,
        // The service's own image (built by `builder: docker`, or prebuilt) with its entrypoint, else the project's.
        Image: d.image ?? this.opts.image,
        Cmd: d.command,
        Env: envList(env),
        User: `${this.user.uid}:${this.user.gid}`,
        Labels: {
          [LABEL_MANAGED]: MANAGED_BY,
          [LABEL_KIND]: 'session',
          [LABEL_ENTITY]: spec.entityId,
          'io.dyff.readiness-path': d.readinessPath ?? '/ready',
        },
        ExposedPorts: { [`${this.port}/tcp`]: {} },
        HostConfig: hardenedHostConfig({
          scratch: resolveSessionScratch(this.opts.scratch),
          scratchPaths: this.opts.scratchPaths,
          cpu: spec.resources?.cpu,
          memory: spec.resources?.memory,
          binds: (this.opts.binds ?? []).map((b) => ({ ...b, readOnly: true })),
          network,
        }),
      });
      if (this.opts.storageNetwork && this.opts.storageNetwork !== 'none') {
        await this.docker.getNetwork(this.opts.storageNetwork).connect({ Container: container.id });
      }
      await container.start();
    } catch (err) {
      if (!isStatus(err, 409)) throw err; // a container of that name: adopt it
    }
    return (await this.status(spec.name)) ?? { name: spec.name, phase: 'starting' };
  }

  async status(name: string): Promise<SessionStatus | undefined> {
    if (this.remote.has(name)) return { name, phase: 'ready', endpoint: this.remote.get(name) };
    const container = this.docker.getContainer(name);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
    const entity = info.Config.Labels?.[LABEL_ENTITY] ?? '';
    const ip = info.NetworkSettings.Networks[evaluationNetwork(entity)]?.IPAddress;
    const endpoint = ip ? `http://${ip}:${this.port}` : undefined;
    const state = info.State;
    if (state.Status === 'exited' || state.Status === 'dead') {
      const tail = parseLogTail(await containerLogTail(container));
      const reason = state.OOMKilled
        ? 'the server was OOM-killed'
        : `the server exited with code ${state.ExitCode}`;
      return { name, phase: 'failed', endpoint, reason, logTail: tail.lines };
    }
    if (state.Status !== 'running' || !endpoint) return { name, phase: 'starting', endpoint };
    const readiness = info.Config.Labels?.['io.dyff.readiness-path'] ?? '/ready';
    return { name, phase: (await probeSession(endpoint, readiness)) ? 'ready' : 'starting', endpoint };
  }

  waitReady(
    name: string,
    opts: { signal?: AbortSignal; timeoutMs?: number; onUpdate?: (s: SessionStatus) => void } = {},
  ): Promise<SessionStatus> {
    return waitSessionReady((n) => this.status(n), name, opts);
  }

  async list(entityId: string): Promise<SessionStatus[]> {
    const found = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_ENTITY}=${entityId}`, `${LABEL_KIND}=session`] },
    });
    const out: SessionStatus[] = [];
    for (const c of found) {
      const s = await this.status((c.Names[0] ?? '').replace(/^\//, ''));
      if (s) out.push(s);
    }
    return out;
  }

  async stop(name: string): Promise<void> {
    if (this.remote.delete(name)) return;
    const container = this.docker.getContainer(name);
    let entity: string | undefined;
    try {
      entity = (await container.inspect()).Config.Labels?.[LABEL_ENTITY];
      await container.remove({ force: true });
    } catch (err) {
      if (!isStatus(err, 404) && !isStatus(err, 409)) throw err;
    }
    if (entity) await removeNetworkIfUnused(this.docker, evaluationNetwork(entity));
  }

  async close(): Promise<void> {}
}
