import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemObjectStore } from '../../src/adapters/object-store/filesystem.js';
import { GrantEnforcingObjectStore } from '../../src/adapters/object-store/grant-enforcing.js';
import { anyEntity, scopeGrants } from '../../src/domain/grant-scope.js';
import { CATEGORIES } from '../../src/domain/kinds.js';
import { OWNS } from '../../src/domain/step-contract.js';
import { objectStoreContract } from './object-store.case.js';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const tempRoot = () => mkdtemp(path.join(tmpdir(), 'dyff-objects-'));

objectStoreContract('FilesystemObjectStore', async () => {
  const root = await tempRoot();
  return {
    store: new FilesystemObjectStore({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

// Within its grants the enforcing wrapper is the store it wraps: same contract.
objectStoreContract('GrantEnforcingObjectStore (every entity granted)', async () => {
  const root = await tempRoot();
  const grants = CATEGORIES.map((category) => ({ category, prefix: '<id>/', access: OWNS }));
  return {
    store: new GrantEnforcingObjectStore(new FilesystemObjectStore({ root }), {
      identity: 'contract',
      grants: scopeGrants(grants, anyEntity),
    }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FilesystemObjectStore on disk', () => {
  let root: string;
  let store: FilesystemObjectStore;
  beforeAll(async () => {
    root = await tempRoot();
    store = new FilesystemObjectStore({ root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('stores <root>/<category>/<key>, names it by a file URL and a local path', async () => {
    await store.put('reports', 'r1/report.json', '{}');
    const file = path.join(root, 'reports', 'r1', 'report.json');
    expect(store.localPath('reports', 'r1/report.json')).toBe(file);
    expect(fileURLToPath(store.uri('reports', 'r1/report.json'))).toBe(file);
    expect(await readFile(file, 'utf8')).toBe('{}');
  });

  it('putFile moves a file on its own filesystem into place (the same inode) and copies one from another', async () => {
    const local = path.join(root, 'scratch.parquet');
    await writeFile(local, 'shard bytes');
    const { ino } = await stat(local);
    const moved = await store.putFile('datasets', 'd1/data/part-00000.parquet', local);
    expect(moved).toMatchObject({ size: 11, md5: md5('shard bytes') });
    const target = path.join(root, 'datasets', 'd1', 'data', 'part-00000.parquet');
    expect((await stat(target)).ino).toBe(ino);
    await expect(stat(local)).rejects.toMatchObject({ code: 'ENOENT' });
    // /dev/shm is a tmpfs: rename(2) across it fails with EXDEV, and the store falls back to a copy.
    const elsewhere = await mkdtemp('/dev/shm/dyff-put-file-');
    try {
      const other = path.join(elsewhere, 'shard.parquet');
      await writeFile(other, 'other bytes');
      const copied = await store.putFile('datasets', 'd1/data/part-00001.parquet', other);
      expect(copied).toMatchObject({ size: 11, md5: md5('other bytes') });
      expect(await readFile(path.join(root, 'datasets', 'd1', 'data', 'part-00001.parquet'), 'utf8')).toBe(
        'other bytes',
      );
      expect(await readdir(elsewhere)).toEqual([]);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
    expect(await readdir(path.join(root, 'datasets', '.dyff-tmp'))).toEqual([]);
  });

  it('removes its temp file when a streaming write fails', async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(64 * 1024, 1);
        throw new Error('source broke');
      })(),
    );
    await expect(store.put('outputs', 'e1/data/part-0.parquet', failing)).rejects.toThrow('source broke');
    expect(await readdir(path.join(root, 'outputs', '.dyff-tmp'))).toEqual([]);
  });

  it('never lists a temp file, even while a write is in progress', async () => {
    await store.put('rawdata', 'd1/a.csv', 'a');
    const body = new PassThrough();
    const writing = store.put('rawdata', 'd1/b.csv', body);
    body.write(Buffer.alloc(64 * 1024, 1));
    const tmpDir = path.join(root, 'rawdata', '.dyff-tmp');
    while ((await readdir(tmpDir).catch(() => [])).length === 0) await new Promise(setImmediate);
    expect((await store.list('rawdata', '')).map((o) => o.key)).toEqual(['d1/a.csv']);
    body.end();
    await writing;
    expect((await store.list('rawdata', '')).map((o) => o.key)).toEqual(['d1/a.csv', 'd1/b.csv']);
  });

  it('stat sees a file rewritten in place by another process, even with the same size and mtime', async () => {
    const key = 'm1/config.json';
    const file = store.localPath('models', key);
    const longAgo = new Date(Date.now() - 3_600_000);
    await store.put('models', key, 'one');
    await utimes(file, longAgo, longAgo);
    expect((await store.stat('models', key))?.md5).toBe(md5('one'));
    await writeFile(file, 'two');
    await utimes(file, longAgo, longAgo);
    expect(await store.stat('models', key)).toMatchObject({ size: 3, md5: md5('two') });
  });

  it('refuses the reserved temp directory as a key', async () => {
    await expect(store.put('outputs', '.dyff-tmp/x', 'x')).rejects.toMatchObject({ type: 'InvalidSpec' });
    expect(() => store.localPath('outputs', '../../etc/passwd')).toThrow(/InvalidSpec|invalid object key/);
  });
});
