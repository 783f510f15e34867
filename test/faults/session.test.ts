import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/worker-process.js';
import { FULL, SESSION_FAULTS, inject } from './support/faults.js';
import type { Fault } from './support/faults.js';
import { Harness, SCENARIO_TIMEOUT_MS, recorded } from './support/harness.js';
import { PipelineSuite } from './support/pipeline.js';

/*
 * The session stage: faults while an evaluation's inference session (a model server under its supervisor) is
 * starting, and while the evaluate step sends it requests, including `kill -9` of the model server itself. The
 * session must be adopted or replaced on the same endpoint, and the evaluation complete with every output once.
 * `npm test` runs the new kind (the model server killed mid-evaluation); `npm run faults` every combination.
 */
const PHASES = ['session starting', 'session in use'] as const;
type Phase = (typeof PHASES)[number];

let h: Harness;
let suite: PipelineSuite;
beforeAll(async () => {
  h = await Harness.create();
  await h.startWorker();
  // Enough requests, one at a time per replication, that the evaluate step is still sending when the fault lands: its
  // first progress line with answers comes after ~1 s, and 12,000 items take ~3 s on a fast machine (at 400 per label
  // the step was done before that line on one, and the kill found no server).
  suite = await PipelineSuite.create(h, { perLabel: 2000, workersPerReplica: 1 });
}, 180_000);
afterAll(async () => {
  await h?.close();
});

const SCENARIOS: [Fault, Phase][] = FULL
  ? SESSION_FAULTS.flatMap((fault) => PHASES.map((phase) => [fault, phase] as [Fault, Phase]))
  : [['session-kill9', 'session in use']];

describe('faults at the session stage', { timeout: SCENARIO_TIMEOUT_MS }, () => {
  it.each(SCENARIOS)(
    '%s while the %s: Complete, outputs exactly once, nothing left running',
    async (fault, phase) => {
      await recorded(fault, phase, () => scenario(fault, phase));
    },
  );
});

async function scenario(fault: Fault, phase: Phase): Promise<number> {
  const sessionsBefore = new Set(await sessionNames());
  const run = await suite.start();
  const session = await until(
    'the evaluation session to start',
    async () => (await sessionNames()).find((n) => !sessionsBefore.has(n)),
    300_000,
  );
  await until(`session ${session} to have a process`, () => h.sessionPid(session), 30_000);
  let evaluateJob: string | undefined;
  if (phase === 'session in use') {
    evaluateJob = await h.jobStarted('evaluate', run.seen);
    await until(
      'the evaluate step to have answers from the session',
      async () => ((await h.jobProgress(evaluateJob!))?.done ?? 0) > 0,
      120_000,
    );
  }
  const started = Date.now();
  await inject(h, fault, fault === 'session-kill9' ? session : (evaluateJob ?? session));
  // The evaluate step's first try completes in every case: the session it sends to is adopted or replaced.
  await suite.finish(run, { job: evaluateJob, newTry: false });
  if (fault === 'session-kill9') {
    expect(await h.sessionRestarts(session)).toBe(1);
    if (evaluateJob) {
      // The kill landed while requests were going out: the client met the lost server and retried.
      const progress = (await h.jobProgress(evaluateJob)) as { retries?: Record<string, number> } | undefined;
      expect(progress?.retries?.connection ?? 0).toBeGreaterThan(0);
    }
  }
  return (Date.now() - started) / 1000;
}

async function sessionNames(): Promise<string[]> {
  return existsSync(h.sessionsRoot) ? readdir(h.sessionsRoot) : [];
}
