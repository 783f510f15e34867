import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readStepLogs } from '../../../src/activities/step-logs.js';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import type { Category } from '../../../src/domain/kinds.js';
import { logChunkKey, logPrefix } from '../../../src/domain/log-layout.js';
import { newId } from '../../../src/domain/ids.js';
import type { ObjectInfo, PutOptions } from '../../../src/ports/object-store.js';
import { createStepLog } from '../../../src/steps/context.js';
import { createChunkWriter } from '../../../src/steps/log-chunks.js';

/** The real filesystem store, recording each write (on the test's clock) and failing the next ones on request. */
class RecordingStore extends FilesystemObjectStore {
  readonly puts: { key: string; at: number; createOnly: boolean }[] = [];
  failures = 0;
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Resolves when no write is under way, so that the test's clock does not run on while the disk works. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  override async put(
    category: Category,
    key: string,
    body: Buffer | string | Readable,
    opts?: PutOptions,
  ): Promise<ObjectInfo> {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('503 Service Unavailable');
    }
    this.puts.push({ key, at: Date.now(), createOnly: opts?.ifNotExists === true });
    const written = super.put(category, key, body, opts);
    this.inFlight.add(written);
    void written.finally(() => this.inFlight.delete(written)).catch(() => {});
    return written;
  }
}

let root: string;
let store: RecordingStore;
const id = newId();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dyff-log-chunks-'));
  store = new RecordingStore({ root });
  // The test's clock: a second of logging passes without waiting for it. Store I/O stays real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(root, { recursive: true, force: true });
});

/** Lines as the store keeps them, timestamps dropped. */
async function stored(opts: { try?: number } = {}): Promise<string[]> {
  const { text } = await readStepLogs(store, 'datasets', id, opts);
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('==> '))
    .map((l) => l.replace(/^\S+Z /, ''));
}

const stepLog = (attempt = 1) =>
  createStepLog({
    objectStore: store,
    category: 'datasets',
    id,
    step: 'fetch-data',
    attempt,
    write: () => {},
  });

describe('step log chunks', () => {
  it('batches lines into chunks written at least a second apart, each object written once, create-only', async () => {
    const log = stepLog();
    const printed: string[] = [];
    for (let i = 0; i < 500; i++) {
      printed.push(`line ${i}`);
      log.info(`line ${i}`);
      await vi.advanceTimersByTimeAsync(10);
      await store.idle();
    }
    await log.close();

    expect(await stored()).toEqual(printed);
    const keys = store.puts.map((p) => p.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(store.puts.every((p) => p.createOnly)).toBe(true);
    // 5 s of lines: the first line at once, then one chunk a second, and the rest on close; not a write per line.
    expect(store.puts.length).toBe(6);
    // Writes released by the timer are a second apart on the test's clock; only the closing one may come sooner.
    const timed = store.puts.slice(0, -1);
    for (let i = 1; i < timed.length; i++)
      expect(timed[i]!.at - timed[i - 1]!.at).toBeGreaterThanOrEqual(1000);
    expect(keys).toEqual(keys.map((_, i) => logChunkKey(id, 'fetch-data', 1, i)));
  });

  it('leaves at most the last second unwritten: what was logged a second ago is in the store', async () => {
    const log = stepLog();
    for (let i = 0; i < 30; i++) log.info(`early ${i}`);
    // The first line goes out at once (with the lines that came with it); the flush waits for that write.
    await vi.advanceTimersByTimeAsync(0);
    await log.flush();
    const early = Array.from({ length: 30 }, (_, i) => `early ${i}`);
    expect(await stored()).toEqual(early);

    log.info('late');
    const before = store.puts.length;
    await vi.advanceTimersByTimeAsync(500);
    // Half a second on, the late line waits: a crash now would lose it, and only it.
    expect(store.puts.length).toBe(before);
    expect(await stored()).toEqual(early);
    await vi.advanceTimersByTimeAsync(600);
    // A second after the last write, the timer has written it without any flush.
    expect(store.puts.length).toBe(before + 1);
    await log.close();
    expect(store.puts.length).toBe(before + 1);
    expect(await stored()).toEqual([...early, 'late']);
  });

  it('keeps lines a failed write could not store and writes them with the next chunk', async () => {
    const warnings: string[] = [];
    const writer = createChunkWriter({
      objectStore: store,
      category: 'datasets',
      keyOf: (seq) => logChunkKey(id, 'fetch-data', 1, seq),
      warn: (m) => warnings.push(m),
    });
    store.failures = 1;
    writer.add('one\n');
    await writer.flush();
    expect(warnings[0]).toMatch(/could not write datasets\/.*000000000\.txt: 503/);
    writer.add('two\n');
    await writer.close();
    expect(await stored()).toEqual(['one', 'two']);
  });

  it('bounds chunk size: a large batch becomes several chunks, none over the bound, lines whole', async () => {
    const writer = createChunkWriter({
      objectStore: store,
      category: 'datasets',
      keyOf: (seq) => logChunkKey(id, 'fetch-data', 1, seq),
      maxChunkBytes: 1000,
    });
    const lines = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')} ${'x'.repeat(40)}\n`);
    for (const line of lines) writer.add(line);
    writer.add(`${'y'.repeat(5000)}\n`);
    await writer.close();
    const chunks = await store.list('datasets', logPrefix(id));
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    expect(chunks.every((c) => c.size <= 1000)).toBe(true);
    const text = (await readStepLogs(store, 'datasets', id)).text;
    expect(text).toContain(lines.join(''));
    expect(text).toMatch(/y+ … \(5001 bytes, cut\)\n$/);
  });

  it('a second run under the same name writes after the first, overwriting nothing', async () => {
    const first = stepLog(0);
    first.info('first run');
    await first.close();
    const second = stepLog(0);
    second.info('second run');
    second.info('second run, more');
    await second.close();
    expect(await stored({ try: 0 })).toEqual(['first run', 'second run', 'second run, more']);
    const keys = (await store.list('datasets', logPrefix(id))).map((o) => o.key.split('/').at(-1));
    expect(keys).toEqual(['000000000.txt', '001000000.txt']);
  });
});
