import { Storage } from '@google-cloud/storage';
import { startDatastoreEmulator, startFakeGcs } from '../test/support/gcp-emulators.js';
import { DatastoreEntityStore } from '../src/adapters/entity-store/datastore.js';
import { GcsObjectStore } from '../src/adapters/object-store/gcs.js';
const [g, d] = await Promise.all([startFakeGcs(), startDatastoreEmulator()]);
try {
  await new Storage({ apiEndpoint: g.endpoint, projectId: 'p' }).createBucket('b1');
  const o = new GcsObjectStore({ buckets: { logs: 'b1', datasets: 'b1' }, apiEndpoint: g.endpoint });
  await o.put('datasets', 'x/y', 'hello'); await o.append('datasets', 'x/l', 'a'); console.log((await o.getBuffer('datasets','x/y')).toString(), await o.list('datasets', 'x/'));
  const s = new DatastoreEntityStore({ projectId: d.projectId, apiEndpoint: d.endpoint });
  await s.create({ id: 'b'.repeat(32), kind: 'Model', account: 'a', spec: {} });
  const s2 = new DatastoreEntityStore({ projectId: d.projectId, apiEndpoint: `http://${d.endpoint}` });
  console.log((await s2.get('b'.repeat(32)))?.kind);
  await s.close(); await s2.close();
} finally { await g.stop(); await d.stop(); }
