import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entity } from '../../src/domain/entity.js';
import { newId } from '../../src/domain/ids.js';
import type { Status } from '../../src/domain/status.js';
import type { EntityStore, NewEntity } from '../../src/ports/entity-store.js';

/**
 * The behaviour every EntityStore adapter must show. `second` is an independent connection to the same backing
 * store, used to race transitions. Every test uses fresh ids and accounts, so one store can serve the whole suite.
 */
export function entityStoreContract(
  name: string,
  make: () => Promise<{ store: EntityStore; second?: EntityStore; cleanup?: () => Promise<void> }>,
): void {
  describe(name, () => {
    let store: EntityStore;
    let second: EntityStore;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const made = await make();
      ({ store, cleanup } = made);
      second = made.second ?? made.store;
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const draft = (over: Partial<NewEntity> = {}): NewEntity => ({
      id: newId(),
      kind: 'Dataset',
      account: `account-${newId()}`,
      spec: { source: 'rawdata-1', rows: [1, 2] },
      ...over,
    });
    /** An entity already moved to `to` through the normal path. */
    const createdIn = async (to: Status, over: Partial<NewEntity> = {}): Promise<Entity> => {
      const created = await store.create(draft(over));
      const id = created.id;
      if (to === 'Created') return created;
      const admitted = await store.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
      if (to === 'Admitted') return admitted.entity;
      return (await store.transition({ id, allowedFrom: ['Admitted'], to })).entity;
    };

    it('creates an entity in status Created with ISO-8601 millisecond timestamps', async () => {
      const input = draft({ name: 'spam', labels: { 'dyff.io/team': 'a' }, annotations: { note: 'n' } });
      const created = await store.create(input);
      expect(created).toMatchObject({ ...input, status: 'Created' });
      expect(created.reason).toBeUndefined();
      expect(created.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(created.creationTime) - Date.now())).toBeLessThan(60_000);
      expect(created.lastTransitionTime).toBe(created.creationTime);
      expect(await store.get(input.id)).toEqual(created);
      const bare = await store.create(draft({ labels: undefined, annotations: undefined }));
      expect(bare).toMatchObject({ labels: {}, annotations: {} });
    });

    it('creating the same id twice returns the stored entity without error', async () => {
      const first = await store.create(draft());
      const again = await store.create({
        ...draft({ id: first.id, account: first.account }),
        spec: { other: 1 },
      });
      expect(again).toEqual(first);
      expect(await store.get(first.id)).toEqual(first);
    });

    it('creating an id that holds another kind fails AlreadyExists', async () => {
      const first = await store.create(draft());
      await expect(store.create(draft({ id: first.id, kind: 'Model' }))).rejects.toMatchObject({
        type: 'AlreadyExists',
      });
      expect(await store.get(first.id)).toEqual(first);
    });

    it('get of an unknown id is undefined', async () => {
      expect(await store.get(newId())).toBeUndefined();
    });

    it('an allowed transition updates status, reason, message and lastTransitionTime', async () => {
      const created = await store.create(draft());
      await nextMillisecond();
      const admitted = await store.transition({
        id: created.id,
        allowedFrom: ['Created', 'Schedulable'],
        to: 'Admitted',
        reason: 'WaitingForDataSource',
        message: 'waiting for rawdata',
      });
      expect(admitted.changed).toBe(true);
      expect(admitted.entity).toMatchObject({
        status: 'Admitted',
        reason: 'WaitingForDataSource',
        message: 'waiting for rawdata',
        creationTime: created.creationTime,
      });
      expect(admitted.entity.lastTransitionTime > created.lastTransitionTime).toBe(true);
      expect(await store.get(created.id)).toEqual(admitted.entity);
      // A new status without a reason must not keep the reason of the old one.
      const ready = await store.transition({ id: created.id, allowedFrom: ['Admitted'], to: 'Ready' });
      expect(ready.entity.status).toBe('Ready');
      expect(ready.entity.reason).toBeUndefined();
      expect(ready.entity.message).toBeUndefined();
    });

    it('a transition to the current status changes and rewrites nothing', async () => {
      const admitted = await createdIn('Admitted');
      await nextMillisecond();
      const again = await store.transition({
        id: admitted.id,
        allowedFrom: ['Created'],
        to: 'Admitted',
        reason: 'Restarted',
        message: 'a retry',
        details: { retried: true },
      });
      expect(again).toEqual({ changed: false, entity: admitted });
      expect(await store.get(admitted.id)).toEqual(admitted);
    });

    it('a waiting entity restates its reason in the same status; a retry of that writes nothing', async () => {
      const created = await createdIn('Created');
      const req = { id: created.id, allowedFrom: ['Created'] as Status[], to: 'Created' as const };
      const waiting = await store.transition({ ...req, reason: 'QuotaLimit', message: 'waiting for a slot' });
      expect(waiting.changed).toBe(true);
      expect(waiting.entity).toMatchObject({
        status: 'Created',
        reason: 'QuotaLimit',
        message: 'waiting for a slot',
      });
      const retry = await store.transition({ ...req, reason: 'QuotaLimit', message: 'waiting for a slot' });
      expect(retry).toEqual({ changed: false, entity: waiting.entity });
      expect(await store.get(created.id)).toEqual(waiting.entity);
    });

    it('a restatement writes its details like any applied transition', async () => {
      const created = await createdIn('Created');
      const req = { id: created.id, allowedFrom: ['Created'] as Status[], to: 'Created' as const };
      const waiting = await store.transition({ ...req, reason: 'QuotaLimit', details: { slot: 1 } });
      expect(waiting).toMatchObject({
        changed: true,
        entity: { reason: 'QuotaLimit', details: { slot: 1 } },
      });
      expect((await store.get(created.id))?.details).toEqual({ slot: 1 });
    });

    it('keeps the history of every transition, the creation first, without the retries', async () => {
      const created = await createdIn('Created');
      const id = created.id;
      await store.transition({ id, allowedFrom: ['Created'], to: 'Created', reason: 'QuotaLimit' });
      await store.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
      await store.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
      await store.transition({
        id,
        allowedFrom: ['Admitted'],
        to: 'Failed',
        reason: 'Incomplete',
        message: 'm',
      });
      const history = await store.history(id);
      expect(history.map(({ time: _t, ...r }) => r)).toEqual([
        { id, to: 'Created' },
        { id, from: 'Created', to: 'Created', reason: 'QuotaLimit' },
        { id, from: 'Created', to: 'Admitted' },
        { id, from: 'Admitted', to: 'Failed', reason: 'Incomplete', message: 'm' },
      ]);
      expect(history[0]!.time).toBe(created.creationTime);
      const times = history.map((r) => r.time);
      expect([...times].sort()).toEqual(times);
      expect(history.at(-1)!.time).toBe((await store.get(id))!.lastTransitionTime);
      expect(await store.history(newId())).toEqual([]);
    });

    it('a transition from a status outside allowedFrom fails InvalidTransition and changes nothing', async () => {
      const created = await createdIn('Created');
      const attempt = store.transition({ id: created.id, allowedFrom: ['Admitted'], to: 'Ready' });
      await expect(attempt).rejects.toMatchObject({ type: 'InvalidTransition' });
      await expect(attempt).rejects.toThrow(
        new RegExp(`${created.id}.*Created.*Ready|${created.id}.*Ready.*Created`),
      );
      expect(await store.get(created.id)).toEqual(created);
    });

    it('a transition the status table forbids fails InvalidTransition even when allowedFrom lists it', async () => {
      const ready = await createdIn('Ready');
      await expect(
        store.transition({ id: ready.id, allowedFrom: ['Ready'], to: 'Admitted' }),
      ).rejects.toMatchObject({
        type: 'InvalidTransition',
      });
      expect(await store.get(ready.id)).toEqual(ready);
    });

    it('a transition of an unknown id fails NotFound', async () => {
      await expect(
        store.transition({ id: newId(), allowedFrom: ['Created'], to: 'Admitted' }),
      ).rejects.toMatchObject({
        type: 'NotFound',
      });
    });

    it('merges details shallowly across transitions', async () => {
      const { id } = await store.create(draft());
      await store.transition({
        id,
        allowedFrom: ['Created'],
        to: 'Admitted',
        details: { a: 1, b: { x: 1 } },
      });
      const ready = await store.transition({
        id,
        allowedFrom: ['Admitted'],
        to: 'Ready',
        details: { b: { y: 2 }, c: 3 },
      });
      expect(ready.entity.details).toEqual({ a: 1, b: { y: 2 }, c: 3 });
      const deleted = await store.transition({ id, allowedFrom: ['Ready'], to: 'Deleted' });
      expect(deleted.entity.details).toEqual({ a: 1, b: { y: 2 }, c: 3 });
    });

    it('lists by kind, account, status and labels (AND-ed), newest first, with a limit', async () => {
      const account = `account-${newId()}`;
      const team = `team-${newId()}`;
      const make = async (over: Partial<NewEntity>) => {
        const entity = await store.create(draft({ account, ...over }));
        await nextMillisecond();
        return entity.id;
      };
      const d1 = await make({ labels: { 'dyff.io/team': team, tier: 'gold' } });
      const d2 = await make({ labels: { 'dyff.io/team': team, tier: 'silver' } });
      const m = await make({ kind: 'Model', labels: { 'dyff.io/team': team } });
      const elsewhere = await make({
        account: `account-${newId()}`,
        labels: { 'dyff.io/team': team, tier: 'gold' },
      });
      await store.transition({ id: d1, allowedFrom: ['Created'], to: 'Admitted' });
      const ids = async (q: Parameters<EntityStore['list']>[0]) => (await store.list(q)).map((e) => e.id);
      expect(await ids({ account })).toEqual([m, d2, d1]);
      expect(await ids({ account, kind: 'Dataset' })).toEqual([d2, d1]);
      expect(await ids({ account, status: 'Admitted' })).toEqual([d1]);
      expect(await ids({ account, status: 'Created', kind: 'Dataset' })).toEqual([d2]);
      expect(await ids({ labels: { 'dyff.io/team': team } })).toEqual([elsewhere, m, d2, d1]);
      expect(await ids({ labels: { 'dyff.io/team': team, tier: 'gold' } })).toEqual([elsewhere, d1]);
      expect(await ids({ labels: { 'dyff.io/team': team, tier: 'bronze' } })).toEqual([]);
      expect(await ids({ account, limit: 2 })).toEqual([m, d2]);
    });

    it('returns at most 100 entities by default', async () => {
      const account = `account-${newId()}`;
      for (let i = 0; i < 101; i++) await store.create(draft({ account }));
      expect(await store.list({ account })).toHaveLength(100);
      expect(await store.list({ account, limit: 101 })).toHaveLength(101);
    });

    it('RACE: the same transition from two connections: one changes, the other is a no-op', async () => {
      for (let i = 0; i < 20; i++) {
        const { id } = await createdIn('Admitted');
        const request = { id, allowedFrom: ['Admitted'] as Status[], to: 'Ready' as const };
        const results = await Promise.all([store.transition(request), second.transition(request)]);
        expect(results.map((r) => r.changed).sort()).toEqual([false, true]);
        expect((await second.get(id))?.status).toBe('Ready');
      }
    });

    it('RACE: two different targets from two connections: one wins, the other fails InvalidTransition', async () => {
      for (let i = 0; i < 20; i++) {
        const { id } = await createdIn('Admitted');
        const results = await Promise.allSettled([
          store.transition({ id, allowedFrom: ['Admitted'], to: 'Ready' }),
          second.transition({ id, allowedFrom: ['Admitted'], to: 'Error', reason: 'IngestFailed' }),
        ]);
        const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        expect(won).toHaveLength(1);
        expect(won[0]?.changed).toBe(true);
        expect(lost).toEqual([expect.objectContaining({ type: 'InvalidTransition' })]);
        expect((await store.get(id))?.status).toBe(won[0]?.entity.status);
      }
    });
  });
}

/** Waits for the clock to move on, so that timestamps written before and after differ. */
async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() <= start) await new Promise((resolve) => setTimeout(resolve, 1));
}
