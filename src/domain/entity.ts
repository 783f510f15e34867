import type { EntityKind } from './kinds.js';
import type { Reason, Status } from './status.js';

/** The stored state of an entity: what `dyffctl get` shows. */
export interface Entity {
  id: string;
  kind: EntityKind;
  account: string;
  name?: string;
  status: Status;
  reason?: Reason;
  message?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: unknown;
  /** Kind-specific results (e.g. a Dataset's artifacts and row count). */
  details?: Record<string, unknown>;
  creationTime: string;
  lastTransitionTime: string;
}

export interface Progress {
  stage: string;
  done?: number;
  total?: number;
  unit?: string;
  message?: string;
}
