import { quotedString } from '@duckdb/node-api';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import type { StepLog } from '../../../src/steps/context.js';
import { OutputWriter } from '../../../src/steps/evaluate/output-writer.js';
import type { Engine } from '../../../src/steps/ingest/duckdb.js';
import { openEngine } from '../../../src/steps/ingest/duckdb.js';

let dir: string;
let engine: Engine;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyff-output-writer-'));
  engine = await openEngine(join(dir, 'engine'));
});
afterEach(async () => {
  engine.close();
  await rm(dir, { recursive: true, force: true });
});

const silent: StepLog = {
  info() {},
  warn() {},
  error() {},
  progress() {},
  flush: async () => {},
  close: async () => {},
};

describe('evaluate: the output writer', () => {
  it('writes every answer to its part as the model gave it: multi-byte text and answers of several MiB', async () => {
    const store = new FilesystemObjectStore({ root: join(dir, 'store') });
    const writer = new OutputWriter({
      store,
      evaluationId: 'e1',
      connection: engine.connection,
      scratch: dir,
      log: silent,
      nextSeq: 1,
      skipped: [],
      batchItems: 1000,
      batchMs: 60_000,
    });
    const texts = [
      'plain',
      'Grüße, 日本語, emoji 🧪 and "quotes"\n\ttabs',
      'x'.repeat(300 * 1024),
      '🧪'.repeat(200 * 1024),
      'after the large ones: ü',
    ];
    texts.forEach((text, i) => writer.add('r0', i, [{ text, _response_index_: 0 }]));
    await writer.close();

    expect(writer.parts).toBe(1);
    const [part] = await store.list('outputs', 'e1/data/');
    const read = await engine.connection.runAndReadAll(
      `SELECT _index_, responses[1].text AS text FROM read_parquet(${quotedString(store.localPath('outputs', part!.key))}) ORDER BY _index_`,
    );
    expect(read.getRowObjectsJS()).toEqual(texts.map((text, i) => ({ _index_: BigInt(i), text })));
  });
});
