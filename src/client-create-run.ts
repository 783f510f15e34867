/**
 * Creating an entity from a manifest: its id (random, or derived from a request id), its references checked, and
 * its workflow started — once. With a request id, a retried or concurrent create finds the run already started
 * (running or finished) and returns that entity; the same request id with another spec is refused.
 */
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { specHash } from './activities/lookups.js';
import type { CreateRow } from './client-create.js';
import { CREATE_TABLE } from './client-create.js';
import { DyffError, ErrorType } from './domain/errors.js';
import { newId } from './domain/ids.js';
import type { Entity } from './domain/entity.js';
import type { EntityKind } from './domain/kinds.js';
import { workflowIdFor } from './domain/kinds.js';
import type { Manifest } from './domain/manifest.js';
import { requestId as requestIdSchema } from './domain/specs.js';
import { runStartMetadata } from './domain/run-metadata.js';
import { entityIdForRequest } from './request-id.js';
import { startWorkflow } from './workflows/definitions.js';

export interface CreateOptions {
  /** Relative local paths in the spec resolve against this directory (the manifest's). @default cwd */
  baseDir?: string;
  /** As `metadata.requestId` (dyffctl's `--request-id`); when the manifest has one too, the two must agree. */
  requestId?: string;
}

export interface CreateResult {
  id: string;
  workflowId: string;
  /** False when a create with the same request id had already made this entity. */
  created: boolean;
}

/** The run's memo key for the request that started it: compared by a later create with the same request id. */
export const REQUEST_MEMO = 'dyffRequest';
export interface RequestMemo {
  requestId: string;
  specHash: string;
}

export interface CreateDeps {
  temporal: Client;
  taskQueue: string;
  /** An existing entity (from the store, or its run), undefined when there is none. */
  find(id: string): Promise<Pick<Entity, 'kind' | 'spec'> | undefined>;
}

export function createRow(kind: EntityKind): CreateRow {
  const row = CREATE_TABLE[kind];
  if (!row) {
    const kinds = Object.keys(CREATE_TABLE).join(', ');
    throw new DyffError(
      ErrorType.InvalidSpec,
      `kind ${kind}: cannot be created by itself (these can: ${kinds})`,
    );
  }
  return row;
}

export function requestIdOf(manifest: Manifest, given: string | undefined): string | undefined {
  const own = manifest.metadata.requestId;
  const problem = given === undefined ? undefined : requestIdSchema.safeParse(given).error?.issues[0];
  if (problem) throw new DyffError(ErrorType.InvalidSpec, `request id: ${problem.message}`);
  if (given !== undefined && own !== undefined && given !== own) {
    throw new DyffError(
      ErrorType.InvalidSpec,
      `request id ${JSON.stringify(given)} differs from the manifest's metadata.requestId ${JSON.stringify(own)}`,
    );
  }
  return given ?? own;
}

export async function createEntity(
  deps: CreateDeps,
  manifest: Manifest,
  opts: CreateOptions = {},
): Promise<CreateResult> {
  const { kind } = manifest;
  const row = createRow(kind);
  const requestId = requestIdOf(manifest, opts.requestId);
  const id = requestId ? entityIdForRequest(manifest.account, kind, requestId) : newId();
  const workflowId = workflowIdFor(kind, id);
  const input = row.input(manifest, { id, baseDir: opts.baseDir ?? process.cwd() });
  await checkReferences(deps, row, input.spec);
  const run = { ...input, kind };
  const request: RequestMemo | undefined = requestId
    ? { requestId, specHash: specHash(input.spec) }
    : undefined;
  // Made long ago, its run may be gone from Temporal (retention) while the entity stays: found all the same.
  const earlier = request && (await deps.find(id));
  if (request && earlier?.spec !== undefined) {
    if (specHash(earlier.spec) !== request.specHash) throw differentSpec(request, workflowId);
    return { id, workflowId, created: false };
  }
  try {
    const metadata = runStartMetadata(run);
    await startWorkflow(deps.temporal, row.workflow, {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      ...metadata,
      // A request id names one run for good: not a second one after the first has finished either.
      ...(request
        ? { memo: { ...metadata.memo, [REQUEST_MEMO]: request }, workflowIdReusePolicy: 'REJECT_DUPLICATE' }
        : {}),
    });
    return { id, workflowId, created: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !request) throw err;
    await requireSameRequest(deps.temporal, workflowId, request);
    return { id, workflowId, created: false };
  }
}

/** Each entity the spec names exists and is of the kind the field wants; otherwise the error names the field. */
async function checkReferences(deps: CreateDeps, row: CreateRow, spec: unknown): Promise<void> {
  for (const ref of row.references(spec)) {
    const kind = (await deps.find(ref.id))?.kind;
    if (!kind) throw new DyffError(ErrorType.NotFound, `${ref.field}: no ${ref.kind} with id ${ref.id}`);
    if (kind !== ref.kind)
      throw new DyffError(
        ErrorType.InvalidSpec,
        `${ref.field}: ${ref.id} is of kind ${kind}, expected ${ref.kind}`,
      );
  }
}

/** The run already there was started by this request: same request id, same spec. */
async function requireSameRequest(temporal: Client, workflowId: string, request: RequestMemo): Promise<void> {
  const { memo } = await temporal.workflow.getHandle(workflowId).describe();
  const earlier = memo?.[REQUEST_MEMO] as RequestMemo | undefined;
  if (earlier?.specHash === request.specHash) return;
  throw earlier
    ? differentSpec(request, workflowId)
    : new DyffError(
        ErrorType.InvalidSpec,
        `request id ${JSON.stringify(request.requestId)}: ${workflowId} exists but was not created with it`,
      );
}

function differentSpec(request: RequestMemo, workflowId: string): DyffError {
  return new DyffError(
    ErrorType.InvalidSpec,
    `request id ${JSON.stringify(request.requestId)} was already used with a different spec (entity ${workflowId}); use a new request id for a new entity`,
  );
}
