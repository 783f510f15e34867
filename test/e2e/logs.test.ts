import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntityStore, createObjectStore } from '../../src/adapters/index.js';
import type { Config } from '../../src/config.js';
import { legacyLogKey, logPrefix } from '../../src/domain/log-layout.js';
import { newId } from '../../src/domain/ids.js';
import type { EntityStore } from '../../src/ports/entity-store.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import type { Emulator } from '../support/gcp-emulators.js';
import { createTestBuckets, skipGcp, startFakeGcs } from '../support/gcp-emulators.js';
import { testConfig } from '../support/temporal.js';
import { cliEnv, run } from '../support/worker-process.js';

/** A data home with `dyffctl` pointed at it, on the filesystem store or on fake-gcs-server. */
interface Backend {
  env: NodeJS.ProcessEnv;
  config: Config;
  objects: ObjectStore;
  entities: EntityStore;
  stop(): Promise<void>;
}

async function filesystem(): Promise<Backend> {
  const { config, cleanup } = await testConfig();
  const entities = await createEntityStore(config);
  const stop = async () => {
    await entities.close();
    await cleanup();
  };
  return { env: cliEnv(config), config, objects: await createObjectStore(config), entities, stop };
}

async function gcs(): Promise<Backend> {
  const emulator: Emulator = await startFakeGcs();
  const base = await testConfig();
  // The file `dyffctl` reads (cliEnv's DYFF_CONFIG): the bucket names reach it from there.
  const configFile = join(base.config.dataHome, 'dyff.config.yaml');
  const buckets = await createTestBuckets(emulator.endpoint, 'dyfflogs', configFile);
  const config: Config = {
    ...base.config,
    objectStore: 'gcs',
    gcs: { ...base.config.gcs, apiEndpoint: emulator.endpoint, buckets },
  };
  const entities = await createEntityStore(config);
  const env = { ...cliEnv(config), DYFF_OBJECT_STORE: 'gcs', DYFF_GCS_ENDPOINT: emulator.endpoint };
  const stop = async () => {
    await entities.close();
    await emulator.stop();
    await base.cleanup();
  };
  return { env, config, objects: await createObjectStore(config), entities, stop };
}

describe.each([
  { name: 'filesystem', start: filesystem, skip: false },
  { name: 'fake-gcs-server', start: gcs, skip: skipGcp },
])('dyffctl logs on $name', ({ start, skip }) => {
  let b: Backend;
  beforeAll(async () => {
    if (!skip) b = await start();
  }, 120_000);
  afterAll(async () => {
    await b?.stop();
  });

  /** A Dataset entity whose fetch failed on try 1 (a missing file) and succeeded on try 2, as a job runner runs it. */
  async function twoTries(): Promise<string> {
    const id = newId();
    await b.entities.create({ id, kind: 'Dataset', account: 'logs', spec: {} });
    const csv = join(b.config.dataHome, `${id}.csv`);
    const fetch = (path: string, attempt: number) =>
      run(['step', 'fetch-data', '--id', id, '--spec', JSON.stringify({ source: { kind: 'local', path } })], {
        ...b.env,
        DYFF_JOB_NAME: `fetch-${id}-${attempt}`,
      });
    const first = await fetch(join(b.config.dataHome, 'missing.csv'), 1);
    expect(first.code, first.stderr).toBe(2);
    await writeFile(csv, 'a,b\n1,2\n');
    const second = await fetch(csv, 2);
    expect(second.code, second.stderr).toBe(0);
    await b.entities.transition({ id, allowedFrom: ['Created'], to: 'Error', reason: 'FetchFailed' });
    return id;
  }

  it.skipIf(skip)(
    'prints every try of the step in order, each under its header, from numbered chunks',
    async () => {
      const id = await twoTries();
      const keys = (await b.objects.list('datasets', logPrefix(id))).map((o) =>
        o.key.slice(logPrefix(id).length),
      );
      // Chunks numbered from 0 under each try (the first line goes out at once, the rest with later writes).
      expect(keys.length).toBeGreaterThanOrEqual(2);
      expect(keys.every((k) => /^fetch-data\/00[12]\/\d{9}\.txt$/.test(k))).toBe(true);
      expect(keys).toContain('fetch-data/001/000000000.txt');
      expect(keys).toContain('fetch-data/002/000000000.txt');

      const all = await run(['logs', id], b.env);
      expect(all.code, all.stderr).toBe(0);
      const lines = all.stdout.trimEnd().split('\n');
      const first = lines.indexOf('==> fetch-data, try 1 <==');
      const second = lines.indexOf('==> fetch-data, try 2 <==');
      expect(first).toBe(0);
      expect(second).toBeGreaterThan(first);
      expect(lines.slice(first, second).some((l) => /Z error: .*missing\.csv/.test(l))).toBe(true);
      expect(lines.slice(second).at(-1)).toMatch(new RegExp(`Z fetch-data ${id}: done$`));

      // Progress lines read as text; --raw prints them as the step wrote them.
      expect(lines).toContainEqual(expect.stringMatching(/Z progress 8\/8 bytes \(100%\) /));
      expect(all.stdout).not.toContain('::progress::');
      const raw = await run(['logs', id, '--raw'], b.env);
      expect(raw.stdout).toMatch(/Z ::progress::\{"done":8,"total":8,"unit":"bytes"/);

      const only = await run(['logs', id, '--try', '2'], b.env);
      expect(only.code, only.stderr).toBe(0);
      expect(only.stdout).toBe(lines.slice(second).join('\n') + '\n');
    },
    // Four dyffctl processes on a loaded machine.
    240_000,
  );

  it.skipIf(skip)('prints the single logs.txt of an entity written before chunked logs', async () => {
    const id = newId();
    await b.entities.create({ id, kind: 'Dataset', account: 'logs', spec: {} });
    await b.entities.transition({ id, allowedFrom: ['Created'], to: 'Error', reason: 'FetchFailed' });
    const old = '2025-01-01T00:00:00.000Z fetch-data: start\n2025-01-01T00:00:01.000Z error: gone\n';
    await b.objects.put('datasets', legacyLogKey(id), old);

    const printed = await run(['logs', id], b.env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(old);
  });

  it.skipIf(skip)('refuses a --try that is not a number, naming the option', async () => {
    const printed = await run(['logs', newId(), '--try', 'last'], b.env);
    expect(printed.code).toBe(2);
    expect(printed.stderr).toContain('--try');
  });
});
