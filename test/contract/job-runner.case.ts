import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { JobRunner, JobSpec } from '../../src/ports/job-runner.js';
import { jobName } from '../../src/ports/job-runner.js';

/**
 * The JobRunner contract. Jobs run scripted test steps chosen by args (see test/support/fake-step.mjs):
 *   test-sleep --ms N | test-exit --code N | test-print --lines N | test-progress --total N --ms M | test-env --name V
 * A runner that cannot execute programs (the Kubernetes runner under a fake kubelet) interprets the same args.
 */
export interface JobRunnerHarness {
  runner: JobRunner;
  /** What the runner can report: step output lines and progress lines. */
  capabilities?: { logs?: boolean; env?: boolean };
  /** Remove a running job behind the runner's back (deleted from outside, process killed, machine restart). */
  vanish?: (name: string) => Promise<void>;
  cleanup?: () => Promise<void>;
}

function spec(args: string[], extra: Partial<JobSpec> = {}): JobSpec {
  const entityId = newId();
  const stage = 'test';
  return { name: jobName(entityId, stage, 1), entityId, stage, args, ...extra };
}

export function jobRunnerContract(
  name: string,
  make: () => Promise<JobRunnerHarness>,
  timeoutMs = 30_000,
): void {
  describe(name, { timeout: timeoutMs }, () => {
    const withHarness = (fn: (h: JobRunnerHarness) => Promise<void>) => async () => {
      const h = await make();
      try {
        await fn(h);
      } finally {
        await h.runner.close();
        await h.cleanup?.();
      }
    };

    it(
      'runs a step to success',
      withHarness(async ({ runner }) => {
        const s = spec(['test-sleep', '--ms', '50']);
        const started = await runner.start(s);
        expect(started.adopted).toBe(false);
        const done = await runner.wait(s.name);
        expect(done).toMatchObject({ phase: 'succeeded', outcome: 'succeeded' });
        expect((await runner.status(s.name))?.phase).toBe('succeeded');
      }),
    );

    it(
      'reports a failing step with its exit code',
      withHarness(async ({ runner }) => {
        const s = spec(['test-exit', '--code', '3']);
        await runner.start(s);
        const done = await runner.wait(s.name);
        expect(done.phase).toBe('failed');
        expect(done.exitCode).toBe(3);
        expect(done.outcome).toBe('failed');
        expect(done.reason).toMatch(/exit code 3/);
      }),
    );

    it(
      'types the ending from the exit code: 75 is a transient failure, above 128 a death by a signal',
      withHarness(async ({ runner }) => {
        const transient = spec(['test-exit', '--code', '75']);
        const killed = spec(['test-exit', '--code', '137']);
        await Promise.all([runner.start(transient), runner.start(killed)]);
        const [t, k] = await Promise.all([runner.wait(transient.name), runner.wait(killed.name)]);
        expect(t).toMatchObject({ phase: 'failed', exitCode: 75, outcome: 'transient' });
        expect(k).toMatchObject({ phase: 'failed', exitCode: 137, outcome: 'signal' });
      }),
    );

    it(
      'adopts a running job started under the same name instead of starting another',
      withHarness(async ({ runner }) => {
        const s = spec(['test-sleep', '--ms', '500']);
        const [a, b] = await Promise.all([runner.start(s), runner.start(s)]);
        expect([a.adopted, b.adopted].sort()).toEqual([false, true]);
        expect(await runner.list(s.entityId)).toHaveLength(1);
        expect((await runner.wait(s.name)).phase).toBe('succeeded');
      }),
    );

    it(
      'adopts a finished job: a second start does not run it again',
      withHarness(async ({ runner }) => {
        const s = spec(['test-exit', '--code', '4']);
        await runner.start(s);
        const first = await runner.wait(s.name);
        const again = await runner.start(s);
        expect(again.adopted).toBe(true);
        expect(again.status).toMatchObject({ phase: 'failed', outcome: 'failed' });
        expect(again.status.startTime).toBe(first.startTime);
        expect(await runner.list(s.entityId)).toHaveLength(1);
      }),
    );

    it(
      'cancel stops a running job, and wait resolves failed',
      withHarness(async ({ runner }) => {
        const s = spec(['test-sleep', '--ms', '60000']);
        await runner.start(s);
        const waiting = runner.wait(s.name);
        await runner.cancel(s.name);
        const done = await waiting;
        expect(done).toMatchObject({ phase: 'failed', outcome: 'cancelled' });
        const after = await runner.status(s.name);
        expect(after === undefined || after.phase === 'failed').toBe(true);
        await runner.cancel(s.name); // idempotent
      }),
    );

    it(
      'cancel and status of an unknown job are harmless',
      withHarness(async ({ runner }) => {
        const s = spec([]);
        await runner.cancel(s.name);
        expect(await runner.status(s.name)).toBeUndefined();
      }),
    );

    it(
      'wait stops waiting on abort without stopping the job',
      withHarness(async ({ runner }) => {
        const s = spec(['test-sleep', '--ms', '800']);
        await runner.start(s);
        const ac = new AbortController();
        const waiting = runner.wait(s.name, { signal: ac.signal });
        ac.abort();
        await expect(waiting).rejects.toThrow();
        expect((await runner.wait(s.name)).phase).toBe('succeeded');
      }),
    );

    it(
      'lists only the jobs of one entity',
      withHarness(async ({ runner }) => {
        const a = spec(['test-sleep', '--ms', '10']);
        const b = spec(['test-sleep', '--ms', '10']);
        await Promise.all([runner.start(a), runner.start(b)]);
        await Promise.all([runner.wait(a.name), runner.wait(b.name)]);
        const listed = await runner.list(a.entityId);
        expect(listed.map((j) => j.name)).toEqual([a.name]);
      }),
    );

    it(
      'a job that vanishes while waited on fails with a reason instead of hanging',
      withHarness(async ({ runner, vanish }) => {
        if (!vanish) return;
        const s = spec(['test-sleep', '--ms', '60000']);
        await runner.start(s);
        const waiting = runner.wait(s.name);
        await vanish(s.name);
        const done = await waiting;
        expect(done).toMatchObject({ phase: 'failed', outcome: 'lost' });
        expect(done.reason).toBeTruthy();
      }),
    );

    it(
      'reports output lines and progress',
      withHarness(async ({ runner, capabilities }) => {
        if (!capabilities?.logs) return;
        const p = spec(['test-progress', '--total', '3', '--ms', '150']);
        await runner.start(p);
        const seen: number[] = [];
        const done = await runner.wait(p.name, {
          onUpdate: (st) => st.progress?.done && seen.push(st.progress.done),
        });
        expect(done.progress).toMatchObject({ done: 3, total: 3 });
        expect(seen.length).toBeGreaterThan(0);
        const l = spec(['test-print', '--lines', '40']);
        await runner.start(l);
        const printed = await runner.wait(l.name);
        expect(printed.logTail?.at(-1)).toBe('line-40');
        expect(printed.logTail?.length).toBeLessThanOrEqual(20);
      }),
    );

    it(
      'passes the environment to the step',
      withHarness(async ({ runner, capabilities }) => {
        if (!capabilities?.env) return;
        const s = spec(['test-env', '--name', 'DYFF_CONTRACT_VALUE'], {
          env: { DYFF_CONTRACT_VALUE: 'forty-two' },
        });
        await runner.start(s);
        const done = await runner.wait(s.name);
        expect(done.logTail).toContain('DYFF_CONTRACT_VALUE=forty-two');
      }),
    );
  });
}
