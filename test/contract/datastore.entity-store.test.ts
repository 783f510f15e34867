import { afterAll, describe } from 'vitest';
import { DatastoreEntityStore } from '../../src/adapters/entity-store/datastore.js';
import { newId } from '../../src/domain/ids.js';
import type { Emulator } from '../support/gcp-emulators.js';
import { skipGcp, startDatastoreEmulator } from '../support/gcp-emulators.js';
import { entityStoreContract } from './entity-store.case.js';

// One emulator for the file, started by the first `make`; each suite gets its own namespace.
let emulator: Promise<Emulator & { projectId: string }> | undefined;
afterAll(async () => {
  await (await emulator?.catch(() => undefined))?.stop();
});

// DYFF_SKIP_GCP=1 skips these on a machine without the emulators, visibly.
describe.skipIf(skipGcp)('DatastoreEntityStore on its emulator', () => {
  entityStoreContract('DatastoreEntityStore', async () => {
    emulator ??= startDatastoreEmulator();
    const { endpoint, projectId } = await emulator;
    const opts = { projectId, apiEndpoint: endpoint, namespace: `contract-${newId()}` };
    // Two clients, two gRPC channels: the race cases run real concurrent transactions against the emulator.
    const store = new DatastoreEntityStore(opts);
    const second = new DatastoreEntityStore(opts);
    return { store, second, cleanup: async () => void (await Promise.all([store.close(), second.close()])) };
  });
});
