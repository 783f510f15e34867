import { createHash } from 'node:crypto';
import type { Entity } from '../domain/entity.js';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { Category, EntityKind } from '../domain/kinds.js';
import type { EntityStore } from '../ports/entity-store.js';
import type { ObjectStore } from '../ports/object-store.js';

import { SCHEDULE_LABEL, SPEC_HASH_LABEL } from '../domain/labels.js';

/** A small JSON object of the store, parsed; undefined when there is none. */
export async function readJsonObject(
  objects: ObjectStore,
  ref: { category: Category; key: string },
): Promise<unknown> {
  try {
    return JSON.parse((await objects.getBuffer(ref.category, ref.key)).toString('utf8'));
  } catch (err) {
    if (err instanceof DyffError && err.type === ErrorType.NotFound) return undefined;
    throw err;
  }
}

/** Reads the workflows need: entity state, small JSON objects, reuse candidates and report history. */
export const createLookupActivities = (entities: EntityStore, objects: ObjectStore) => ({
  async getEntity(input: { id: string }): Promise<Entity | undefined> {
    return entities.get(input.id);
  },

  async readJson(input: { category: Category; key: string }): Promise<unknown> {
    return readJsonObject(objects, input);
  },

  /** The newest Ready entity of this kind and account made from an identical spec, if any. */
  async findReusable(input: {
    kind: EntityKind;
    account: string;
    specHash: string;
  }): Promise<string | undefined> {
    const found = await entities.list({
      kind: input.kind,
      account: input.account,
      status: 'Ready',
      labels: { [SPEC_HASH_LABEL]: input.specHash },
      limit: 1,
    });
    return found[0]?.id;
  },

  /** Headline metrics of earlier reports of the same schedule, oldest first, for the trend chart. */
  async reportHistory(input: {
    scheduleId: string;
    before: string;
  }): Promise<{ reportId: string; createdAt: string; metrics: Record<string, number> }[]> {
    const reports = await entities.list({
      kind: 'Report',
      status: 'Complete',
      labels: { [SCHEDULE_LABEL]: input.scheduleId },
      limit: 50,
    });
    return reports
      .filter((r) => r.id !== input.before && r.details?.metrics)
      .map((r) => ({
        reportId: r.id,
        createdAt: r.creationTime,
        metrics: r.details!.metrics as Record<string, number>,
      }))
      .reverse();
  },

  /** How many entities of a kind an account has admitted now: the quota's current use. */
  async countAdmitted(input: { kind: EntityKind; account: string }): Promise<number> {
    return (
      await entities.list({ kind: input.kind, account: input.account, status: 'Admitted', limit: 1000 })
    ).length;
  },
});

/** A stable hash of a normalised spec: key order does not matter, values do. */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
