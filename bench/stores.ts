/**
 * The embedded stores against their GCP counterparts, side by side in one run, all on this machine:
 * status transitions per second (SQLite vs the Datastore emulator) and 4 KiB object writes per second (filesystem vs
 * fake-gcs-server). Operations run one at a time, as a workflow's activities issue them, so the figures are
 * per-request latency turned into a rate. Rounds alternate between the backends so that a busy moment on the
 * machine hits both; each figure is the median of its rounds.
 *
 *   npm run bench:stores                 # needs scripts/tools/fake-gcs-server.sh run once
 *   BENCH_ROUNDS=5 BENCH_SECONDS=3 npm run bench:stores
 *
 * The emulators are not the services: Datastore and GCS add network round trips (and GCS per-object latency in
 * the tens of milliseconds), so the ratios here are a lower bound on the embedded stores' advantage.
 */
import { Storage } from '@google-cloud/storage';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatastoreEntityStore } from '../src/adapters/entity-store/datastore.js';
import { SqliteEntityStore } from '../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { GcsObjectStore } from '../src/adapters/object-store/gcs.js';
import { newId } from '../src/domain/ids.js';
import type { EntityStore, ObjectStore } from '../src/ports/index.js';
import { startDatastoreEmulator, startFakeGcs } from '../test/support/gcp-emulators.js';
import { benchArgs, stopOnInterrupt } from './cli.js';

benchArgs(
  `npm run bench:stores

The embedded stores against their GCP counterparts on this machine, side by side: status transitions per second
(SQLite against the Datastore emulator) and 4 KiB object writes per second (filesystem against fake-gcs-server),
one at a time, in rounds alternated between the backends. Needs scripts/tools/fake-gcs-server.sh run once.

Environment:
  BENCH_ROUNDS=N    rounds (default 3); each figure is the median of its rounds
  BENCH_SECONDS=N   seconds per backend per round (default 2)`,
  {},
);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Time budget per backend per round; each loop also stops at MAX_OPS. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const MAX_OPS = 20_000;
const WARMUP_SECONDS = 0.5;
const OBJECT = Buffer.alloc(4096, 'dyff-bench ');

/** Runs `op` until the budget or MAX_OPS is spent; returns operations per second. */
async function rate(op: (i: number) => Promise<unknown>, seconds: number): Promise<number> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let n = 0;
  while (n < MAX_OPS && performance.now() < deadline) await op(n++);
  return n / ((performance.now() - start) / 1000);
}

/**
 * Transitions of fresh entities, Created → Admitted → Ready. Only the transitions are timed: each entity's create
 * happens off the clock.
 */
async function transitions(store: EntityStore, seconds = SECONDS): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let timed = 0;
  let n = 0;
  while (n < MAX_OPS && performance.now() < deadline) {
    const id = newId();
    await store.create({ id, kind: 'Dataset', account: 'bench', spec: { n } });
    const start = performance.now();
    await store.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
    await store.transition({ id, allowedFrom: ['Admitted'], to: 'Ready', details: { rows: n } });
    timed += performance.now() - start;
    n += 2;
  }
  return n / (timed / 1000);
}

async function writes(store: ObjectStore, prefix: string, seconds = SECONDS): Promise<number> {
  return rate((i) => store.put('outputs', `${prefix}/${i}.bin`, OBJECT), seconds);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dyff-bench-stores-'));
  const [gcs, datastore] = await Promise.all([startFakeGcs(), startDatastoreEmulator()]);
  // Both run in process groups of their own: an interrupt that ends this process alone would leave them running.
  const stopEmulators = stopOnInterrupt(() => Promise.all([gcs.stop(), datastore.stop()]));
  const sqlite = new SqliteEntityStore({ path: join(dir, 'entities.db') });
  const ds = new DatastoreEntityStore({
    projectId: datastore.projectId,
    apiEndpoint: datastore.endpoint,
    namespace: 'bench',
  });
  const fs = new FilesystemObjectStore({ root: join(dir, 'objects') });
  const bucket = `dyff-outputs-${newId().slice(0, 16)}`;
  await new Storage({ apiEndpoint: gcs.endpoint, projectId: 'dyff-bench' }).createBucket(bucket);
  const gcsStore = new GcsObjectStore({
    buckets: { outputs: bucket },
    apiEndpoint: gcs.endpoint,
    projectId: 'dyff-bench',
  });
  const results = {
    sqlite: [] as number[],
    datastore: [] as number[],
    fs: [] as number[],
    gcs: [] as number[],
  };
  try {
    // Warm-up: JIT in node and in the emulator's JVM, connection set-up.
    const warm = WARMUP_SECONDS;
    await Promise.all([
      transitions(sqlite, warm),
      transitions(ds, warm),
      writes(fs, 'warm', warm),
      writes(gcsStore, 'warm', warm),
    ]);
    for (let round = 1; round <= ROUNDS; round++) {
      results.sqlite.push(await transitions(sqlite));
      results.datastore.push(await transitions(ds));
      results.fs.push(await writes(fs, `r${round}`));
      results.gcs.push(await writes(gcsStore, `r${round}`));
      process.stderr.write(
        `round ${round}/${ROUNDS}: sqlite ${fmt(results.sqlite.at(-1)!)} datastore ${fmt(results.datastore.at(-1)!)} transitions/s; ` +
          `fs ${fmt(results.fs.at(-1)!)} gcs ${fmt(results.gcs.at(-1)!)} writes/s\n`,
      );
    }
  } finally {
    await Promise.all([sqlite.close(), ds.close()]);
    await stopEmulators();
    await rm(dir, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof results,
    number
  >;
  console.log(`entity store: status transitions/s, sequential (median of ${ROUNDS} rounds of ${SECONDS}s)`);
  console.log(`  sqlite     ${fmt(m.sqlite)}`);
  console.log(`  datastore  ${fmt(m.datastore)}  (emulator on loopback)`);
  console.log(`object store: 4 KiB writes/s, sequential`);
  console.log(`  filesystem ${fmt(m.fs)}`);
  console.log(`  gcs        ${fmt(m.gcs)}  (fake-gcs-server on loopback)`);
  console.log(
    `sqlite_tps=${fmt(m.sqlite)} datastore_tps=${fmt(m.datastore)} fs_writes_per_s=${fmt(m.fs)} gcs_writes_per_s=${fmt(m.gcs)} ` +
      `datastore_ratio=${(m.sqlite / m.datastore).toFixed(2)} gcs_ratio=${(m.fs / m.gcs).toFixed(2)}`,
  );
}

await main();
