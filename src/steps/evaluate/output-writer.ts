import type { DuckDBConnection } from '@duckdb/node-api';
import { quotedString } from '@duckdb/node-api';
import { createReadStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../../ports/object-store.js';
import type { StepLog } from '../context.js';
import type { JsonObject } from './json-path.js';
import type { OutputCheckpoint, SkippedItem, SkippedItems } from './layout.js';
import { checkpointKey, outputPartKey, skippedKey, toRanges } from './layout.js';

export interface OutputWriterOptions {
  store: ObjectStore;
  evaluationId: string;
  /** A connection of its own: the work query streams on another. */
  connection: DuckDBConnection;
  scratch: string;
  log: StepLog;
  /** The first part's sequence number (after the parts of earlier runs). */
  nextSeq: number;
  /** Items skipped by earlier runs, kept in skipped.json. */
  skipped: SkippedItem[];
  /** A batch is written once it holds this many outputs… */
  batchItems: number;
  /** …or once its first output is this old, so a slow evaluation still checkpoints. */
  batchMs: number;
}

/** Bytes of UTF-8 lines held in one buffer of a batch; a longer line gets a buffer of its own size. */
const LINE_CHUNK_BYTES = 256 * 1024;

/**
 * A batch's output lines as UTF-8 bytes outside V8's heap. Held as strings for the seconds until a part is cut,
 * they outlived V8's young-generation collections and were copied into the old generation, thousands a second.
 */
class Lines {
  private readonly full: Buffer[] = [];
  private current = Buffer.allocUnsafeSlow(LINE_CHUNK_BYTES);
  private used = 0;
  count = 0;

  push(line: string): void {
    // At most three bytes of UTF-8 per UTF-16 unit, and the newline.
    const room = line.length * 3 + 1;
    if (this.current.length - this.used < room) {
      if (this.used > 0) this.full.push(this.current.subarray(0, this.used));
      this.current = Buffer.allocUnsafeSlow(Math.max(LINE_CHUNK_BYTES, room));
      this.used = 0;
    }
    this.used += this.current.write(line, this.used);
    this.current[this.used++] = 0x0a;
    this.count++;
  }

  /** The newline-delimited text, every line ended by its newline. */
  bytes(): Buffer {
    return Buffer.concat([...this.full, this.current.subarray(0, this.used)]);
  }
}

interface Batch {
  lines: Lines;
  indexes: Map<string, number[]>;
}

const newBatch = (): Batch => ({ lines: new Lines(), indexes: new Map() });

/**
 * Collects outputs into batches and writes each as one Parquet part and then its checkpoint, one batch at a time
 * while requests go on. `waitForRoom` holds the client back when writing falls behind, so memory stays bounded.
 */
export class OutputWriter {
  private batch = newBatch();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: { err: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private skippedChanged = false;
  private seq: number;
  /** Outputs and parts written by this run. */
  written = 0;
  parts = 0;

  constructor(private readonly opts: OutputWriterOptions) {
    this.seq = opts.nextSeq;
  }

  get skipped(): readonly SkippedItem[] {
    return this.opts.skipped;
  }

  add(replication: string, index: number, responses: JsonObject[]): void {
    this.throwIfFailed();
    this.batch.lines.push(JSON.stringify({ _replication_: replication, _index_: index, responses }));
    let list = this.batch.indexes.get(replication);
    if (!list) this.batch.indexes.set(replication, (list = []));
    list.push(index);
    if (this.batch.lines.count >= this.opts.batchItems) this.cut();
    else this.timer ??= setTimeout(() => this.cut(), this.opts.batchMs).unref();
  }

  addSkipped(item: SkippedItem): void {
    this.opts.skipped.push(item);
    this.skippedChanged = true;
  }

  /**
   * Resolves when fewer than two batches wait to be written; returns nothing when there is room already, which
   * is the common case, checked before every request.
   */
  waitForRoom(): Promise<void> | undefined {
    this.throwIfFailed();
    return this.queued >= 2 ? this.roomFreed() : undefined;
  }

  private async roomFreed(): Promise<void> {
    while (this.queued >= 2 && !this.failure) await this.chain.catch(() => {});
    this.throwIfFailed();
  }

  /** Writes what is collected and waits for every write; called at the end, also after a failure or a stop. */
  async close(): Promise<void> {
    this.cut();
    if (this.skippedChanged) this.enqueue(() => this.writeSkipped());
    await this.chain.catch(() => {});
    this.throwIfFailed();
  }

  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    if (batch.lines.count === 0) return;
    this.batch = newBatch();
    const seq = this.seq++;
    this.enqueue(() => this.writeBatch(seq, batch));
  }

  private enqueue(write: () => Promise<void>): void {
    this.queued++;
    this.chain = this.chain
      .then(() => (this.failure ? undefined : write()))
      .catch((err: unknown) => void (this.failure ??= { err }))
      .finally(() => this.queued--);
  }

  private async writeBatch(seq: number, batch: Batch): Promise<void> {
    const { store, evaluationId: id, connection, scratch } = this.opts;
    const ndjson = join(scratch, `part-${seq}.jsonl`);
    const parquet = join(scratch, `part-${seq}.parquet`);
    await writeFile(ndjson, batch.lines.bytes());
    try {
      // Dates are not guessed from strings: a model's answer "2024-01-01" stays text.
      await connection.run(`COPY (
        SELECT _replication_::VARCHAR AS _replication_, _index_::BIGINT AS _index_, responses
        FROM read_json(${quotedString(ndjson)}, format = 'newline_delimited', sample_size = -1,
                       dateformat = '%%none', timestampformat = '%%none')
      ) TO ${quotedString(parquet)} (FORMAT parquet)`);
      const key = outputPartKey(id, seq);
      // Create-only: a second client writing the same evaluation fails instead of overwriting a part.
      const info = await store.put('outputs', key, createReadStream(parquet), { ifNotExists: true });
      const done = Object.fromEntries([...batch.indexes].map(([r, indexes]) => [r, toRanges(indexes)]));
      const checkpoint: OutputCheckpoint = {
        part: key.slice(id.length + 1),
        rows: batch.lines.count,
        md5: info.md5,
        done,
      };
      await store.put('outputs', checkpointKey(id, seq), JSON.stringify(checkpoint));
      this.written += batch.lines.count;
      this.parts++;
      this.opts.log.info(`wrote ${checkpoint.part} (${batch.lines.count} outputs)`);
      if (this.skippedChanged) await this.writeSkipped();
    } finally {
      await Promise.all([rm(ndjson, { force: true }), rm(parquet, { force: true })]);
    }
  }

  private async writeSkipped(): Promise<void> {
    this.skippedChanged = false;
    const doc: SkippedItems = { items: this.opts.skipped };
    await this.opts.store.put('outputs', skippedKey(this.opts.evaluationId), JSON.stringify(doc, null, 1));
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }
}
