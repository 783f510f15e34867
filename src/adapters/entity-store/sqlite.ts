import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entities (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  name TEXT,
  status TEXT NOT NULL,
  reason TEXT,
  message TEXT,
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  spec TEXT NOT NULL,
  details TEXT,
  creationTime TEXT NOT NULL,
  lastTransitionTime TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_kind_account_status ON entities (kind, account, status);
CREATE INDEX IF NOT EXISTS entities_account_status ON entities (account, status);
CREATE INDEX IF NOT EXISTS entities_creation ON entities (creationTime);
CREATE TABLE IF NOT EXISTS transitions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entityId TEXT NOT NULL,
  fromStatus TEXT,
  toStatus TEXT NOT NULL,
  reason TEXT,
  message TEXT,
  time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_entity ON transitions (entityId, seq);
`;

interface HistoryRow {
  entityId: string;
  fromStatus: string | null;
  toStatus: string;
  reason: string | null;
  message: string | null;
  time: string;
}

interface Row {
  id: string;
  kind: string;
  account: string;
  name: string | null;
  status: string;
  reason: string | null;
  message: string | null;
  labels: string;
  annotations: string;
  spec: string;
  details: string | null;
  creationTime: string;
  lastTransitionTime: string;
}

/** The embedded EntityStore: one SQLite file (WAL), shared safely by several connections and processes. */
export class SqliteEntityStore implements EntityStore {
  private readonly db: Database.Database;

  constructor(opts: { path: string }) {
    if (opts.path !== ':memory:') mkdirSync(path.dirname(path.resolve(opts.path)), { recursive: true });
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  async create(entity: NewEntity): Promise<Entity> {
    const now = new Date().toISOString();
    const insert = this.db.transaction((): Row => {
      const existing = this.row(entity.id);
      if (existing === undefined) {
        this.db
          .prepare(
            `INSERT INTO entities (id, kind, account, name, status, labels, annotations, spec, creationTime,
               lastTransitionTime)
             VALUES (?, ?, ?, ?, 'Created', ?, ?, ?, ?, ?)`,
          )
          .run(
            entity.id,
            entity.kind,
            entity.account,
            entity.name ?? null,
            JSON.stringify(entity.labels ?? {}),
            JSON.stringify(entity.annotations ?? {}),
            JSON.stringify(entity.spec ?? null),
            now,
            now,
          );
        this.record({ id: entity.id, to: 'Created', time: now });
        return this.mustRow(entity.id);
      }
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
      return existing;
    });
    return toEntity(insert.immediate());
  }

  async get(id: string): Promise<Entity | undefined> {
    const row = this.row(id);
    return row && toEntity(row);
  }

  async transition(req: TransitionRequest): Promise<TransitionResult> {
    // IMMEDIATE takes the write lock before reading, so two connections cannot both act on the same old status.
    const apply = this.db.transaction((): TransitionResult => {
      const row = this.row(req.id);
      if (row === undefined) throw new DyffError('NotFound', `no entity ${req.id}`, { id: req.id });
      const entity = toEntity(row);
      const decision = decideTransition(entity, req);
      if (decision.kind === 'noop') return { changed: false, entity };
      if (decision.kind === 'refuse') throw refusal(req.id, entity.status, req.to, decision);
      const details = req.details && JSON.stringify({ ...entity.details, ...req.details });
      const now = new Date().toISOString();
      this.db
        .prepare(
          `UPDATE entities SET status = ?, reason = ?, message = ?, details = COALESCE(?, details),
             lastTransitionTime = ? WHERE id = ?`,
        )
        .run(req.to, req.reason ?? null, req.message ?? null, details ?? null, now, req.id);
      const { reason, message } = req;
      this.record({ id: req.id, from: decision.from, to: req.to, reason, message, time: now });
      return { changed: true, entity: toEntity(this.mustRow(req.id)) };
    });
    return apply.immediate();
  }

  async history(id: string): Promise<TransitionRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM transitions WHERE entityId = ? ORDER BY seq')
      .all(id) as HistoryRow[];
    return rows.map((r) => {
      const rec: TransitionRecord = { id: r.entityId, to: r.toStatus as Status, time: r.time };
      if (r.fromStatus !== null) rec.from = r.fromStatus as Status;
      if (r.reason !== null) rec.reason = r.reason as Reason;
      if (r.message !== null) rec.message = r.message;
      return rec;
    });
  }

  async list(query: EntityQuery): Promise<Entity[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const column of ['kind', 'account', 'status'] as const) {
      const value = query[column];
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    // json_each rather than a json path: label keys like `dyff.io/team` would need quoting inside the path.
    for (const [key, value] of Object.entries(query.labels ?? {})) {
      where.push(`EXISTS (SELECT 1 FROM json_each(entities.labels) WHERE key = ? AND value = ?)`);
      params.push(key, value);
    }
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1)
      throw new DyffError('InvalidSpec', `invalid list limit ${limit}`);
    const sql = `SELECT * FROM entities ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY creationTime DESC, rowid DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, limit) as Row[];
    return rows.map(toEntity);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private record(r: TransitionRecord): void {
    this.db
      .prepare(
        'INSERT INTO transitions (entityId, fromStatus, toStatus, reason, message, time) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(r.id, r.from ?? null, r.to, r.reason ?? null, r.message ?? null, r.time);
  }

  private row(id: string): Row | undefined {
    return this.db.prepare('SELECT * FROM entities WHERE id = ?').get(id) as Row | undefined;
  }

  private mustRow(id: string): Row {
    const row = this.row(id);
    if (row === undefined) throw new Error(`entity ${id} vanished inside its own transaction`);
    return row;
  }
}

function toEntity(row: Row): Entity {
  const entity: Entity = {
    id: row.id,
    kind: row.kind as EntityKind,
    account: row.account,
    status: row.status as Status,
    labels: JSON.parse(row.labels) as Record<string, string>,
    annotations: JSON.parse(row.annotations) as Record<string, string>,
    spec: JSON.parse(row.spec) as unknown,
    creationTime: row.creationTime,
    lastTransitionTime: row.lastTransitionTime,
  };
  if (row.name !== null) entity.name = row.name;
  if (row.reason !== null) entity.reason = row.reason as Reason;
  if (row.message !== null) entity.message = row.message;
  if (row.details !== null) entity.details = parseDetails(row.details);
  return entity;
}

function parseDetails(json: string | null): Record<string, unknown> {
  return json === null ? {} : (JSON.parse(json) as Record<string, unknown>);
}
