import { afterEach, describe, expect, it } from 'vitest';
import { createEntityActivities } from '../../src/activities/entities.js';
import { SqliteEntityStore } from '../../src/adapters/entity-store/sqlite.js';
import { newId } from '../../src/domain/ids.js';

/*
 * `admitEntity`, an entity workflow's first bookkeeping in one local activity, against the real SQLite store: it
 * records the entity, reads its dependencies, admits it only when they are all done, and can be run again (a
 * local activity is retried after a lost result) without harm.
 */
let store: SqliteEntityStore;
afterEach(async () => {
  await store?.close();
});

const entity = (id: string) => ({ id, kind: 'Model' as const, account: 'public', spec: { source: {} } });

describe('admitEntity', () => {
  it('creates and admits an entity without dependencies, and again is a no-op', async () => {
    store = new SqliteEntityStore({ path: ':memory:' });
    const { admitEntity } = createEntityActivities(store);
    const id = newId();
    expect(await admitEntity({ entity: entity(id), requires: [], admit: true })).toEqual({
      requires: [],
      admitted: true,
    });
    expect((await store.get(id))?.status).toBe('Admitted');
    expect((await admitEntity({ entity: entity(id), requires: [], admit: true })).admitted).toBe(true);
    expect((await store.get(id))?.status).toBe('Admitted');
  });

  it('returns each dependency as the store has it, null when missing, and admits only when all are done', async () => {
    store = new SqliteEntityStore({ path: ':memory:' });
    const { admitEntity, transition } = createEntityActivities(store);
    const [ready, making, id] = [newId(), newId(), newId()];
    await store.create(entity(ready));
    await transition({ id: ready, allowedFrom: ['Created'], to: 'Admitted' });
    await transition({ id: ready, allowedFrom: ['Admitted'], to: 'Ready' });
    await store.create(entity(making));
    const missing = newId();

    const first = await admitEntity({ entity: entity(id), requires: [ready, making, missing], admit: true });
    expect(first.admitted).toBe(false);
    expect(first.requires.map((e) => e?.status ?? null)).toEqual(['Ready', 'Created', null]);
    expect((await store.get(id))?.status).toBe('Created');

    const all = await admitEntity({ entity: entity(id), requires: [ready], admit: true });
    expect(all.admitted).toBe(true);
    expect((await store.get(id))?.status).toBe('Admitted');
  });

  it('with admit false, records the entity and reads its dependencies only', async () => {
    store = new SqliteEntityStore({ path: ':memory:' });
    const { admitEntity } = createEntityActivities(store);
    const id = newId();
    expect((await admitEntity({ entity: entity(id), requires: [], admit: false })).admitted).toBe(false);
    expect((await store.get(id))?.status).toBe('Created');
  });

  it("with lineage, reads a done evaluation's dataset, service and model; nothing while it is being made", async () => {
    store = new SqliteEntityStore({ path: ':memory:' });
    const { admitEntity, transition } = createEntityActivities(store);
    const [dataset, model, service, evaluation, report] = [newId(), newId(), newId(), newId(), newId()];
    const make = async (
      id: string,
      kind: 'Dataset' | 'Model' | 'InferenceService' | 'Evaluation',
      spec: object,
    ) => {
      await store.create({ id, kind, account: 'public', spec });
      await transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
    };
    await make(dataset, 'Dataset', {});
    await make(model, 'Model', {});
    await make(service, 'InferenceService', { model });
    await make(evaluation, 'Evaluation', { dataset, inferenceService: service });
    const asReport = { id: report, kind: 'Report' as const, account: 'public', spec: { evaluation } };

    const early = await admitEntity({ entity: asReport, requires: [evaluation], admit: true, lineage: true });
    expect(early.admitted).toBe(false);
    expect(early.lineage).toBeUndefined();

    await transition({ id: evaluation, allowedFrom: ['Admitted'], to: 'Complete' });
    const done = await admitEntity({ entity: asReport, requires: [evaluation], admit: true, lineage: true });
    expect(done.admitted).toBe(true);
    expect(done.lineage?.dataset?.id).toBe(dataset);
    expect(done.lineage?.inferenceService?.id).toBe(service);
    expect(done.lineage?.model?.id).toBe(model);
  });

  it("with quota, asks for the evaluation's slot in the same activity, and only once its dependencies are done", async () => {
    store = new SqliteEntityStore({ path: ':memory:' });
    const asked: unknown[] = [];
    const { admitEntity, transition } = createEntityActivities(store, async (request) => {
      asked.push(request);
    });
    const [dataset, id] = [newId(), newId()];
    await store.create(entity(dataset));
    await transition({ id: dataset, allowedFrom: ['Created'], to: 'Admitted' });
    const quota = { account: 'public', holder: `evaluation-${id}`, limit: 2 };
    const evaluation = { id, kind: 'Evaluation' as const, account: 'public', spec: {} };

    const early = await admitEntity({ entity: evaluation, requires: [dataset], admit: false, quota });
    expect(early.requested).toBeUndefined();
    expect(asked).toEqual([]);

    await transition({ id: dataset, allowedFrom: ['Admitted'], to: 'Ready' });
    const done = await admitEntity({ entity: evaluation, requires: [dataset], admit: false, quota });
    expect(done).toMatchObject({ admitted: false, requested: true });
    expect(asked).toEqual([quota]);
    // Admitted only once the slot is granted, by the workflow.
    expect((await store.get(id))?.status).toBe('Created');
  });
});
