import { startFakeGcs, startDatastoreEmulator } from '../test/support/gcp-emulators.js';
const t0 = Date.now();
const [g, d] = await Promise.all([startFakeGcs(), startDatastoreEmulator()]);
console.log(g.endpoint, d.endpoint, Date.now() - t0, 'ms');
await Promise.all([g.stop(), d.stop()]);
console.log('stopped', Date.now() - t0);
