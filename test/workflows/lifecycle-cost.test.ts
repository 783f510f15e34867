import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { quotaWorkflowId } from '../../src/workflows/quota-messages.js';
import { countRun, formatCounts } from '../../bench/lifecycle-counts.js';
import { executePipeline, scriptedPipelineSpec } from '../../bench/lifecycle-runs.js';
import { FIRST_TASK, runTimeline } from '../../bench/lifecycle-timeline.js';
import { startScriptedWorker, useOrchestrationEnv } from '../support/orchestration.js';
import { stepEffects } from '../support/step-effects.js';

const env = useOrchestrationEnv();

const spec = scriptedPipelineSpec();

/*
 * What one pipeline (five entity workflows under a parent, and its account's quota semaphore) costs the server,
 * read from the real histories. A change that adds a workflow task, an activity task or an event to every run
 * shows here; raise a budget only with the reason in the commit. Before the lean patch: 31 workflow tasks, 11
 * activity tasks, 42 upserts, 240 events (the skeleton of the same shape: see bench:lifecycle's counts phase).
 */
describe('the server work of one pipeline', () => {
  it('stays within its budget of workflow tasks, activity tasks and history events', async () => {
    const worker = await startScriptedWorker(env, () => ({
      outcome: 'succeed',
      effect: stepEffects(env.objects),
    }));
    try {
      // Started the way the client starts it: with its search attributes, which the run then need not write.
      const account = `cost-${newId().slice(0, 8)}`;
      const taskQueue = env.config.temporal.taskQueue;
      const workflowId = await executePipeline(env.client, taskQueue, spec, account);
      const counts = await countRun(env.client, workflowId, [quotaWorkflowId(account, taskQueue)]);
      console.log(formatCounts('', counts));
      expect(counts.workflows).toBe(7);
      expect(counts.children).toBe(5);
      expect(counts.workflowTasks).toBeLessThanOrEqual(28);
      expect(counts.activityTasks).toBeLessThanOrEqual(9);
      // The semaphore's check of its holders, cancelled when the slot is given back; no other timer.
      expect(counts.timers).toBeLessThanOrEqual(1);
      // Each an activation of the worker: 30 before COMPACT_BOOKKEEPING_PATCH, 18 before ENDING_WITH_WORK_PATCH (each
      // entity's ending now recorded by the activity that does its last work, the evaluation's service description
      // read and its quota slot asked for with its admission and given back by its last step, its session stopped
      // by the evaluate step's activity, the report's lineage read with its admission).
      expect(counts.localActivities).toBeLessThanOrEqual(6);
      // One patch marker per run, each with its change-version upsert (PATCH_BASELINE; before it, a marker and an
      // upsert per patch: 16 of each, 227 events). Every entity run writes its metadata only when it changes
      // (LEAN_METADATA_PATCH, no longer only the dataset's and the evaluation's: 38 upserts before).
      expect(counts.markers).toBeLessThanOrEqual(7);
      expect(counts.upserts).toBeLessThanOrEqual(32);
      expect(counts.events).toBeLessThanOrEqual(191);

      // bench:lifecycle's timeline of the same run puts each of its workflow tasks under one category: each
      // workflow's first, those that ran local activities, the others.
      const timeline = await runTimeline(env.client, workflowId);
      expect(timeline.workflows).toBe(6);
      expect(timeline.counts.get(FIRST_TASK)).toBe(6);
      const onWorker = [...timeline.counts].filter(([c]) => c.startsWith('workflow task on the worker'));
      const tasks = onWorker.reduce((sum, [, n]) => sum + n, 0);
      expect(tasks).toBe((await countRun(env.client, workflowId)).workflowTasks);
      expect(onWorker.some(([c]) => c.includes('local activit'))).toBe(true);
    } finally {
      await worker.stop();
    }
  });
});
