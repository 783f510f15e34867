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
  /** false when the entity was already in the target status (a retry): nothing was written. */
  changed: boolean;
  entity: Entity;
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
  /** Newest first (by creationTime). */
  list(query: EntityQuery): Promise<Entity[]>;
  close(): Promise<void>;
}
