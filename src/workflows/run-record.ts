import { setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { hasPatch } from './patch-baseline.js';
import type { EntityMemo } from '../domain/run-metadata.js';
import { DyffStatus } from '../domain/search-attributes.js';
import type { Reason, Status } from '../domain/status.js';
import type { StatusView } from './messages.js';
import { statusQuery } from './messages.js';
import { rememberState, showProgress } from './run-metadata.js';

/** Runs recorded before this patch kept a dependency wait out of their memo. */
const WAITING_MEMO_PATCH = 'waiting-for-a-dependency-is-remembered';

/**
 * What an entity's run shows of it, kept current as the entity changes: the status query's view, the run's current
 * details in the UI, its DyffStatus search attribute and (tagged runs) the entity and its state in the memo.
 */
export class RunRecord {
  readonly view: StatusView;
  /** The entity's memo, until it is written with the entity's first state (lean runs). */
  private pendingEntity?: EntityMemo;
  /** The status the run's DyffStatus search attribute holds. */
  private searchStatus = workflowInfo().typedSearchAttributes.get(DyffStatus) ?? 'Created';
  /** The entity's details as the store merges them, kept for the run's memo. */
  private details?: Record<string, unknown>;
  /** When the entity last changed status (as the run saw it). */
  private transitionedAt = new Date().toISOString();

  constructor(
    id: string,
    entity: EntityMemo,
    /** The run keeps its search attributes and memo (false for runs recorded before that). */
    private readonly tagged: boolean,
    /** The run writes metadata only when it changes: LEAN_METADATA_PATCH. */
    private readonly lean: boolean,
  ) {
    this.view = { id, status: 'Created' };
    setHandler(statusQuery, () => this.view);
    if (tagged) {
      // A lean run writes the entity with its first state: the same workflow task, unless it waits first.
      if (lean) this.pendingEntity = entity;
      else rememberState({ status: 'Created', lastTransitionTime: this.transitionedAt }, entity);
    }
    this.show();
  }

  /** The run's current details in the UI: status, stage, job and message. */
  show(): void {
    const v = this.view;
    showProgress(`**${v.status}**${v.reason ? ` (${v.reason})` : ''}`, [
      v.stage ? `stage \`${v.stage}\`${v.jobName ? ` · job \`${v.jobName}\`` : ''}` : undefined,
      v.message?.split('\n')[0],
    ]);
  }

  /** What a transition changes in the run (view, DyffStatus, memo), once the store has it. */
  transitioned(to: Status, reason?: Reason, message?: string, details?: Record<string, unknown>): void {
    Object.assign(this.view, { status: to, reason, message });
    // A lean run writes the status only when it changes (QuotaLimit keeps an entity Created).
    if (!this.lean || to !== this.searchStatus) upsertSearchAttributes([{ key: DyffStatus, value: to }]);
    this.searchStatus = to;
    if (this.tagged) {
      // Details merge across transitions, as in the entity store.
      if (details) this.details = { ...this.details, ...details };
      this.transitionedAt = new Date().toISOString();
      this.writeMemo();
    }
    this.show();
  }

  /** Before a wait that is not a dependency's: a lean run writes its entity to the memo if it has not yet. */
  rememberBeforeWaiting(): void {
    if (this.pendingEntity) this.writeMemo();
  }

  /**
   * While it waits for a dependency, the entity stays Created with reason UnsatisfiedDependency: shown in the run's
   * current details, and kept in its memo (for a client that reads Temporal only) since the patch.
   */
  showWaiting(): void {
    this.show();
    if (!this.tagged || !hasPatch(WAITING_MEMO_PATCH)) return;
    this.writeMemo();
  }

  /** The entity's state (and, the first time in a lean run, the entity) in the run's memo. */
  private writeMemo(): void {
    const { status, reason, message } = this.view;
    const entity = this.pendingEntity;
    this.pendingEntity = undefined;
    rememberState(
      { status, reason, message, details: this.details, lastTransitionTime: this.transitionedAt },
      entity,
    );
  }
}
