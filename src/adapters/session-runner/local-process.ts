import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deniedEnvNames } from '../../domain/env-denylist.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { stepEnvironment } from '../../domain/step-environment.js';
import type { SessionRunner, SessionSpec, SessionStatus } from '../../ports/session-runner.js';
import type { SecretResolver } from '../../secrets/resolver.js';
import { resolveEnv } from '../../secrets/resolver.js';
import { readLogTail } from '../job-runner/log-tail.js';
import { freePort, groupAlive, stopGroup } from '../process-group.js';
import { SESSION_SUPERVISOR } from './supervisor.js';

export interface LocalSessionRunnerOptions {
  root: string;
  /** The program and leading args that run `dyffctl`, e.g. [node, bin/dyffctl.mjs]. */
  command: string[];
  /** The configuration as variables (`configEnv`). */
  env?: Record<string, string>;
  /** Where the variables a session may take from the worker come from. @default process.env */
  workerEnv?: Record<string, string | undefined>;
  /** Resolves the secret references of a service's env, just before its process starts. */
  secrets: SecretResolver;
}

/**
 * Sessions as local processes in their own process group, on a free loopback port. Remote runners (openai, http)
 * have no process: the session is the endpoint itself.
 */
export class LocalSessionRunner implements SessionRunner {
  constructor(private readonly opts: LocalSessionRunnerOptions) {}

  private dir(name: string): string {
    if (!/^[a-z0-9][-a-z0-9]*$/.test(name)) throw new Error(`invalid session name ${JSON.stringify(name)}`);
    return join(this.opts.root, name);
  }

  async start(spec: SessionSpec): Promise<SessionStatus> {
    const dir = this.dir(spec.name);
    if (spec.description.image) {
      // A container image is not a process this runner can start: no session would serve what the spec asks.
      throw new DyffError(
        ErrorType.InvalidSpec,
        `service ${spec.description.serviceId} runs the image ${spec.description.image}: its sessions need ` +
          'runner: kubernetes (a local process runs the project image only)',
      );
    }
    // Before anything is created: a missing secret must fail the start, not leave a half-made session to adopt.
    const serviceEnv = await resolveEnv(spec.description.env, this.opts.secrets);
    await mkdir(this.opts.root, { recursive: true });
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return (await this.status(spec.name)) ?? { name: spec.name, phase: 'starting' };
    }
    // Which entity the session serves, so that a reaper can find it when that entity's run is gone.
    await writeFile(join(dir, 'entity'), spec.entityId);
    const d = spec.description;
    const denied = deniedEnvNames(d.env);
    if (denied.length) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`service ${d.serviceId}: runner.env may not set ${denied.join(', ')}`);
    }
    if (!d.command) {
      await writeFile(
        join(dir, 'session.json'),
        JSON.stringify({ endpoint: '', remote: true, readinessPath: undefined }),
      );
      return { name: spec.name, phase: 'ready', endpoint: '' };
    }
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    await writeFile(
      join(dir, 'session.json'),
      JSON.stringify({ endpoint, readinessPath: d.readinessPath ?? '/ready' }),
    );
    const [program, ...lead] = this.opts.command;
    const child = spawn(
      '/bin/sh',
      ['-c', SESSION_SUPERVISOR, 'dyff-session', dir, program!, ...lead, ...d.command],
      {
        detached: true,
        stdio: 'ignore',
        // The service's own variables (secrets resolved) first, so that none of them can replace what the platform sets.
        env: {
          ...serviceEnv,
          ...stepEnvironment('session', {
            config: this.opts.env ?? {},
            worker: this.opts.workerEnv ?? process.env,
            placement: 'local',
          }),
          PORT: String(port),
        },
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    await writeFile(join(dir, 'pid'), String(child.pid));
    return { name: spec.name, phase: 'starting', endpoint };
  }

  async status(name: string): Promise<SessionStatus | undefined> {
    const dir = this.dir(name);
    if (!existsSync(join(dir, 'session.json')))
      return existsSync(dir) ? { name, phase: 'starting' } : undefined;
    const meta = JSON.parse(await readFile(join(dir, 'session.json'), 'utf8')) as {
      endpoint: string;
      readinessPath?: string;
      remote?: boolean;
    };
    if (meta.remote) return { name, phase: 'ready', endpoint: meta.endpoint };
    if (existsSync(join(dir, 'stopped')))
      return { name, phase: 'failed', endpoint: meta.endpoint, reason: 'stopped' };
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'));
    const tail = await readLogTail(join(dir, 'output.log'));
    if (pid && !groupAlive(pid)) {
      return {
        name,
        phase: 'failed',
        endpoint: meta.endpoint,
        reason: 'the session process exited',
        logTail: tail.lines,
      };
    }
    try {
      const res = await fetch(`${meta.endpoint}${meta.readinessPath ?? '/ready'}`, {
        signal: AbortSignal.timeout(2000),
      });
      await res.arrayBuffer();
      return { name, phase: res.ok ? 'ready' : 'starting', endpoint: meta.endpoint, logTail: tail.lines };
    } catch {
      return { name, phase: 'starting', endpoint: meta.endpoint, logTail: tail.lines };
    }
  }

  async waitReady(
    name: string,
    opts: { signal?: AbortSignal; timeoutMs?: number; onUpdate?: (s: SessionStatus) => void } = {},
  ): Promise<SessionStatus> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      opts.signal?.throwIfAborted();
      const s = await this.status(name);
      if (!s) throw new Error(`session ${name} does not exist`);
      opts.onUpdate?.(s);
      if (s.phase === 'ready') return s;
      if (s.phase === 'failed') {
        throw new Error(
          `session ${name} failed: ${s.reason}${s.logTail?.length ? `\n${s.logTail.join('\n')}` : ''}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`session ${name} not ready after ${opts.timeoutMs ?? 120_000} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async list(entityId: string): Promise<SessionStatus[]> {
    const names = await readdir(this.opts.root).catch(() => [] as string[]);
    const out: SessionStatus[] = [];
    for (const name of names) {
      const dir = join(this.opts.root, name);
      if (existsSync(join(dir, 'stopped'))) continue;
      const owner = await readFile(join(dir, 'entity'), 'utf8').catch(() => undefined);
      const status = owner === entityId ? await this.status(name) : undefined;
      if (status) out.push(status);
    }
    return out;
  }

  async stop(name: string): Promise<void> {
    const dir = this.dir(name);
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'));
    // Marked first, so that a server ending under the stop is not taken for one to restart.
    await writeFile(join(dir, 'stopped'), new Date().toISOString()).catch(() => {});
    if (pid) await stopGroup(pid);
    await rm(join(dir, 'pid'), { force: true });
  }

  async close(): Promise<void> {}
}
