import type { Entity } from '../domain/entity.js';
import type { EntityStore, NewEntity, TransitionRequest } from '../ports/entity-store.js';
import { translated } from './errors.js';

export interface TransitionOutput {
  changed: boolean;
  status: Entity['status'];
}

export interface AdmitRequest {
  entity: NewEntity;
  /** Entities that must be Ready (or Complete) before this one is admitted, read after the create. */
  requires: string[];
  /** Move the entity from Created to Admitted when every one of `requires` is Ready or Complete. */
  admit: boolean;
  /**
   * A report's: `requires` is its evaluation, and once that is done, the entities it was made from are read too
   * (its dataset, its inference service and that service's model), for the report's lineage.
   */
  lineage?: boolean;
  /**
   * An evaluation's: once every one of `requires` is done, ask its account's semaphore for a slot (the answer comes
   * as a signal), so that its admission and the request are one local activity.
   */
  quota?: SlotRequest;
}

/** A request for a slot of an account's evaluation quota. */
export interface SlotRequest {
  account: string;
  holder: string;
  limit?: number;
}

/** A report's lineage: what its evaluation was made from (null for one that no longer exists). */
export interface Lineage {
  dataset: Entity | null;
  inferenceService: Entity | null;
  model: Entity | null;
}

export interface AdmitOutput {
  /** Each of `requires` as the store had it, in order; null for one that does not exist. */
  requires: (Entity | null)[];
  admitted: boolean;
  /** With `lineage`, when the evaluation was done. */
  lineage?: Lineage;
  /** With `quota`: the slot was asked for (every dependency was done). */
  requested?: boolean;
}

const isDone = (e: Entity | null) => e?.status === 'Ready' || e?.status === 'Complete';

/** State writes. Both are idempotent, so an activity retry after a lost response is harmless. */
export const createEntityActivities = (
  store: EntityStore,
  /** How `quota` asks for a slot (the quota activities' requestQuotaSlot). */
  requestSlot: (request: SlotRequest) => Promise<void> = () =>
    Promise.reject(new Error('this worker asks for no quota slots')),
) => {
  const read = async (id: string | undefined) =>
    id ? ((await translated(() => store.get(id))) ?? null) : null;
  async function readLineage(evaluation: Entity): Promise<Lineage> {
    const spec = evaluation.spec as { dataset?: string; inferenceService?: string };
    const [dataset, inferenceService] = await Promise.all([read(spec.dataset), read(spec.inferenceService)]);
    const model = await read((inferenceService?.spec as { model?: string } | undefined)?.model);
    return { dataset, inferenceService, model };
  }
  return {
    /**
     * An entity workflow's first bookkeeping in one local activity (one activation of the workflow instead of up to
     * four): record the entity, read what it depends on, and admit it when they are all done. Idempotent as its
     * parts are; the workflow judges the dependencies (missing, failed, still being made) from what it returns.
     */
    async admitEntity(input: AdmitRequest): Promise<AdmitOutput> {
      await translated(() => store.create(input.entity));
      const requires = await Promise.all(input.requires.map(read));
      const admitted = input.admit && requires.every(isDone);
      if (admitted)
        await translated(() =>
          store.transition({ id: input.entity.id, allowedFrom: ['Created'], to: 'Admitted' }),
        );
      const evaluation = requires[0];
      const lineage =
        input.lineage && evaluation && isDone(evaluation) ? await readLineage(evaluation) : undefined;
      const requested = input.quota !== undefined && requires.every(isDone);
      if (requested) await requestSlot(input.quota!);
      return { requires, admitted, ...(lineage ? { lineage } : {}), ...(requested ? { requested } : {}) };
    },

    async createEntity(input: NewEntity): Promise<Pick<Entity, 'id' | 'status'>> {
      const e = await translated(() => store.create(input));
      return { id: e.id, status: e.status };
    },

    async transition(input: TransitionRequest): Promise<TransitionOutput> {
      const r = await translated(() => store.transition(input));
      return { changed: r.changed, status: r.entity.status };
    },
  };
};
