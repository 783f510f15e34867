/**
 * The shape of a pipeline with nothing of this project in it: a parent that runs its stages as child workflows
 * one after another, each stage a sequence of activities that do nothing. What a run of this shape costs is the
 * floor Temporal sets on this machine; the benchmarks compare the project's own runs with it.
 */
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30s' });

export async function skeletonStage(activities: number): Promise<void> {
  for (let i = 0; i < activities; i++) await noop();
}

/** One child workflow per entry, running that many activities. */
export async function skeletonPipeline(stages: number[]): Promise<void> {
  for (const [i, activities] of stages.entries())
    await executeChild(skeletonStage, {
      args: [activities],
      workflowId: `${workflowInfo().workflowId}-${i}`,
    });
}
