import type { Reason } from '../domain/status.js';
import type { WaitPolicy } from './dependency-wait.js';

/** What every entity workflow takes: the entity's id and manifest fields. */
export interface EntityInput<S> {
  id: string;
  /** How dependencies are polled; tests shorten it. Carried across continue-as-new. */
  waitPolicy?: WaitPolicy;
  account: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: S;
}

/** A stage failed in a way the user must fix: the entity ends in its failure status with this reason. */
export class StageFailure extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}
