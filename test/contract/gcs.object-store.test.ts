import { Storage } from '@google-cloud/storage';
import { afterAll, describe, expect, it } from 'vitest';
import { GcsObjectStore } from '../../src/adapters/object-store/gcs.js';
import { newId } from '../../src/domain/ids.js';
import { CATEGORIES } from '../../src/domain/kinds.js';
import type { Emulator } from '../support/gcp-emulators.js';
import { skipGcp, startFakeGcs } from '../support/gcp-emulators.js';
import { objectStoreContract } from './object-store.case.js';

// One fake-gcs-server for the file, started on first use; each store gets its own set of buckets.
let server: Promise<Emulator> | undefined;
afterAll(async () => {
  await (await server?.catch(() => undefined))?.stop();
});

async function makeStore(): Promise<{ store: GcsObjectStore; buckets: Record<string, string> }> {
  server ??= startFakeGcs();
  const { endpoint } = await server;
  const admin = new Storage({ apiEndpoint: endpoint, projectId: 'dyff-test' });
  const suffix = newId().slice(0, 16);
  const buckets = Object.fromEntries(CATEGORIES.map((c) => [c, `dyff-${c}-${suffix}`]));
  for (const bucket of Object.values(buckets)) await admin.createBucket(bucket);
  return { store: new GcsObjectStore({ buckets, apiEndpoint: endpoint, projectId: 'dyff-test' }), buckets };
}

// DYFF_SKIP_GCP=1 skips these on a machine without the emulators, visibly.
describe.skipIf(skipGcp)('GcsObjectStore on its emulator', () => {
  objectStoreContract('GcsObjectStore', makeStore);

  describe('GcsObjectStore specifics', () => {
    it('names objects gs://<bucket of the category>/<key>', async () => {
      const { store, buckets } = await makeStore();
      expect(store.uri('reports', 'abc/report.json')).toBe(`gs://${buckets.reports}/abc/report.json`);
    });

    it('concurrent appends all land: each rewrite is conditional on the generation it read', async () => {
      const { store } = await makeStore();
      const key = `${newId()}/.dyff/logs.txt`;
      const lines = Array.from({ length: 8 }, (_, i) => `line ${i}\n`);
      await Promise.all(lines.map((line) => store.append('outputs', key, line)));
      const text = (await store.getBuffer('outputs', key)).toString();
      expect(text.split('\n').filter(Boolean).sort()).toEqual(lines.map((l) => l.trim()).sort());
    });

    it('a category without a configured bucket fails, naming the category and the fix', async () => {
      const store = new GcsObjectStore({
        buckets: { datasets: 'dyff-datasets-x' },
        apiEndpoint: 'http://127.0.0.1:9',
      });
      await expect(store.put('models', 'a', 'x')).rejects.toMatchObject({
        type: 'InvalidSpec',
        message: expect.stringMatching(/category models.*dyffctl buckets create --category models/),
      });
    });
  });
});
