import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Entity } from '../domain/entity.js';
import { DyffError, ErrorType } from '../domain/errors.js';
import { workflowIdFor } from '../domain/kinds.js';
import type { EntityStore } from '../ports/entity-store.js';
import type { JobRunner } from '../ports/job-runner.js';
import type { SessionRunner } from '../ports/session-runner.js';

export interface Reaped {
  id: string;
  /** How the entity's workflow ended: TERMINATED, TIMED_OUT, FAILED, … or NOT_FOUND. */
  workflowStatus: string;
  jobs: string[];
  sessions: string[];
}

const UNFINISHED = ['Created', 'Admitted'] as const;

/**
 * Orphans: entities still Created/Admitted whose workflow is closed (terminated, timed out, or failed without
 * updating the entity). Their jobs are cancelled and their sessions stopped before the entity ends Terminated, so
 * nothing of a run that is gone keeps running.
 */
export const createReaperActivities = (entities: EntityStore, jobs: JobRunner, sessions: SessionRunner) => {
  const reap = async (entity: Entity, workflowStatus: string): Promise<Reaped | undefined> => {
    // The run may have ended the entity itself between the listing and the description.
    const now = await entities.get(entity.id);
    if (!now || !(UNFINISHED as readonly string[]).includes(now.status)) return undefined;
    const running = (await jobs.list(entity.id)).filter(
      (j) => j.phase === 'running' || j.phase === 'pending',
    );
    for (const job of running) await jobs.cancel(job.name);
    const open = await sessions.list(entity.id);
    for (const session of open) await sessions.stop(session.name);
    const stopped = [...running.map((j) => `job ${j.name}`), ...open.map((s) => `session ${s.name}`)];
    try {
      await entities.transition({
        id: entity.id,
        allowedFrom: UNFINISHED,
        to: 'Terminated',
        reason: 'TerminateCommand',
        message:
          `the workflow was ${workflowStatus.toLowerCase().replaceAll('_', ' ')}; the reaper stopped its jobs` +
          (stopped.length ? ` (${stopped.join(', ')})` : ''),
      });
    } catch (err) {
      if (!(err instanceof DyffError && err.type === ErrorType.InvalidTransition)) throw err;
    }
    return {
      id: entity.id,
      workflowStatus,
      jobs: running.map((j) => j.name),
      sessions: open.map((s) => s.name),
    };
  };

  return {
    async reapOrphans(input: { limit?: number } = {}): Promise<{ reaped: Reaped[] }> {
      const ctx = Context.current();
      const reaped: Reaped[] = [];
      for (const status of UNFINISHED) {
        for (const entity of await entities.list({ status, limit: input.limit ?? 1000 })) {
          ctx.heartbeat({ entity: entity.id });
          const workflowStatus = await closedStatus(workflowIdFor(entity.kind, entity.id));
          const done = workflowStatus && (await reap(entity, workflowStatus));
          if (done) reaped.push(done);
        }
      }
      return { reaped };
    },
  };
};

/** The status of the entity's workflow when it is closed or gone; undefined while it runs. */
async function closedStatus(workflowId: string): Promise<string | undefined> {
  try {
    const d = await Context.current().client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? undefined : d.status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}
