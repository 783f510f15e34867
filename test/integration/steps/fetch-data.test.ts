import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readStepLogs } from '../../../src/activities/step-logs.js';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import { EXIT_TEMPFAIL } from '../../../src/domain/job-outcome.js';
import type { RawDataManifest } from '../../../src/steps/manifests.js';
import type { SourceServer } from './helpers/source-server.js';
import { closedPort, md5, sha256, startSourceServer } from './helpers/source-server.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';
import { TEST_SOURCES_ENV } from '../../support/test-sources.js';

let env: StepEnv;
let server: SourceServer;

beforeEach(async () => {
  env = await createStepEnv();
  server = await startSourceServer();
});
afterEach(async () => {
  await server.close();
  await env.cleanup();
});

const fetchData = (id: string, source: unknown, opts?: Parameters<StepEnv['run']>[3]) =>
  env.run('fetch-data', id, { source }, opts);
const manifestOf = async (id: string) =>
  JSON.parse((await env.store.getBuffer('rawdata', `${id}/manifest.json`)).toString()) as RawDataManifest;
const stored = (id: string, path: string) => env.store.getBuffer('rawdata', `${id}/files/${path}`);
const partialsOf = async (id: string) =>
  readdir(join(env.config.dataHome, 'work', 'fetch-data', id)).catch(() => [] as string[]);

describe('fetch-data from a URL', () => {
  it('stores the file, verifies its checksum, writes the manifest, and logs to the store', async () => {
    const content = 'a,b\n1,2\n';
    const url = server.serve('/data/table.csv', content);
    const id = newId();
    const run = await fetchData(id, { kind: 'url', url, checksum: { sha256: sha256(content) } });

    expect(run.code).toBe(0);
    expect((await stored(id, 'table.csv')).toString()).toBe(content);
    const manifest = await manifestOf(id);
    expect(manifest.files).toEqual([
      { path: 'table.csv', size: 8, md5: md5(content), sha256: sha256(content) },
    ]);
    expect(manifest.source).toMatchObject({ kind: 'url', url });
    expect(run.lines.filter((l) => l.startsWith('::progress::')).at(-1)).toContain('"done":8,"total":8');
    expect(await env.storedLog(id)).toContain(`fetch-data ${id}: done`);
  });

  it('resumes a cut download with a Range request, without fetching the kept bytes again', async () => {
    const content = randomBytes(256 * 1024);
    const url = server.serve('/big.bin', content);
    server.cutNext('/big.bin', 2, 64 * 1024);
    const id = newId();

    // Two attempts, both cut: the step gives up (exit 75, transient: worth a new try) and keeps what it received.
    const first = await fetchData(id, { kind: 'url', url }, { retry: { attempts: 2, baseDelayMs: 1 } });
    expect(first.code).toBe(EXIT_TEMPFAIL);
    expect(first.last).toMatch(/^error: big\.bin: .*connection lost/);
    expect(server.rangeHeaders('/big.bin')).toHaveLength(1); // the in-step retry already resumed
    expect(await env.store.stat('rawdata', `${id}/files/big.bin`)).toBeUndefined();
    expect(await env.store.stat('rawdata', `${id}/manifest.json`)).toBeUndefined();
    // The tail of a cut transfer can be lost in the client's buffers; what reached the disk is what counts.
    const kept = (await stat(join(env.config.dataHome, 'work', 'fetch-data', id, 'big.bin.partial'))).size;
    expect(kept).toBeGreaterThan(64 * 1024);

    server.resetCounters();
    const second = await fetchData(id, { kind: 'url', url, checksum: { md5: md5(content) } });
    expect(second.code).toBe(0);
    expect(server.rangeHeaders('/big.bin')).toEqual([`bytes=${kept}-`]);
    expect(second.lines).toContain(`resume big.bin from byte ${kept}`);
    expect(server.bytesSent('/big.bin')).toBe(content.length - kept);
    expect((await stored(id, 'big.bin')).equals(content)).toBe(true);
    expect(await partialsOf(id)).toEqual([]);
  });

  it('starts over when the server ignores Range', async () => {
    const content = randomBytes(64 * 1024);
    const url = server.serve('/x.bin', content);
    server.cutNext('/x.bin', 1, 1000);
    const id = newId();
    expect((await fetchData(id, { kind: 'url', url }, { retry: { attempts: 1, baseDelayMs: 1 } })).code).toBe(
      EXIT_TEMPFAIL,
    );

    server.ignoreRange = true;
    const run = await fetchData(id, { kind: 'url', url, checksum: { md5: md5(content) } });
    expect(run.code).toBe(0);
    expect(run.lines.some((l) => l.includes('ignored the Range request'))).toBe(true);
    expect((await stored(id, 'x.bin')).equals(content)).toBe(true);
  });

  it('retries 5xx answers with backoff, and exits 75 (transient: worth a new try) when they persist', async () => {
    const url = server.serve('/flaky.txt', 'hello');
    server.failNext('/flaky.txt', 2, 503);
    const id = newId();
    const ok = await fetchData(id, { kind: 'url', url }, { retry: { attempts: 3, baseDelayMs: 1 } });
    expect(ok.code).toBe(0);
    expect(server.requests('/flaky.txt')).toBe(3);
    expect(ok.lines.filter((l) => l.includes('HTTP 503')).length).toBe(2);

    server.failNext('/flaky.txt', 10, 500);
    const down = await fetchData(newId(), { kind: 'url', url }, { retry: { attempts: 3, baseDelayMs: 1 } });
    expect(down.code).toBe(EXIT_TEMPFAIL);
    expect(down.last).toMatch(/^error: flaky\.txt: .*HTTP 500.*gave up after 3 attempts/);
  });

  it('downloads nothing again on a rerun, even without a checksum in the spec', async () => {
    const url = server.serve('/plain.txt', 'plain');
    const id = newId();
    expect((await fetchData(id, { kind: 'url', url })).code).toBe(0);
    server.resetCounters();
    const rerun = await fetchData(id, { kind: 'url', url });
    expect(rerun.code).toBe(0);
    expect(rerun.lines).toContain('skip plain.txt (already complete)');
    expect(server.requests('/plain.txt')).toBe(0);
  });

  it('stops on abort with a clear last line and keeps the partial for a resume', async () => {
    const content = randomBytes(128 * 1024);
    const url = server.serve('/slow.bin', content);
    const stalled = server.stallNext('/slow.bin', 1000);
    const abort = new AbortController();
    const id = newId();
    let streaming!: () => void;
    const started = new Promise<void>((resolve) => (streaming = resolve));
    const onLine = (line: string) => line.startsWith('download slow.bin') && streaming();
    const running = fetchData(id, { kind: 'url', url }, { signal: abort.signal, onLine });
    await Promise.all([stalled, started]);
    abort.abort(new Error('stopped by SIGTERM'));
    const run = await running;
    expect(run.code).toBe(143);
    expect(run.last).toBe(`error: fetch-data ${id}: stopped by SIGTERM`);
    expect(await partialsOf(id)).toEqual(['slow.bin.partial']);
    expect((await env.storedLog(id)).trimEnd().split('\n').at(-1)).toMatch(/error: fetch-data .*SIGTERM$/);
  });
});

describe('fetch-data as a process', () => {
  it('stops cleanly on SIGTERM: exit 143, the reason as the last line, in stdout and in the stored log', async () => {
    const url = server.serve('/slow.bin', randomBytes(128 * 1024));
    const stalled = server.stallNext('/slow.bin', 1000);
    const id = newId();
    const cli = fileURLToPath(new URL('../../../bin/dyffctl.mjs', import.meta.url));
    const child = spawn(
      process.execPath,
      [cli, 'step', 'fetch-data', '--id', id, '--spec', JSON.stringify({ source: { kind: 'url', url } })],
      {
        env: {
          ...process.env,
          DYFF_DATA_HOME: env.config.dataHome,
          DYFF_CONFIG: join(env.root, 'none.yaml'),
          // As a job runner names the third try of the fetch stage: its log chunks go under try 3.
          DYFF_JOB_NAME: `fetch-${id}-3`,
          ...TEST_SOURCES_ENV,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    const exited = once(child, 'close');
    const downloading = new Promise<void>((resolve) =>
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('download slow.bin')) resolve();
      }),
    );
    await Promise.all([downloading, stalled]);
    child.kill('SIGTERM');
    const [code] = (await exited) as [number];

    expect(code).toBe(143);
    const last = `error: fetch-data ${id}: stopped by SIGTERM`;
    expect(lines.filter((l) => !l.startsWith('::progress::')).at(-1)).toBe(last);
    const store = new FilesystemObjectStore({ root: join(env.config.dataHome, 'objects') });
    const log = (await readStepLogs(store, 'datasets', id)).text.trimEnd();
    expect(log.split('\n')[0]).toBe('==> fetch-data, try 3 <==');
    expect(log.split('\n').at(-1)).toMatch(new RegExp(`Z ${last}$`));
  });
});

describe('fetch-data from Zenodo', () => {
  const files = [
    { key: 'train.jsonl', content: '{"a":1}\n' },
    { key: 'sub dir/test.jsonl', content: '{"a":2}\n' },
  ];

  it('downloads every file of the record, checked against its md5, and skips them all on a rerun', async () => {
    server.zenodoRecord('1234', files);
    const id = newId();
    const run = await fetchData(id, { kind: 'zenodo', record: '1234', server: server.url });
    expect(run.code).toBe(0);
    expect((await manifestOf(id)).files.map((f) => [f.path, f.md5])).toEqual([
      ['sub dir/test.jsonl', md5(files[1]!.content)],
      ['train.jsonl', md5(files[0]!.content)],
    ]);
    expect((await stored(id, 'sub dir/test.jsonl')).toString()).toBe(files[1]!.content);

    server.resetCounters();
    const rerun = await fetchData(id, { kind: 'zenodo', record: '1234', server: server.url });
    expect(rerun.code).toBe(0);
    expect(rerun.lines).toEqual(expect.arrayContaining(['skip train.jsonl (already complete)']));
    expect(server.requests('/api/records/1234/files/0/content')).toBe(0);
    expect(server.requests('/api/records/1234/files/1/content')).toBe(0);
  });
});

describe('fetch-data from a local directory', () => {
  it('copies the files matching include, recursively, under their relative paths', async () => {
    const dir = join(env.root, 'src');
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'a', 'one.txt'), '1');
    await writeFile(join(dir, 'a', 'b', 'two.txt'), '2');
    await writeFile(join(dir, 'a', 'b', 'skip.json'), '{}');
    const id = newId();
    const run = await fetchData(id, { kind: 'local', path: dir, include: '**/*.txt' });
    expect(run.code).toBe(0);
    expect((await manifestOf(id)).files.map((f) => f.path)).toEqual(['a/b/two.txt', 'a/one.txt']);

    // A file removed from the source is removed from the store on the next fetch.
    await writeFile(join(dir, 'a', 'one.txt'), 'changed');
    const rerun = await fetchData(id, { kind: 'local', path: dir, include: '**/two.txt' });
    expect(rerun.code).toBe(0);
    expect(rerun.lines).toContain('skip a/b/two.txt (already complete)');
    expect((await env.store.list('rawdata', `${id}/files/`)).map((o) => o.key)).toEqual([
      `${id}/files/a/b/two.txt`,
    ]);
  });
});

describe('fetch-data refuses bad input with exit code 2 and a line naming it', () => {
  it('an invalid spec field', async () => {
    const run = await fetchData(newId(), { kind: 'url', url: 'ftp://example.org/x' });
    expect(run.code).toBe(2);
    expect(run.last).toBe('error: invalid spec: spec.source.url: expected http(s) URL');
  });

  it('an unreachable host', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/data.csv`;
    const run = await fetchData(newId(), { kind: 'url', url });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: cannot reach ${url}: ECONNREFUSED`);
  });

  it('a 404', async () => {
    const run = await fetchData(newId(), { kind: 'url', url: `${server.url}/missing.csv` });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: ${server.url}/missing.csv: HTTP 404 Not Found`);
  });

  it('a checksum mismatch, deleting the bad download', async () => {
    const url = server.serve('/data.csv', 'a\n1\n');
    const id = newId();
    const run = await fetchData(id, { kind: 'url', url, checksum: { md5: md5('other') } });
    expect(run.code).toBe(2);
    expect(run.last).toBe(
      `error: data.csv: md5 checksum mismatch for ${url}: expected ${md5('other')}, got ${md5('a\n1\n')}`,
    );
    expect(await partialsOf(id)).toEqual([]);
    expect(await env.store.list('rawdata', `${id}/`)).toEqual([]);
  });

  it('an unknown Zenodo record', async () => {
    const run = await fetchData(newId(), { kind: 'zenodo', record: '999', server: server.url });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: zenodo record 999 not found at ${server.url}`);
  });

  it('path traversal in a Zenodo file name, before downloading anything', async () => {
    server.zenodoRecord('77', [
      { key: 'ok.txt', content: 'fine' },
      { key: '../evil.txt', content: 'gotcha' },
    ]);
    const run = await fetchData(newId(), { kind: 'zenodo', record: '77', server: server.url });
    expect(run.code).toBe(2);
    expect(run.last).toBe(
      `error: zenodo record 77: refusing file name "../evil.txt": contains '..' (path traversal?)`,
    );
    expect(server.requests('/api/records/77/files/0/content')).toBe(0);
  });

  it('a file larger than the limit, by Content-Length and by counting a stream without one', async () => {
    const url = server.serve('/big.txt', 'x'.repeat(1000));
    const byHeader = await fetchData(newId(), { kind: 'url', url, maxFileBytes: 100 });
    expect(byHeader.code).toBe(2);
    expect(byHeader.last).toBe(
      `error: big.txt: ${url} is 1000 bytes, more than the limit of 100 bytes (maxFileBytes)`,
    );

    server.noContentLength = true;
    const id = newId();
    const counted = await fetchData(id, { kind: 'url', url, maxFileBytes: 100 });
    expect(counted.code).toBe(2);
    expect(counted.last).toMatch(/^error: big\.txt: .* exceeded 100 bytes while downloading/);
    expect(await partialsOf(id)).toEqual([]);
  });

  it('a Zenodo file larger than the limit, before downloading it', async () => {
    server.zenodoRecord('5', [{ key: 'huge.bin', content: 'y'.repeat(500) }]);
    const run = await fetchData(newId(), {
      kind: 'zenodo',
      record: '5',
      server: server.url,
      maxFileBytes: 100,
    });
    expect(run.code).toBe(2);
    expect(run.last).toBe('error: huge.bin: 500 bytes is more than the limit of 100 bytes (maxFileBytes)');
    expect(server.requests('/api/records/5/files/0/content')).toBe(0);
  });

  it('an empty source directory', async () => {
    const dir = join(env.root, 'empty');
    await mkdir(dir);
    const run = await fetchData(newId(), { kind: 'local', path: dir });
    expect(run.code).toBe(2);
    expect(run.last).toBe(`error: spec.source.path: no files in ${dir}`);
  });
});
