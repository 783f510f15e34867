import { startDatastoreEmulator } from '../test/support/gcp-emulators.js';
import { DatastoreEntityStore } from '../src/adapters/entity-store/datastore.js';
const d = await startDatastoreEmulator();
const s = new DatastoreEntityStore({ projectId: d.projectId, apiEndpoint: d.endpoint, namespace: 'n1' });
try {
  const e = await s.create({ id: 'a'.repeat(32), kind: 'Dataset', account: 'acc', labels: { t: '1', u: '2' }, spec: { x: 1 } });
  console.log(e);
  for (const q of [{}, { kind: 'Dataset' as const }, { account: 'acc' }, { kind: 'Dataset' as const, account: 'acc' }, { labels: { t: '1' } }, { labels: { t: '1', u: '2' } }, { kind: 'Dataset' as const, labels: { t: '1' } }, { kind: 'Dataset' as const, account: 'acc', status: 'Created' as const, labels: { t: '1', u: '2' } }]) {
    try { console.log(JSON.stringify(q), (await s.list(q)).length); } catch (err) { console.log(JSON.stringify(q), 'ERR', (err as Error).message.slice(0, 300)); }
  }
  console.log(await s.transition({ id: 'a'.repeat(32), allowedFrom: ['Created'], to: 'Admitted' }));
} finally { await s.close(); await d.stop(); }
