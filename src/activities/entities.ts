import type { Entity } from '../domain/entity.js';
import type { EntityStore, NewEntity, TransitionRequest } from '../ports/entity-store.js';
import { translated } from './errors.js';

export interface TransitionOutput {
  changed: boolean;
  status: Entity['status'];
}

/** State writes. Both are idempotent, so an activity retry after a lost response is harmless. */
export const createEntityActivities = (store: EntityStore) => ({
  async createEntity(input: NewEntity): Promise<Pick<Entity, 'id' | 'status'>> {
    const e = await translated(() => store.create(input));
    return { id: e.id, status: e.status };
  },

  async transition(input: TransitionRequest): Promise<TransitionOutput> {
    const r = await translated(() => store.transition(input));
    return { changed: r.changed, status: r.entity.status };
  },
});
