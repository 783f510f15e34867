import { TEST_SOURCES } from '../../support/test-sources.js';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapters } from '../../../src/adapters/index.js';
import { createAdapters } from '../../../src/adapters/index.js';
import { readLogTail } from '../../../src/adapters/job-runner/log-tail.js';
import { groupAlive } from '../../../src/adapters/process-group.js';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { loadConfig } from '../../../src/config.js';
import { spawnWorker, until } from '../../support/worker-process.js';
import { ServerProcess } from './server-process.js';

export type Worker = ChildProcess & { output: () => string };

/**
 * One fault-suite environment: a Temporal dev server process on its own database, a data home with the embedded
 * backends, a worker process, and a client. Steps retry after 1 s (not 5) and the worker drains for 2 s on SIGTERM.
 */
export class Harness {
  /** Every worker started, oldest first; `worker` is the newest. */
  readonly workers: Worker[] = [];

  private constructor(
    readonly config: Config,
    readonly server: ServerProcess,
    readonly adapters: Adapters,
    readonly client: DyffClient,
  ) {}

  /** `extra`: top-level config sections (e.g. the GCP backends) for this process, the worker and dyffctl alike. */
  static async create(extra: Record<string, unknown> = {}): Promise<Harness> {
    const dataHome = await mkdtemp(join(tmpdir(), 'dyff-faults-'));
    const server = await ServerProcess.start(join(dataHome, 'temporal.db'));
    // Read by the worker and dyffctl processes too (cliEnv points DYFF_CONFIG here).
    await writeFile(
      join(dataHome, 'dyff.config.yaml'),
      'retries: { backoffSeconds: 1 }\ntemporal: { shutdownGraceSeconds: 2, unreachableTimeoutSeconds: 180 }\n' +
        // The slow source is a loopback server, which the egress guard refuses unless allowed.
        `sources: ${JSON.stringify(TEST_SOURCES)}\n` +
        Object.entries(extra)
          .map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`)
          .join(''),
    );
    const config = loadConfig(
      {
        dataHome,
        temporal: { address: server.address, taskQueue: 'faults' },
        retries: { backoffSeconds: 1 },
        sources: TEST_SOURCES,
        ...extra,
      },
      { PATH: process.env.PATH ?? '' },
    );
    const adapters = await createAdapters(config);
    const client = await DyffClient.connect(config, adapters);
    return new Harness(config, server, adapters, client);
  }

  get worker(): Worker | undefined {
    return this.workers.at(-1);
  }

  /** Start a worker on the task queue; earlier ones that are still alive keep polling it too. */
  async startWorker(): Promise<Worker> {
    const w = await spawnWorker(this.config);
    this.workers.push(w);
    return w;
  }

  /** Stop a worker (the newest by default); resolves with its exit code (0 after SIGTERM: it drained cleanly). */
  async stopWorker(signal: NodeJS.Signals = 'SIGTERM', w = this.worker): Promise<number | null> {
    if (!w || w.exitCode !== null || w.signalCode !== null) return w?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    w.kill(signal);
    return exited;
  }

  async close(): Promise<void> {
    for (const w of this.workers) await this.stopWorker('SIGTERM', w);
    await this.client.close();
    await this.adapters.close();
    await this.server.stop();
    await rm(this.config.dataHome, { recursive: true, force: true });
  }

  get jobsRoot(): string {
    return join(this.config.dataHome, 'jobs');
  }

  /** Every job of the data home: name, step program, exit code (undefined while running or lost). */
  async jobs(): Promise<{ name: string; step: string; entityId: string; exit?: number; pid?: number }[]> {
    if (!existsSync(this.jobsRoot)) return [];
    const out = [];
    for (const name of (await readdir(this.jobsRoot)).sort()) {
      const dir = join(this.jobsRoot, name);
      const spec = await readSpec(join(dir, 'spec.json'));
      const exit = await readFile(join(dir, 'exit'), 'utf8').catch(() => undefined);
      const pid = await readFile(join(dir, 'pid'), 'utf8').catch(() => undefined);
      out.push({
        name,
        step: spec.args?.[0] ?? '',
        entityId: spec.entityId ?? '',
        exit: exit === undefined ? undefined : Number(exit.trim()),
        pid: pid === undefined ? undefined : Number(pid),
      });
    }
    return out;
  }

  /**
   * The first job running this step program that is not in `seen`, once its process has started. Looks every
   * 20 ms, and reads only the job directories it has not seen yet: the shortest steps (build-service) end a few
   * hundred milliseconds after they start, and the full matrix leaves hundreds of job directories behind.
   */
  async jobStarted(step: string, seen: Set<string>): Promise<string> {
    const other = new Set(seen);
    const probe = async () => {
      const names = existsSync(this.jobsRoot) ? await readdir(this.jobsRoot) : [];
      for (const name of names.filter((n) => !other.has(n)).sort()) {
        const spec = await readSpec(join(this.jobsRoot, name, 'spec.json'));
        if (spec.args === undefined) continue; // not written yet: look again
        if (spec.args[0] !== step) other.add(name);
        else if (await this.jobPid(name)) return name;
      }
      return undefined;
    };
    return until(`the ${step} job to start`, probe, 180_000, 20);
  }

  /** The pid of job `name`'s wrapper shell, once it has started. */
  async jobPid(name: string): Promise<number | undefined> {
    const pid = await readFile(join(this.jobsRoot, name, 'pid'), 'utf8').catch(() => undefined);
    return pid === undefined || pid.trim() === '' ? undefined : Number(pid);
  }

  /** The pid of the worker that runs job `name`'s activity now (the last one to pick it up). */
  async workerRunning(name: string): Promise<number> {
    const job = (await this.jobs()).find((j) => j.name === name);
    const kind = job && WORKFLOW_KIND_OF_STEP[job.step];
    if (!kind) throw new Error(`job ${name} runs no known step`);
    const handle = this.client.temporal.workflow.getHandle(`${kind}-${job.entityId}`);
    const identity = await until(
      `the worker running ${name}`,
      async () =>
        (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'runStep')
          ?.lastWorkerIdentity ?? undefined,
      30_000,
    );
    return Number(identity.split('@')[0]);
  }

  get sessionsRoot(): string {
    return join(this.config.dataHome, 'sessions');
  }

  /** The session's supervisor process (its process group), once started. */
  async sessionPid(name: string): Promise<number | undefined> {
    const pid = Number(await readFile(join(this.sessionsRoot, name, 'pid'), 'utf8').catch(() => '0'));
    return pid || undefined;
  }

  /** How often the session's supervisor started its server again after a kill. */
  async sessionRestarts(name: string): Promise<number> {
    return Number(await readFile(join(this.sessionsRoot, name, 'restarts'), 'utf8').catch(() => '0'));
  }

  /** The newest progress report of a job (done/total, retries by kind), from its log. */
  async jobProgress(name: string) {
    return (await readLogTail(join(this.jobsRoot, name, 'output.log'))).progress;
  }

  /** Process groups of jobs and sessions still alive: after a run ends there must be none. */
  async leftRunning(): Promise<string[]> {
    const alive = (await this.jobs()).filter((j) => j.pid && groupAlive(j.pid)).map((j) => `job ${j.name}`);
    const sessions = this.sessionsRoot;
    if (existsSync(sessions)) {
      for (const name of await readdir(sessions)) {
        const pid = Number(await readFile(join(sessions, name, 'pid'), 'utf8').catch(() => '0'));
        if (pid && groupAlive(pid)) alive.push(`session ${name}`);
      }
    }
    return alive;
  }
}

/** Which entity workflow runs each step program (workflow ids are `<kind>-<entity id>`). */
const WORKFLOW_KIND_OF_STEP: Record<string, string> = {
  'fetch-data': 'dataset',
  'ingest-dataset': 'dataset',
  'fetch-model': 'model',
  'build-service': 'inferenceservice',
  evaluate: 'evaluation',
  'verify-outputs': 'evaluation',
  report: 'report',
};

/** The step program's own process: the wrapper shell's child (not the wrapper, which records the exit code). */
export function stepProcessOf(wrapperPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${wrapperPid}/task/${wrapperPid}/children`, 'utf8').trim();
    const first = Number(children.split(/\s+/)[0]);
    return first || undefined;
  } catch {
    return undefined;
  }
}

export interface ScenarioResult {
  fault: string;
  stage: string;
  outcome: 'passed' | 'failed';
  recoverSeconds?: number;
  note?: string;
}

/** Append a row to the results file `npm run faults` prints as a table (no file: nothing recorded). */
export async function record(result: ScenarioResult): Promise<void> {
  const file = process.env.DYFF_FAULTS_RESULTS;
  if (file) await appendFile(file, `${JSON.stringify(result)}\n`);
}

/** How long one scenario of the full matrix may take (vitest's timeout in the fault suite's files). */
export const SCENARIO_TIMEOUT_MS = 600_000;

/**
 * Run a scenario (it returns the seconds from the fault to the end of the run) and add its row to the table. A run
 * that completed past the timeout is recorded failed: vitest has already failed it.
 */
export async function recorded(fault: string, stage: string, body: () => Promise<number>): Promise<void> {
  try {
    const recoverSeconds = await body();
    const late = recoverSeconds * 1000 > SCENARIO_TIMEOUT_MS - 30_000;
    const outcome = late ? 'failed' : 'passed';
    await record({ fault, stage, outcome, recoverSeconds, note: late ? 'timed out' : undefined });
  } catch (err) {
    await record({ fault, stage, outcome: 'failed', note: String(err).slice(0, 300) });
    throw err;
  }
}

/**
 * A job's spec.json, or `{}` while the runner has not written it yet (absent, or caught mid-write: the runner
 * writes it while this polls); the next poll reads it whole.
 */
async function readSpec(path: string): Promise<{ args?: string[]; entityId?: string }> {
  const text = await readFile(path, 'utf8').catch(() => '');
  try {
    return text ? (JSON.parse(text) as { args?: string[]; entityId?: string }) : {};
  } catch {
    return {};
  }
}
