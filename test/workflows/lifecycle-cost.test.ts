import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { quotaWorkflowId } from '../../src/workflows/quota-messages.js';
import { workflowIdFor } from '../../src/domain/kinds.js';
import { PATCH_LEVEL, PATCH_LEVEL_MEMO, runStartMetadata } from '../../src/domain/run-metadata.js';
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
      // A task that timed out, or ran so long (a loaded machine) that the SDK went on in a new one, adds a workflow
      // task and its three events to the run without any change of ours: counted apart, and left out of the budget.
      const late = counts.lateWorkflowTasks;
      expect(counts.workflowTasks - late).toBeLessThanOrEqual(28);
      expect(counts.activityTasks).toBeLessThanOrEqual(9);
      // The semaphore's check of its holders, cancelled when the slot is given back; no other timer.
      expect(counts.timers).toBeLessThanOrEqual(1);
      // Each an activation of the worker: 30 before COMPACT_BOOKKEEPING_PATCH, 18 before ENDING_WITH_WORK_PATCH (each
      // entity's ending now recorded by the activity that does its last work, the evaluation's service description
      // read and its quota slot asked for with its admission and given back by its last step, its session stopped
      // by the evaluate step's activity, the report's lineage read with its admission).
      expect(counts.localActivities).toBeLessThanOrEqual(6);
      // No patch marker: every run starts at the client's patch level (PATCH_LEVEL_MEMO), which stands for the
      // patches. Before it, one marker per run with its change-version upsert (7 of each, 191 events); before
      // PATCH_BASELINE, a marker and an upsert per patch (16 of each, 227 events). Every run writes its metadata
      // only when it changes (LEAN_METADATA_PATCH; 38 upserts before it), the pipeline too since the level.
      expect(counts.markers).toBe(0);
      expect(counts.upserts).toBeLessThanOrEqual(24);
      expect(counts.events - 3 * late).toBeLessThanOrEqual(176);

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

  it('a run started at the patch level asks for no patch; one started without it (an earlier client) asks by marker', async () => {
    const worker = await startScriptedWorker(env, () => ({
      outcome: 'succeed',
      effect: stepEffects(env.objects),
    }));
    const model = async (memo: 'level' | 'none') => {
      const id = newId();
      const workflowId = workflowIdFor('Model', id);
      const input = {
        id,
        account: 'cost',
        spec: { source: { kind: 'urls', urls: ['https://example.invalid/m'] } },
      };
      const { memo: level, ...metadata } = runStartMetadata({ ...input, kind: 'Model' });
      expect(level).toEqual({ [PATCH_LEVEL_MEMO]: PATCH_LEVEL });
      await env.client.workflow.execute('modelWorkflow', {
        workflowId,
        taskQueue: env.config.temporal.taskQueue,
        args: [input],
        ...metadata,
        ...(memo === 'level' ? { memo: level } : {}),
      });
      expect((await env.entities.get(id))?.status).toBe('Ready');
      return countRun(env.client, workflowId);
    };
    try {
      const atLevel = await model('level');
      const without = await model('none');
      console.log(formatCounts('level_', atLevel), formatCounts('none_', without));
      expect(atLevel.markers).toBe(0);
      expect(without.markers).toBe(1);
      // The marker and its TemporalChangeVersion upsert; the rest of the run is the same.
      expect(without.events - atLevel.events).toBe(2);
      expect(without.upserts - atLevel.upserts).toBe(1);
      expect({ ...without, events: 0, markers: 0, upserts: 0 }).toEqual({
        ...atLevel,
        events: 0,
        markers: 0,
        upserts: 0,
      });
    } finally {
      await worker.stop();
    }
  });

  it('counts apart the workflow task a slow local activity adds: the SDK goes on in a new task past 75 % of the timeout', async () => {
    // A model run twice on the same worker: once as is, once with a workflow task timeout of 5 s and an entity
    // store whose create takes 5.5 s, so that the admission's local activity outlives the SDK's 4 s.
    let delayMs = 0;
    const slow: typeof env.entities = Object.create(env.entities, {
      create: {
        value: async (e: Parameters<typeof env.entities.create>[0]) => {
          await new Promise((r) => setTimeout(r, delayMs));
          return env.entities.create(e);
        },
      },
    });
    const worker = await startScriptedWorker({ ...env, entities: slow }, () => ({
      outcome: 'succeed',
      effect: stepEffects(env.objects),
    }));
    const model = async (workflowTaskTimeout?: string) => {
      const id = newId();
      const workflowId = workflowIdFor('Model', id);
      await env.client.workflow.execute('modelWorkflow', {
        workflowId,
        taskQueue: env.config.temporal.taskQueue,
        args: [
          { id, account: 'cost', spec: { source: { kind: 'urls', urls: ['https://example.invalid/m'] } } },
        ],
        ...(workflowTaskTimeout ? { workflowTaskTimeout } : {}),
      });
      return countRun(env.client, workflowId);
    };
    try {
      const fast = await model();
      delayMs = 5500;
      const slowed = await model('5s');
      console.log(formatCounts('fast_', fast), formatCounts('slowed_', slowed));
      expect(fast.lateWorkflowTasks).toBe(0);
      expect(slowed.lateWorkflowTasks).toBe(1);
      expect(slowed.workflowTasks).toBe(fast.workflowTasks + 1);
      expect(slowed.events).toBe(fast.events + 3);
    } finally {
      await worker.stop();
    }
  });
});
