import type { Entity } from '../domain/entity.js';
import type { EntityKind } from '../domain/kinds.js';
import type { Reason, Status } from '../domain/status.js';

export interface NewEntity {
  id: string;
  kind: EntityKind;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: unknown;
}

export interface TransitionRequest {
  id: string;
  /** Statuses the entity may be in for the transition to apply. */
  allowedFrom: readonly Status[];
  to: Status;
  reason?: Reason;
  message?: string;
  /** Merged into the entity's details in the same transaction. */
  details?: Record<string, unknown>;
}

export interface TransitionResult {
  /**
   * false when the entity was already in the target status (a retry): nothing was written. A transition to the
   * current status that `allowedFrom` lists rewrites the reason, message and details (a waiting entity saying why
   * it waits), and is `changed` when the reason or message differed. `decideTransition` (domain/status.ts) is the
   * rule every store follows.
   */
  changed: boolean;
  entity: Entity;
}

/** One recorded change of an entity's status (or, within a status, of its reason), oldest first. */
export interface TransitionRecord {
  id: string;
  /** Absent for the creation. */
  from?: Status;
  to: Status;
  reason?: Reason;
  message?: string;
  /** ISO-8601 with milliseconds, from the clock of the writer. */
  time: string;
}

export interface EntityQuery {
  kind?: EntityKind;
  account?: string;
  status?: Status;
  /** Every listed label must match exactly. */
  labels?: Record<string, string>;
  /** @default 100 */
  limit?: number;
}

/**
 * Entity state. Every write is transactional; `create` and `transition` are idempotent so that activity retries
 * are safe.
 *
 * Errors: DyffError `NotFound` for an unknown id, `InvalidTransition` when the entity is in neither `allowedFrom`
 * nor `to`, `AlreadyExists` when `create` meets an id holding a different kind.
 */
export interface EntityStore {
  /** Insert with status Created; if the id exists with the same kind, return the stored entity unchanged. */
  create(entity: NewEntity): Promise<Entity>;
  get(id: string): Promise<Entity | undefined>;
  transition(req: TransitionRequest): Promise<TransitionResult>;
  /** Every status change of the entity since its creation (the creation included), oldest first. */
  history(id: string): Promise<TransitionRecord[]>;
  /** Newest first (by creationTime). */
  list(query: EntityQuery): Promise<Entity[]>;
  close(): Promise<void>;
}
