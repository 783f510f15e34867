import { Datastore } from '@google-cloud/datastore';
import { startDatastoreEmulator } from '../test/support/gcp-emulators.js';
const d = await startDatastoreEmulator();
const ds = new Datastore({ projectId: d.projectId, apiEndpoint: d.endpoint, universeDomain: 'googleapis.com' } as never);
const key = ds.key(['Entity', 'x']);
await ds.save({ key, data: { a: 1 } });
const t = async (name: string, f: () => Promise<unknown>, n = 100) => { const s = performance.now(); for (let i = 0; i < n; i++) await f(); console.log(name, ((performance.now() - s) / n).toFixed(2), 'ms'); };
for (let r = 0; r < 2; r++) {
await t('get', () => ds.get(key));
await t('save', () => ds.save({ key, data: { a: 2 } }));
await t('tx run+get+commit', async () => { const tx = ds.transaction(); await tx.run(); await tx.get(key); tx.save({ key, data: { a: 3 } }); await tx.commit(); });
await t('tx get(no run)+commit', async () => { const tx = ds.transaction(); await tx.run(); const [e] = await tx.get(key); await tx.rollback(); return e; });
}
await d.stop();
