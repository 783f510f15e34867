import type { DatastoreOptions } from '@google-cloud/datastore';
import { Datastore, PropertyFilter } from '@google-cloud/datastore';
import { createRequire } from 'node:module';
import type { Entity } from '../../domain/entity.js';
import { DyffError } from '../../domain/errors.js';
import type { EntityKind } from '../../domain/kinds.js';
import type { Reason, Status } from '../../domain/status.js';
import { decideTransition, refusal } from '../../domain/status.js';
import type {
  EntityQuery,
  EntityStore,
  NewEntity,
  TransitionRecord,
  TransitionRequest,
  TransitionResult,
} from '../../ports/entity-store.js';

/**
 * One Datastore kind holds every entity, with the entity kind as a property. `get(id)` knows no kind, and a list
 * without a kind filter spans kinds; Datastore cannot filter a kindless query on properties, so one kind per
 * entity kind would turn both into a lookup per kind.
 *
 * The account is an indexed property, not a namespace: `get(id)` has no account to pick a namespace with, and
 * operators list across accounts, which a query cannot do across namespaces. The optional namespace separates
 * whole installations (or test runs) instead.
 *
 * Every query the adapter issues is covered by `index.yaml` at the repository root.
 */
export const DATASTORE_KIND = 'Entity';
/** Each status change, a child of its entity (one entity group: written in the entity's transaction). */
export const HISTORY_KIND = 'Transition';

/** Properties that are filtered or sorted on; everything else is excluded from the indexes. */
const INDEXED = new Set(['kind', 'account', 'status', 'labelPairs', 'creationTime']);
const MAX_ATTEMPTS = 12;
/** gRPC ABORTED: a transaction lost a conflict (contention) and may simply be retried. */
const ABORTED = 10;

export interface DatastoreEntityStoreOptions {
  projectId: string;
  /** `host:port` of an emulator, or `http://host:port` for an emulator that is not on localhost. */
  apiEndpoint?: string;
  namespace?: string;
}

export class DatastoreEntityStore implements EntityStore {
  private readonly ds: Datastore;

  constructor(opts: DatastoreEntityStoreOptions) {
    this.ds = new Datastore({
      projectId: opts.projectId,
      ...(opts.apiEndpoint
        ? { apiEndpoint: opts.apiEndpoint, ...emulatorCredentials(opts.apiEndpoint) }
        : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    });
  }

  async create(entity: NewEntity): Promise<Entity> {
    const key = this.key(entity.id);
    return this.inTransaction<Entity>(async (tx) => {
      const [existing] = (await tx.get(key)) as [Stored | undefined];
      if (existing) {
        if (existing.kind !== entity.kind) {
          throw new DyffError(
            'AlreadyExists',
            `id ${entity.id} already holds a ${existing.kind}, not a ${entity.kind}`,
            {
              id: entity.id,
              kind: existing.kind,
            },
          );
        }
        return { result: fromStored(entity.id, existing) };
      }
      const now = new Date().toISOString();
      const created: Entity = {
        id: entity.id,
        kind: entity.kind,
        account: entity.account,
        status: 'Created',
        labels: entity.labels ?? {},
        annotations: entity.annotations ?? {},
        spec: entity.spec ?? null,
        creationTime: now,
        lastTransitionTime: now,
      };
      if (entity.name !== undefined) created.name = entity.name;
      tx.insert({ key, data: toStored(created, 1) });
      tx.insert(this.historyRow({ id: entity.id, to: 'Created', time: now }, 0));
      return { result: created, commit: true };
    });
  }

  async get(id: string): Promise<Entity | undefined> {
    const [stored] = (await this.ds.get(this.key(id))) as [Stored | undefined];
    return stored && fromStored(id, stored);
  }

  async transition(req: TransitionRequest): Promise<TransitionResult> {
    const key = this.key(req.id);
    return this.inTransaction<TransitionResult>(async (tx) => {
      const [stored] = (await tx.get(key)) as [Stored | undefined];
      if (!stored) throw new DyffError('NotFound', `no entity ${req.id}`, { id: req.id });
      const entity = fromStored(req.id, stored);
      const seq = stored.historyLength ?? 0;
      const decision = decideTransition(entity, req);
      if (decision.kind === 'noop') return { result: { changed: false, entity } };
      if (decision.kind === 'refuse') throw refusal(req.id, entity.status, req.to, decision);
      const now = new Date().toISOString();
      const next: Entity = { ...entity, status: req.to, lastTransitionTime: now };
      // A new status without a reason must not keep the reason (or message) of the old one.
      delete next.reason;
      delete next.message;
      if (req.reason !== undefined) next.reason = req.reason;
      if (req.message !== undefined) next.message = req.message;
      if (req.details) next.details = { ...entity.details, ...req.details };
      tx.update({ key, data: toStored(next, seq + 1) });
      const { reason, message } = req;
      const record = { id: req.id, from: decision.from, to: req.to, reason, message, time: now };
      tx.insert(this.historyRow(record, seq));
      return { result: { changed: true, entity: next }, commit: true };
    });
  }

  async history(id: string): Promise<TransitionRecord[]> {
    // An ancestor query is strongly consistent, and without filters or order it needs no composite index.
    const q = this.ds.createQuery(HISTORY_KIND).hasAncestor(this.key(id));
    const [rows] = (await this.ds.runQuery(q)) as [Array<{ seq: number }>, unknown];
    // Stored nulls stand for absent fields (Datastore has no undefined).
    const present = (r: object) => Object.fromEntries(Object.entries(r).filter(([, v]) => v != null));
    return rows.sort((a, b) => a.seq - b.seq).map(({ seq: _seq, ...r }) => present(r) as TransitionRecord);
  }

  async list(query: EntityQuery): Promise<Entity[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1)
      throw new DyffError('InvalidSpec', `invalid list limit ${limit}`);
    let q = this.ds.createQuery(DATASTORE_KIND);
    if (query.kind !== undefined) q = q.filter(new PropertyFilter('kind', '=', query.kind));
    if (query.account !== undefined) q = q.filter(new PropertyFilter('account', '=', query.account));
    if (query.status !== undefined) q = q.filter(new PropertyFilter('status', '=', query.status));
    // Each label is one equality filter on the array property: Datastore matches it against any element.
    for (const pair of labelPairs(query.labels ?? {}))
      q = q.filter(new PropertyFilter('labelPairs', '=', pair));
    q = q.order('creationTime', { descending: true }).limit(limit);
    const [rows] = (await this.ds.runQuery(q)) as [StoredWithKey[], unknown];
    return rows.map((row) => fromStored(keyName(row), row));
  }

  async close(): Promise<void> {
    // The client has no close of its own; its gRPC stubs hold the channels.
    const stubs = [...this.ds.clients_.values()] as unknown as Array<{ close?: () => Promise<void> }>;
    await Promise.all(stubs.map((stub) => stub.close?.()));
  }

  private historyRow(r: TransitionRecord, seq: number) {
    const data = { ...r, seq, from: r.from ?? null, reason: r.reason ?? null, message: r.message ?? null };
    return {
      key: this.ds.key([DATASTORE_KIND, r.id, HISTORY_KIND, `${seq}`]),
      data: Object.entries(data).map(([name, value]) => ({ name, value, excludeFromIndexes: true })),
    };
  }

  private key(id: string) {
    return this.ds.key([DATASTORE_KIND, id]);
  }

  /**
   * Runs `body` in a transaction (begin → read → check → write → commit) and retries the whole of it when the
   * commit loses a conflict, so a racing writer's result is re-read and re-checked rather than overwritten.
   */
  private async inTransaction<T>(
    body: (tx: ReturnType<Datastore['transaction']>) => Promise<{ result: T; commit?: boolean }>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tx = this.ds.transaction();
      try {
        await tx.run();
        const { result, commit } = await body(tx);
        if (commit) await tx.commit();
        else await tx.rollback();
        return result;
      } catch (err) {
        await tx.rollback().catch(() => {});
        if (!isContention(err) || attempt >= MAX_ATTEMPTS) throw err;
        // Jittered exponential backoff: two racers that retry in lockstep would conflict again.
        const base = Math.min(1000, 10 * 2 ** attempt);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
      }
    }
  }
}

/** What one entity looks like in Datastore. */
interface Stored {
  kind: EntityKind;
  account: string;
  name?: string | null;
  status: Status;
  reason?: string | null;
  message?: string | null;
  labelPairs?: string[];
  labels: string;
  annotations: string;
  spec: string;
  details?: string | null;
  creationTime: string;
  lastTransitionTime: string;
  /** How many transition records the entity has: the next one's sequence number. */
  historyLength?: number;
}
type StoredWithKey = Stored & { [key: symbol]: { name?: string } };

function toStored(
  e: Entity,
  historyLength: number,
): Array<{ name: string; value: unknown; excludeFromIndexes?: boolean }> {
  const data: Record<string, unknown> = {
    kind: e.kind,
    account: e.account,
    name: e.name ?? null,
    status: e.status,
    reason: e.reason ?? null,
    message: e.message ?? null,
    labelPairs: labelPairs(e.labels),
    // Spec, details and the maps are JSON strings: unindexed, so they may be large and hold any shape.
    labels: JSON.stringify(e.labels),
    annotations: JSON.stringify(e.annotations),
    spec: JSON.stringify(e.spec ?? null),
    details: e.details === undefined ? null : JSON.stringify(e.details),
    creationTime: e.creationTime,
    lastTransitionTime: e.lastTransitionTime,
    historyLength,
  };
  return Object.entries(data).map(([name, value]) =>
    INDEXED.has(name) ? { name, value } : { name, value, excludeFromIndexes: true },
  );
}

function fromStored(id: string, s: Stored): Entity {
  const entity: Entity = {
    id,
    kind: s.kind,
    account: s.account,
    status: s.status,
    labels: JSON.parse(s.labels) as Record<string, string>,
    annotations: JSON.parse(s.annotations) as Record<string, string>,
    spec: JSON.parse(s.spec) as unknown,
    creationTime: s.creationTime,
    lastTransitionTime: s.lastTransitionTime,
  };
  if (s.name != null) entity.name = s.name;
  if (s.reason != null) entity.reason = s.reason as Reason;
  if (s.message != null) entity.message = s.message;
  if (s.details != null) entity.details = JSON.parse(s.details) as Record<string, unknown>;
  return entity;
}

/** `k=v`: label keys cannot contain `=`, so the pair is unambiguous. */
function labelPairs(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function keyName(row: StoredWithKey): string {
  const name = (row[Datastore.KEY] as { name?: string } | undefined)?.name;
  if (name === undefined) throw new Error(`a ${DATASTORE_KIND} without a key name in Datastore`);
  return name;
}

function isContention(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === ABORTED || /too much contention|ABORTED/i.test(String((err as Error | undefined)?.message));
}

/**
 * The client only turns TLS off by itself for localhost endpoints or when DATASTORE_EMULATOR_HOST is set; an
 * `http://` endpoint (an emulator in another container) says the same. google-gax is resolved from the datastore
 * package, whose dependency it is, so the grpc it hands out is the one the client uses.
 */
function emulatorCredentials(endpoint: string): Pick<DatastoreOptions, 'sslCreds' | 'universeDomain'> {
  // Naming the universe keeps google-auth from probing the GCE metadata server (169.254.169.254) to find it.
  const universe = { universeDomain: 'googleapis.com' };
  if (!endpoint.startsWith('http://')) return universe;
  const fromDatastore = createRequire(createRequire(import.meta.url).resolve('@google-cloud/datastore'));
  const gax = fromDatastore('google-gax') as {
    grpc: { credentials: { createInsecure(): NonNullable<DatastoreOptions['sslCreds']> } };
  };
  return { ...universe, sslCreds: gax.grpc.credentials.createInsecure() };
}
