import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/adapters/process-group.js';
import { spawnTied } from './process-tree.js';

/**
 * Local stand-ins for GCS and Datastore, each a child process on 127.0.0.1 with an ephemeral port.
 *
 *   const gcs = await startFakeGcs();            // gcs.endpoint = http://127.0.0.1:<port>
 *   const ds = await startDatastoreEmulator();   // ds.endpoint = 127.0.0.1:<port>
 *   … await gcs.stop(); await ds.stop();
 *
 * Each resolves once its server answers a request (the emulator also after its own "running" line), and rejects
 * with the server's output when it exits first, so no test races the start.
 */

export const FAKE_GCS_SCRIPT = 'scripts/tools/fake-gcs-server.sh';
export const DATASTORE_EMULATOR_DIR = '/usr/lib/google-cloud-sdk/platform/cloud-datastore-emulator';
const REPO = resolve(import.meta.dirname, '../..');
const START_TIMEOUT_MS = 60_000;

export interface Emulator {
  endpoint: string;
  stop(): Promise<void>;
}

/** `DYFF_SKIP_GCP=1` lets a machine without the emulators skip the GCP suites on purpose. */
export const skipGcp = process.env.DYFF_SKIP_GCP === '1';

/**
 * The fake-gcs-server binary that the script built. Tests do not build it themselves (a cold build takes minutes):
 * when it is missing they fail with this message naming the script.
 */
export async function fakeGcsBinary(): Promise<string> {
  const explicit = process.env.DYFF_FAKE_GCS_SERVER;
  if (explicit) return explicit;
  try {
    const { stdout } = await run(join(REPO, FAKE_GCS_SCRIPT), ['--path']);
    const path = stdout.trim().split('\n').pop() ?? '';
    if (path && existsSync(path)) return path;
  } catch {
    // reported below
  }
  throw new Error(
    `fake-gcs-server is not built: run ${FAKE_GCS_SCRIPT} once (or set DYFF_SKIP_GCP=1 to skip the GCP suites)`,
  );
}

/** Where a restartable emulator keeps its data, and the port to come back on. */
export interface EmulatorPlace {
  port?: number;
  /** fake-gcs-server: a directory for the filesystem backend (as a real bucket, objects outlive a restart). */
  root?: string;
  /** Datastore emulator: a project directory (made on first use) whose storage file holds the entities. */
  projectDir?: string;
  /** fake-gcs-server: serve https with this certificate and key (files) instead of http. */
  tls?: { cert: string; key: string };
}

export async function startFakeGcs(place: EmulatorPlace = {}): Promise<Emulator> {
  const binary = await fakeGcsBinary();
  return onFreePort(place, (port) => startFakeGcsOn(binary, port, place));
}

async function startFakeGcsOn(binary: string, port: number, place: EmulatorPlace): Promise<Emulator> {
  const scheme = place.tls ? 'https' : 'http';
  const child = spawnTied(binary, [
    '-scheme',
    scheme,
    ...(place.tls ? ['-cert-location', place.tls.cert, '-private-key-location', place.tls.key] : []),
    // The default is 0.0.0.0: keep the server on loopback.
    '-host',
    '127.0.0.1',
    '-port',
    String(port),
    ...(place.root ? ['-backend', 'filesystem', '-filesystem-root', place.root] : ['-backend', 'memory']),
    '-public-host',
    `127.0.0.1:${port}`,
    // Resumable uploads are continued at this URL.
    '-external-url',
    `${scheme}://127.0.0.1:${port}`,
    '-log-level',
    'warn',
  ]);
  const endpoint = `${scheme}://127.0.0.1:${port}`;
  const stop = () => stopTree(child);
  try {
    // With -log-level warn the server prints nothing when it starts; readiness is the answered request alone.
    await waitReady(child, 'fake-gcs-server', undefined, `${endpoint}/storage/v1/b?project=probe`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, stop };
}

export async function startDatastoreEmulator(
  place: EmulatorPlace = {},
  projectId = `dyff-test-${process.pid}`,
): Promise<Emulator & { projectId: string }> {
  const script = join(DATASTORE_EMULATOR_DIR, 'cloud_datastore_emulator');
  if (!existsSync(script)) {
    throw new Error(
      `the Cloud Datastore emulator is missing: expected ${script} (install the google-cloud-cli-datastore-emulator package, or set DYFF_SKIP_GCP=1)`,
    );
  }
  // Data on disk needs a project directory, which only `create` makes.
  if (place.projectDir && !existsSync(place.projectDir)) await run(script, ['create', place.projectDir]);
  return onFreePort(place, (port) => startDatastoreOn(script, port, place, projectId));
}

async function startDatastoreOn(
  script: string,
  port: number,
  place: EmulatorPlace,
  projectId: string,
): Promise<Emulator & { projectId: string }> {
  const child = spawnTied(script, [
    'start',
    '--host=127.0.0.1',
    `--port=${port}`,
    ...(place.projectDir ? ['--store_on_disk=true'] : ['--store_on_disk=false']),
    // Every query sees every committed write, as in Firestore in Datastore mode.
    '--consistency=1.0',
    // Queries must be served by index.yaml, as in production: a query the file does not cover fails here first.
    '--require_indexes',
    `--index_file=${join(REPO, 'index.yaml')}`,
    '--store_index_configuration_on_disk=false',
    ...(place.projectDir ? [place.projectDir] : []),
  ]);
  const endpoint = `127.0.0.1:${port}`;
  // The emulator writes its storage file only when asked to shut down; a signal would lose every entity.
  const stop = async () => {
    if (place.projectDir && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      await fetch(`http://${endpoint}/shutdown`, { method: 'POST' }).catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    await stopTree(child);
  };
  try {
    await waitReady(
      child,
      'cloud datastore emulator',
      /Dev App Server is now running|health check endpoint/,
      `http://${endpoint}/`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, projectId, stop };
}

/**
 * Starts on `place.port`, or on a port the kernel just handed out. Another process on a busy machine can bind that
 * port before the server does; the server then exits at once, and it is started again on a fresh port (three tries).
 */
async function onFreePort<E>(place: EmulatorPlace, start: (port: number) => Promise<E>): Promise<E> {
  if (place.port !== undefined) return start(place.port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= 3 || !/exited .* before it answered[\s\S]*address already in use/i.test(String(err)))
        throw err;
    }
  }
}

/**
 * Resolves once `line` appears in the output (when given) and `probe` answers; rejects with the output when the
 * process exits first or the start takes longer than a minute.
 */
async function waitReady(
  child: ChildProcess,
  name: string,
  line: RegExp | undefined,
  probe: string,
): Promise<void> {
  let output = '';
  let onLine: (() => void) | undefined;
  const lineSeen = new Promise<void>((r) => (onLine = r));
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
    if (line?.test(output)) onLine?.();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`${name} did not start: ${err.message}`)));
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${signal ?? code}) before it answered:\n${output}`)),
    );
    timer = setTimeout(
      () => reject(new Error(`${name} did not answer within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
  });
  failed.catch(() => {}); // after a successful start, the exit on stop() is no error
  try {
    if (line) await Promise.race([lineSeen, failed]);
    // The port may lag the log line by a moment: the probe is retried on connection errors only.
    for (;;) {
      const answered = await Promise.race([
        fetch(probe).then(
          (res) => res.ok,
          () => false,
        ),
        failed,
      ]);
      if (answered) return;
      await Promise.race([new Promise((r) => setTimeout(r, 100)), failed]);
    }
  } finally {
    clearTimeout(timer);
    child.stdout?.off('data', collect);
    child.stderr?.off('data', collect);
    // Keep draining, so that a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
  }
}

/** SIGTERM to the process group (the emulator is a shell script running java), SIGKILL after 5 s. */
async function stopTree(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  // The shell may exit before java does; make sure nothing of the group is left.
  signal('SIGKILL');
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) =>
    execFile(file, args, { maxBuffer: 1 << 20, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${err.message}\n${stderr}`)) : res({ stdout, stderr }),
    ),
  );
}

/**
 * One bucket per category on `endpoint`, named with `prefix`, as `dyffctl buckets create` makes them; their names are
 * also written to `configFile` (what a `dyffctl` started with it reads). Returns the names by category.
 */
export async function createTestBuckets(
  endpoint: string,
  prefix: string,
  configFile: string,
): Promise<Record<string, string>> {
  const { createCategoryBucket } = await import('../../src/gcp/buckets.js');
  const { CATEGORIES } = await import('../../src/domain/kinds.js');
  const buckets: Record<string, string> = {};
  for (const category of CATEGORIES) {
    const made = await createCategoryBucket({
      target: { apiEndpoint: endpoint, prefix },
      category,
      configured: buckets,
      configFile,
    });
    buckets[category] = made.bucket;
  }
  return buckets;
}
