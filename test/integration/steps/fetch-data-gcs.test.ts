import { Storage } from '@google-cloud/storage';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RawDataManifest } from '../../../src/steps/manifests.js';
import type { Emulator } from '../../support/gcp-emulators.js';
import { skipGcp, startFakeGcs } from '../../support/gcp-emulators.js';
import { md5, sha256 } from './helpers/source-server.js';
import type { StepEnv } from './helpers/step-env.js';
import { createStepEnv, newId } from './helpers/step-env.js';

/**
 * fetch-data from `gs://` through the real step entry point, against fake-gcs-server as the worker's configured
 * GCS endpoint: one object, a prefix, and the errors a user must be able to act on.
 */
let gcs: Emulator;
let bucket: string;
const envs: StepEnv[] = [];

const big = randomBytes(300 * 1024);
const objects: Record<string, Buffer | string> = {
  'single/table.csv': 'a,b\n1,2\n',
  'mails/train.csv': 'text,label\nhello,ham\n',
  'mails/test/part-0.csv': 'text,label\nwin money,spam\n',
  'mails/test/big.bin': big,
  'mails/notes.txt': 'not data',
  'other/elsewhere.csv': 'x\n1\n',
};

beforeAll(async () => {
  if (skipGcp) return;
  gcs = await startFakeGcs();
  const admin = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'dyff-test' });
  bucket = `src-${newId().slice(0, 12)}`;
  await admin.createBucket(bucket);
  for (const [name, content] of Object.entries(objects)) await admin.bucket(bucket).file(name).save(content);
  // The folder placeholder a console leaves behind: not a file of the dataset.
  await admin.bucket(bucket).file('mails/').save('');
}, 120_000);
afterAll(async () => {
  await gcs?.stop();
});
afterEach(async () => {
  for (const env of envs.splice(0)) await env.cleanup();
});

async function stepEnv(allowLoopback = true): Promise<StepEnv> {
  const env = await createStepEnv({
    gcs: { apiEndpoint: gcs.endpoint, projectId: 'dyff-test' },
    ...(allowLoopback ? {} : { sources: { localRoots: [], allowPrivateNetworks: [] } }),
  });
  envs.push(env);
  return env;
}
const manifestOf = async (env: StepEnv, id: string) =>
  JSON.parse((await env.store.getBuffer('rawdata', `${id}/manifest.json`)).toString()) as RawDataManifest;
const entry = (path: string, content: Buffer | string) => ({
  path,
  size: Buffer.byteLength(content),
  md5: md5(content),
  sha256: sha256(content),
});

describe.skipIf(skipGcp)('fetch-data from gs://', () => {
  it('copies one object under its name, verified against the md5 GCS records, and skips it on a rerun', async () => {
    const env = await stepEnv();
    const id = newId();
    const source = { kind: 'gcs', uri: `gs://${bucket}/single/table.csv` };
    const run = await env.run('fetch-data', id, { source });
    expect(run.code, run.lines.join('\n')).toBe(0);
    expect((await env.store.getBuffer('rawdata', `${id}/files/table.csv`)).toString()).toBe('a,b\n1,2\n');
    const manifest = await manifestOf(env, id);
    expect(manifest.files).toEqual([entry('table.csv', objects['single/table.csv']!)]);
    expect(manifest.source).toEqual(source);

    const again = await env.run('fetch-data', id, { source });
    expect(again.code).toBe(0);
    expect(again.lines).toContain('skip table.csv (already complete)');
  });

  it('copies every object under a prefix with paths relative to it, filtered by include', async () => {
    const env = await stepEnv();
    const id = newId();
    const all = await env.run('fetch-data', id, { source: { kind: 'gcs', uri: `gs://${bucket}/mails/` } });
    expect(all.code, all.lines.join('\n')).toBe(0);
    expect((await manifestOf(env, id)).files).toEqual([
      entry('notes.txt', objects['mails/notes.txt']!),
      entry('test/big.bin', big),
      entry('test/part-0.csv', objects['mails/test/part-0.csv']!),
      entry('train.csv', objects['mails/train.csv']!),
    ]);
    expect((await env.store.getBuffer('rawdata', `${id}/files/test/big.bin`)).equals(big)).toBe(true);

    // The same dataset narrowed: files no longer in the source are removed.
    const source = { kind: 'gcs', uri: `gs://${bucket}/mails/`, include: '**/*.csv' };
    const csv = await env.run('fetch-data', id, { source });
    expect(csv.code, csv.lines.join('\n')).toBe(0);
    expect((await manifestOf(env, id)).files.map((f) => f.path)).toEqual(['test/part-0.csv', 'train.csv']);
    expect(await env.store.stat('rawdata', `${id}/files/notes.txt`)).toBeUndefined();
  });

  it('names the missing object, the missing bucket and the empty prefix (exit 2, no manifest)', async () => {
    const env = await stepEnv();
    const cases = [
      [
        `gs://${bucket}/single/nope.csv`,
        /^error: spec\.source\.uri: gs:\/\/\S+\/single\/nope\.csv: no such object/,
      ],
      [
        `gs://nope-${bucket}/table.csv`,
        new RegExp(`^error: spec\\.source\\.uri: .*: bucket nope-${bucket} not found`),
      ],
      [`gs://${bucket}/empty/`, /^error: spec\.source\.uri: no objects under gs:\/\/\S+\/empty\/$/],
    ] as const;
    for (const [uri, message] of cases) {
      const id = newId();
      const run = await env.run('fetch-data', id, { source: { kind: 'gcs', uri } });
      expect({ uri, code: run.code }).toEqual({ uri, code: 2 });
      expect(run.last).toMatch(message);
      expect(await env.store.stat('rawdata', `${id}/manifest.json`)).toBeUndefined();
    }
    const narrowed = await env.run('fetch-data', newId(), {
      source: { kind: 'gcs', uri: `gs://${bucket}/single/table.csv`, include: '*.csv' },
    });
    expect(narrowed.code).toBe(2);
    expect(narrowed.last).toMatch(/^error: spec\.source\.include: only for a prefix/);
    const bad = await env.run('fetch-data', newId(), { source: { kind: 'gcs', uri: 's3://b/x' } });
    expect(bad.code).toBe(2);
    expect(bad.last).toMatch(/spec\.source\.uri: expected gs:\/\/<bucket>\/<object>/);
  });

  it('stays inside the egress policy: an endpoint on loopback is refused where private networks are not allowed', async () => {
    const env = await stepEnv(false);
    const run = await env.run('fetch-data', newId(), {
      source: { kind: 'gcs', uri: `gs://${bucket}/single/table.csv` },
    });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/refusing to connect to 127\.0\.0\.1/);
  });
});
