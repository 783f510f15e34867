import { join } from 'node:path';
import { until } from '../../support/worker-process.js';
import type { Harness } from './harness.js';
import { stepProcessOf } from './harness.js';

/** The fault kinds injected at every job stage. */
export const FAULTS = ['server-outage', 'worker-sigterm', 'worker-sigkill', 'step-kill9'] as const;
/** At the session stage, the process killed with `kill -9` is the session's model server, not a step. */
export const SESSION_FAULTS = ['server-outage', 'worker-sigterm', 'worker-sigkill', 'session-kill9'] as const;
/** Two workers poll the task queue and the one running the step is SIGKILLed; the other carries on alone. */
export const ONE_OF_TWO_WORKERS = 'one-of-two-workers-sigkill';
export type Fault = (typeof FAULTS)[number] | (typeof SESSION_FAULTS)[number] | typeof ONE_OF_TWO_WORKERS;

/** The full matrix (`npm run faults`) keeps the server down ~30 s; `npm test` a shorter outage, still past the
 * step activity's 10 s heartbeat timeout. */
export const FULL = process.env.DYFF_FAULTS === 'full';
export const OUTAGE_MS = FULL ? 30_000 : 15_000;

/**
 * Inject a fault while job `jobName` runs (for `session-kill9`, while session `jobName` serves). Returns what a
 * check needs to know: whether the job's own try is expected to finish (adopted) or a new try is expected (the
 * step was killed).
 */
export async function inject(h: Harness, fault: Fault, jobName: string): Promise<{ newTry: boolean }> {
  switch (fault) {
    case 'server-outage': {
      await h.server.kill9();
      // The outage itself: longer than the heartbeat timeout, so the server times the attempt out on its return.
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await h.server.up();
      return { newTry: false };
    }
    case 'worker-sigterm': {
      const code = await h.stopWorker('SIGTERM');
      if (code !== 0)
        throw new Error(`the worker did not drain cleanly on SIGTERM (exit ${code}):\n${h.worker?.output()}`);
      await h.startWorker();
      return { newTry: false };
    }
    case 'worker-sigkill': {
      await h.stopWorker('SIGKILL');
      await h.startWorker();
      return { newTry: false };
    }
    case 'step-kill9': {
      const wrapper = await h.jobPid(jobName);
      if (!wrapper) throw new Error(`job ${jobName} has no process`);
      // Every 2 ms: the wrapper starts the step at once, and a short step may be gone within a few hundred.
      const step = await until(
        `the step process of ${jobName}`,
        async () => stepProcessOf(wrapper),
        10_000,
        2,
      );
      process.kill(step, 'SIGKILL');
      return { newTry: true };
    }
    case ONE_OF_TWO_WORKERS: {
      const alive = h.workers.filter((w) => w.exitCode === null && w.signalCode === null);
      if (alive.length < 2) throw new Error(`${fault} needs two workers, ${alive.length} alive`);
      const pid = await h.workerRunning(jobName);
      const victim = alive.find((w) => w.pid === pid);
      if (!victim)
        throw new Error(`job ${jobName} runs on worker ${pid}, which is not one of this harness's`);
      await h.stopWorker('SIGKILL', victim);
      // No new worker: the survivor must take over the activity, the workflows and the job.
      return { newTry: false };
    }
    case 'session-kill9': {
      // The model server under the session's supervisor, as the OOM killer or a crashed node would end it.
      const supervisor = await h.sessionPid(jobName);
      if (!supervisor) throw new Error(`session ${jobName} has no process`);
      const server = await until(`the server of ${jobName}`, async () => stepProcessOf(supervisor), 10_000);
      process.kill(server, 'SIGKILL');
      // The evaluate job rides it out: no new try.
      return { newTry: false };
    }
  }
}

export function jobDir(h: Harness, name: string): string {
  return join(h.jobsRoot, name);
}
