import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../domain/errors.js';
import type { WorkflowName } from '../domain/workflow-inputs.js';
import { workflowInputProblems } from '../domain/workflow-inputs.js';

/**
 * Fail the run at once, before it records anything, when its input is not what the workflow accepts: whoever
 * started it (dyffctl, DyffClient, a schedule, the plain Temporal CLI), nothing reaches the stores. A valid input
 * adds no command, so histories recorded before this check replay unchanged.
 */
export function requireValidInput(workflow: WorkflowName, input: unknown): void {
  const problems = workflowInputProblems(workflow, input);
  if (problems.length === 0) return;
  throw ApplicationFailure.create({
    type: ErrorType.InvalidSpec,
    nonRetryable: true,
    message: `${workflow}: invalid input: ${problems.slice(0, 10).join('; ')}`,
    details: [problems],
  });
}
