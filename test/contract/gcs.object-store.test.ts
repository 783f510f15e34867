import { Storage } from '@google-cloud/storage';
import { afterAll, it } from 'vitest';
import { GcsObjectStore } from '../../src/adapters/object-store/gcs.js';
import { CATEGORIES } from '../../src/domain/kinds.js';
import type { Emulator } from '../support/gcp-emulators.js';
import { skipGcp, startFakeGcs } from '../support/gcp-emulators.js';
import { objectStoreContract } from './object-store.case.js';

// One fake-gcs-server for the file, started by the first `make`; each suite gets its own set of buckets.
let server: Promise<Emulator> | undefined;
afterAll(async () => {
  await (await server?.catch(() => undefined))?.stop();
});

if (skipGcp) {
  it.skip('GcsObjectStore (DYFF_SKIP_GCP=1)', () => {});
} else {
  objectStoreContract('GcsObjectStore', async () => {
    server ??= startFakeGcs();
    const { endpoint } = await server;
    const admin = new Storage({ apiEndpoint: endpoint, projectId: 'dyff-test' });
    const suffix = Math.random().toString(16).slice(2, 10);
    const buckets = Object.fromEntries(CATEGORIES.map((c) => [c, `dyff-${c}-${suffix}`]));
    for (const bucket of Object.values(buckets)) await admin.createBucket(bucket);
    return { store: new GcsObjectStore({ buckets, apiEndpoint: endpoint, projectId: 'dyff-test' }) };
  });
}
