import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { LocalProcessJobRunner } from '../../src/adapters/job-runner/local-process.js';
import { groupAlive } from '../../src/adapters/process-group.js';
import { until } from '../support/worker-process.js';
import { jobRunnerContract } from './job-runner.case.js';

const fakeStep = resolve(import.meta.dirname, '../support/fake-step.mjs');

async function harness() {
  const root = await mkdtemp(join(tmpdir(), 'dyff-jobs-'));
  const runner = new LocalProcessJobRunner({
    root,
    command: [process.execPath, fakeStep],
    startGraceMs: 2000,
  });
  return {
    root,
    runner,
    capabilities: { logs: true, env: true },
    // A process killed from outside (OOM killer, machine restart) leaves no exit record behind.
    vanish: async (name: string) => {
      const pid = Number(await readFile(join(root, name, 'pid'), 'utf8'));
      process.kill(-pid, 'SIGKILL');
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

jobRunnerContract('LocalProcessJobRunner', harness);

it('cancel leaves no process of the job behind', async () => {
  const h = await harness();
  const name = 'test-cancel-tree-1';
  await h.runner.start({ name, entityId: 'e', stage: 'test', args: ['test-sleep', '--ms', '60000'] });
  // The wrapper writes its pid file once it has spawned the step: wait for it, however loaded the machine.
  const pid = Number(
    await until('the job pid file', () => readFile(join(h.root, name, 'pid'), 'utf8').catch(() => undefined)),
  );
  await h.runner.cancel(name);
  // Nothing of the group runs (its wrapper may still be an unreaped zombie for a moment, which is not a process that runs).
  expect(groupAlive(pid)).toBe(false);
  expect((await h.runner.status(name))?.reason).toBe('cancelled');
  await h.cleanup();
});
