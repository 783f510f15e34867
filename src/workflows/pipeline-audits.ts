import { isCancellation } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { StageView } from '../domain/pipeline.js';
import { auditWorkflow } from './audit.js';
import type { PipelineRun } from './pipeline-run.js';
import { newEntityId } from './pipeline-run.js';
import { executeEntityChild } from './run-metadata.js';

/** Runs recorded before this patch ended at their report; only a spec that lists audits reaches it. */
export const PIPELINE_AUDITS_PATCH = 'pipeline-runs-its-audits-after-the-report';

/**
 * The audits a pipeline lists, after its report, one after another: each an Audit entity (a child run of its own
 * id) whose targets are the pipeline's service, evaluation and report. The first failure fails the pipeline and
 * leaves the audits after it Skipped.
 */
export async function runPipelineAudits(
  run: PipelineRun,
  targets: { inferenceService: string; evaluation: string; report: string },
): Promise<void> {
  const audits = run.input.spec.audits ?? [];
  if (audits.length === 0 || !hasPatch(PIPELINE_AUDITS_PATCH)) return;
  const views: StageView[] = audits.map(() => ({ status: 'Pending' }));
  run.view.audits = views;
  for (const [i, audit] of audits.entries()) {
    const id = newEntityId();
    views[i] = { id, status: 'Running' };
    run.show();
    try {
      await executeEntityChild(
        auditWorkflow,
        'Audit',
        { ...run.common(id), spec: { ...audit, ...targets } },
        run.context,
        run.tagged,
      );
      views[i]!.status = 'Done';
    } catch (err) {
      views[i]!.status = isCancellation(err) ? 'Terminated' : 'Failed';
      for (const later of views.slice(i + 1)) later.status = 'Skipped';
      throw err;
    } finally {
      run.show();
    }
  }
}
