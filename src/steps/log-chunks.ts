import { DyffError, ErrorType } from '../domain/errors.js';
import type { Category } from '../domain/kinds.js';
import type { ObjectStore } from '../ports/object-store.js';

/**
 * A log writer whose every write creates a new object (a chunk), so a create-only role can write it and no object
 * is written twice. Lines are batched: a write happens at most once per `intervalMs` while lines come in, and at
 * once on `flush` (exit, signal). A crash loses only the lines of the unflushed interval.
 */
export interface ChunkWriter {
  /** Queue one line (with its newline). */
  add(line: string): void;
  /** Write what is queued now, in one or more chunks. */
  flush(): Promise<void>;
  /** Flush and stop the timer; later lines are still written by an explicit `flush`. */
  close(): Promise<void>;
}

export interface ChunkWriterOptions {
  objectStore: ObjectStore;
  category: Category;
  /** The key of chunk number `seq` (keys must sort like their numbers). */
  keyOf(seq: number): string;
  /** @default 1000: GCS takes about one write per second per object, and the writer never needs more. */
  intervalMs?: number;
  /** A chunk holds at most this many bytes; a longer line is cut. @default 1 MiB */
  maxChunkBytes?: number;
  /** Lines held while the store is slow or down; the oldest go first past it. @default 16 MiB */
  maxQueuedBytes?: number;
  /** Where write failures are reported (never failing the step). @default stderr */
  warn?: (message: string) => void;
}

/** A rerun under the same name (a step run by hand twice) starts after the earlier run's chunks, a million on. */
export const SEQ_EPOCH = 1_000_000;

export function createChunkWriter(opts: ChunkWriterOptions): ChunkWriter {
  const interval = Math.max(1000, opts.intervalMs ?? 1000);
  const maxChunk = opts.maxChunkBytes ?? 1024 * 1024;
  const maxQueued = opts.maxQueuedBytes ?? 16 * 1024 * 1024;
  const warn = opts.warn ?? ((m: string) => void process.stderr.write(`warn: ${m}\n`));
  let queue: string[] = [];
  let queuedBytes = 0;
  let dropped = 0;
  let seq = 0;
  let lastWriteAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  const schedule = () => {
    if (timer || closed || queue.length === 0) return;
    timer = setTimeout(flush, Math.max(0, lastWriteAt + interval - Date.now()));
    // A pending write must not keep a finished step alive; `close` writes what is left.
    timer.unref();
  };

  const create = async (text: string) => {
    for (;;) {
      try {
        await opts.objectStore.put(opts.category, opts.keyOf(seq), text, {
          ifNotExists: true,
          contentType: 'text/plain; charset=utf-8',
        });
        seq += 1;
        return;
      } catch (err) {
        if (!(err instanceof DyffError && err.type === ErrorType.AlreadyExists)) throw err;
        seq = (Math.floor(seq / SEQ_EPOCH) + 1) * SEQ_EPOCH;
      }
    }
  };

  const writeQueued = async () => {
    if (dropped > 0) {
      queue.unshift(
        `${new Date().toISOString()} warn: ${dropped} log lines dropped: the store fell behind\n`,
      );
      dropped = 0;
    }
    const chunks = intoChunks(queue, maxChunk);
    queue = [];
    queuedBytes = 0;
    lastWriteAt = Date.now();
    for (let i = 0; i < chunks.length; i++) {
      try {
        await create(chunks[i]!);
      } catch (err) {
        // Keep the lines for the next write: losing a log line must not fail the step.
        warn(`could not write ${opts.category}/${opts.keyOf(seq)}: ${(err as Error).message}`);
        const rest = chunks.slice(i);
        queue.unshift(...rest);
        queuedBytes += rest.reduce((n, c) => n + Buffer.byteLength(c), 0);
        break;
      }
    }
    schedule();
  };

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    chain = chain.then(() => (queue.length || dropped ? writeQueued() : undefined));
    return chain;
  }

  return {
    add(line) {
      const text = cut(line, maxChunk);
      queue.push(text);
      queuedBytes += Buffer.byteLength(text);
      while (queuedBytes > maxQueued && queue.length > 1) {
        queuedBytes -= Buffer.byteLength(queue.shift()!);
        dropped += 1;
      }
      schedule();
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}

/** Lines joined into texts of at most `max` bytes, each line whole. */
function intoChunks(lines: string[], max: number): string[] {
  const chunks: string[] = [];
  let current = '';
  let bytes = 0;
  for (const line of lines) {
    const n = Buffer.byteLength(line);
    if (bytes > 0 && bytes + n > max) {
      chunks.push(current);
      current = '';
      bytes = 0;
    }
    current += line;
    bytes += n;
  }
  if (bytes > 0) chunks.push(current);
  return chunks;
}

function cut(line: string, max: number): string {
  const bytes = Buffer.from(line);
  if (bytes.length <= max) return line;
  const note = ` … (${bytes.length} bytes, cut)\n`;
  // A multi-byte character split at the cut becomes U+FFFD (3 bytes, kept free); the note says the line is cut.
  return bytes.subarray(0, max - Buffer.byteLength(note) - 3).toString('utf8') + note;
}
