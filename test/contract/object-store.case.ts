import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { ObjectStore } from '../../src/ports/object-store.js';

/**
 * The behaviour every ObjectStore adapter must show. Each test works under its own random prefix, so one store
 * (one bucket set, one directory) can be shared by the whole suite.
 */
export function objectStoreContract(
  name: string,
  make: () => Promise<{ store: ObjectStore; cleanup?: () => Promise<void> }>,
): void {
  describe(name, () => {
    let store: ObjectStore;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ store, cleanup } = await make());
    });
    afterAll(async () => {
      await cleanup?.();
    });
    const fresh = () => `contract-${newId()}/`;

    it('round-trips a Buffer, a string and a multi-MiB Readable', async () => {
      const p = fresh();
      const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
      const text = 'héllo, wörld ✓\n';
      const big = pattern(5 * MiB + 123);
      expect((await store.put('datasets', `${p}bytes`, bytes)).size).toBe(bytes.length);
      await store.put('datasets', `${p}text`, text);
      const info = await store.put('datasets', `${p}big`, Readable.from(chunksOf(big, 256 * 1024)));
      expect(info).toMatchObject({ key: `${p}big`, size: big.length });
      expect(await store.getBuffer('datasets', `${p}bytes`)).toEqual(bytes);
      expect((await store.getBuffer('datasets', `${p}text`)).toString('utf8')).toBe(text);
      expect((await readAll(await store.get('datasets', `${p}big`))).equals(big)).toBe(true);
    });

    it('reports the same md5 from put, stat and list, and it is the md5 of the content', async () => {
      const p = fresh();
      const content = pattern(3 * MiB);
      const put = await store.put('models', `${p}weights.bin`, content);
      expect(put.md5).toBe(createHash('md5').update(content).digest('hex'));
      expect((await store.stat('models', `${p}weights.bin`))?.md5).toBe(put.md5);
      expect((await store.list('models', p)).map((o) => o.md5)).toEqual([put.md5]);
      expect((await store.put('models', `${p}abc`, 'abc')).md5).toBe('900150983cd24fb0d6963f7d28e17f72');
    });

    it('putFile stores a local file, replacing what was there, and takes the file', async () => {
      const key = `${fresh()}part-00000.parquet`;
      await store.put('datasets', key, 'an earlier attempt');
      const dir = await mkdtemp(join(tmpdir(), 'dyff-put-file-'));
      try {
        const file = join(dir, 'shard.parquet');
        const content = pattern(3 * MiB + 7, 3);
        await writeFile(file, content);
        const info = await store.putFile('datasets', key, file);
        expect(info).toMatchObject({ key, size: content.length, md5: md5(content) });
        expect((await store.getBuffer('datasets', key)).equals(content)).toBe(true);
        expect((await store.stat('datasets', key))?.md5).toBe(md5(content));
        expect(await readdir(dir)).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('overwrites atomically: while the new object is half written, readers see the whole old one', async () => {
      const key = `${fresh()}data.parquet`;
      const old = pattern(2 * MiB, 1);
      const next = pattern(4 * MiB, 2);
      await store.put('datasets', key, old);
      const source = gatedSource(next.subarray(0, MiB), next.subarray(MiB));
      const writing = store.put('datasets', key, source.stream);
      await source.pulledTwice;
      expect((await store.getBuffer('datasets', key)).equals(old)).toBe(true);
      expect((await store.stat('datasets', key))?.size).toBe(old.length);
      source.open();
      const info = await writing;
      expect(info.md5).toBe(md5(next));
      expect((await store.getBuffer('datasets', key)).equals(next)).toBe(true);
      expect((await store.stat('datasets', key))?.md5).toBe(md5(next));
    });

    it('a streaming write that fails midway leaves nothing behind and the previous object intact', async () => {
      const p = fresh();
      await store.put('outputs', `${p}a`, 'previous');
      for (const key of [`${p}a`, `${p}b`]) {
        const source = gatedSource(pattern(MiB), pattern(MiB));
        const writing = store.put('outputs', key, source.stream);
        await source.pulledTwice;
        expect((await store.list('outputs', p)).map((o) => o.key)).toEqual([`${p}a`]);
        source.stream.destroy(new Error('source broke'));
        await expect(writing).rejects.toThrow();
      }
      expect((await store.getBuffer('outputs', `${p}a`)).toString()).toBe('previous');
      expect(await store.stat('outputs', `${p}b`)).toBeUndefined();
      expect(await store.list('outputs', p)).toEqual([expect.objectContaining({ key: `${p}a`, size: 8 })]);
    });

    it('ifNotExists creates once; a second create fails AlreadyExists and keeps the first content', async () => {
      const key = `${fresh()}manifest.json`;
      await store.put('datasets', key, 'first', { ifNotExists: true });
      await expect(store.put('datasets', key, 'second', { ifNotExists: true })).rejects.toMatchObject({
        type: 'AlreadyExists',
      });
      expect((await store.getBuffer('datasets', key)).toString()).toBe('first');
    });

    it('of two concurrent creates exactly one wins, the other gets AlreadyExists', async () => {
      const p = fresh();
      for (let i = 0; i < 10; i++) {
        const key = `${p}${i}`;
        const bodies = [pattern(256 * 1024, 1), pattern(256 * 1024, 2)];
        const results = await Promise.allSettled(
          bodies.map((body) =>
            store.put('reports', key, Readable.from(chunksOf(body, 16 * 1024)), { ifNotExists: true }),
          ),
        );
        const winners = results.flatMap((r, j) => (r.status === 'fulfilled' ? [j] : []));
        expect(winners).toHaveLength(1);
        const loser = results.find((r) => r.status === 'rejected');
        expect(loser?.reason).toMatchObject({ type: 'AlreadyExists' });
        expect(
          (await store.getBuffer('reports', key)).equals(bodies[winners[0] ?? -1] ?? Buffer.alloc(0)),
        ).toBe(true);
      }
    });

    it('get, getBuffer and sha256 of a missing key reject NotFound; stat returns undefined', async () => {
      const key = `${fresh()}missing`;
      await expect(store.get('rawdata', key)).rejects.toMatchObject({ type: 'NotFound' });
      await expect(store.getBuffer('rawdata', key)).rejects.toMatchObject({ type: 'NotFound' });
      await expect(store.sha256('rawdata', key)).rejects.toMatchObject({ type: 'NotFound' });
      expect(await store.stat('rawdata', key)).toBeUndefined();
    });

    it('lists recursively by prefix, sorted by key, without neighbouring prefixes', async () => {
      const base = fresh();
      const keys = [`${base}p/b/c`, `${base}p/a`, `${base}p/b/a`, `${base}p2/x`, `${base}pa`, `${base}p/bz`];
      for (const key of keys) await store.put('rawdata', key, key);
      const listed = async (prefix: string) => (await store.list('rawdata', prefix)).map((o) => o.key);
      expect(await listed(`${base}p/`)).toEqual([
        `${base}p/a`,
        `${base}p/b/a`,
        `${base}p/b/c`,
        `${base}p/bz`,
      ]);
      expect(await listed(`${base}p/b/`)).toEqual([`${base}p/b/a`, `${base}p/b/c`]);
      expect(await listed(`${base}p/b`)).toEqual([`${base}p/b/a`, `${base}p/b/c`, `${base}p/bz`]);
      expect(await listed(`${base}p`)).toEqual([...keys].sort());
      expect(await listed(`${base}nothing/`)).toEqual([]);
      const [first] = await store.list('rawdata', `${base}p/a`);
      expect(first).toMatchObject({ key: `${base}p/a`, size: `${base}p/a`.length, md5: md5(`${base}p/a`) });
    });

    it('deletes, and deleting a missing key is a no-op', async () => {
      const key = `${fresh()}gone`;
      await store.put('auditreports', key, 'x');
      await store.delete('auditreports', key);
      expect(await store.stat('auditreports', key)).toBeUndefined();
      await expect(store.getBuffer('auditreports', key)).rejects.toMatchObject({ type: 'NotFound' });
      await expect(store.delete('auditreports', key)).resolves.toBeUndefined();
    });

    it('append creates the object, then appends to it', async () => {
      const key = `${newId()}/.dyff/logs.txt`;
      await store.append('inferenceservices', key, 'line 1\n');
      await store.append('inferenceservices', key, Buffer.from('line 2\n'));
      expect((await store.getBuffer('inferenceservices', key)).toString()).toBe('line 1\nline 2\n');
      expect((await store.stat('inferenceservices', key))?.md5).toBe(md5('line 1\nline 2\n'));
    });

    it('computes sha256', async () => {
      const key = `${fresh()}abc`;
      await store.put('auditprocedures', key, 'abc');
      expect(await store.sha256('auditprocedures', key)).toBe(
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
    });

    it('refuses keys that are absolute or have empty, . or .. segments, naming the key', async () => {
      const p = fresh();
      for (const key of [
        '../x',
        `${p}../../x`,
        '/abs',
        `${p}a//b`,
        `${p}a/./b`,
        `${p}a/`,
        `${p}a\\b`,
        `${p}a\0b`,
        '',
      ]) {
        // Keys with control characters or backslashes may be escaped in the message; the rest appear verbatim.
        const printable = /^[\x20-\x5b\x5d-\x7e]*$/.test(key);
        const refused = { type: 'InvalidSpec', message: expect.stringContaining(printable ? key : '') };
        await expect(store.put('datasets', key, 'x')).rejects.toMatchObject(refused);
        await expect(store.getBuffer('datasets', key)).rejects.toMatchObject(refused);
        await expect(store.stat('datasets', key)).rejects.toMatchObject(refused);
      }
      expect(await store.list('datasets', p)).toEqual([]);
    });

    it('keeps categories apart', async () => {
      const key = `${fresh()}same`;
      await store.put('datasets', key, 'in datasets');
      await store.put('models', key, 'in models');
      expect((await store.getBuffer('datasets', key)).toString()).toBe('in datasets');
      expect((await store.getBuffer('models', key)).toString()).toBe('in models');
      expect(store.uri('datasets', key)).not.toBe(store.uri('models', key));
      expect(store.uri('datasets', key).endsWith(key)).toBe(true);
      await store.delete('datasets', key);
      expect((await store.list('models', key)).map((o) => o.md5)).toEqual([md5('in models')]);
    });
  });
}

const MiB = 1024 * 1024;

/** Deterministic, non-repeating-looking bytes, so that a misplaced chunk changes the content. */
function pattern(size: number, seed = 0): Buffer {
  const buf = Buffer.alloc(size);
  let x = 2463534242 + seed;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

function* chunksOf(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

/**
 * A source that hands out `first`, then holds the rest until `open()`. `pulledTwice` resolves once the store has
 * taken `first` and asks for more, i.e. while the write is provably in progress.
 */
function gatedSource(first: Buffer, rest: Buffer) {
  let pulls = 0;
  let signal = () => {};
  let open = () => {};
  const pulledTwice = new Promise<void>((resolve) => (signal = resolve));
  const gate = new Promise<void>((resolve) => (open = resolve));
  const stream = new Readable({
    highWaterMark: 1024,
    read() {
      pulls += 1;
      if (pulls === 1) this.push(first);
      if (pulls !== 2) return;
      signal();
      void gate.then(() => {
        this.push(rest);
        this.push(null);
      });
    },
  });
  return { stream, pulledTwice, open };
}
