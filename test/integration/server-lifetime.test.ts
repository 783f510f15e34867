import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupAlive } from '../../src/adapters/process-group.js';
import { skipGcp } from '../support/gcp-emulators.js';
import { skipK8s } from '../support/k8s-control-plane.js';
import { childrenOf, running } from '../support/process-tree.js';
import { until } from '../support/worker-process.js';

/*
 * The servers a test process starts end with it. A run interrupted (Ctrl-C, a killed fork) never reaches its
 * afterAll, and the servers, each in a process group of its own, used to outlive it. SIGKILL is the hardest case:
 * the process runs nothing on its way out.
 */
const REPO = resolve(import.meta.dirname, '../..');

/** A process that runs `code` (an ES module), which prints one line of JSON and waits to be ended. */
async function owner<T>(code: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  // Its one line of JSON, among what the servers it starts print.
  const line = () => out.split('\n').find((l) => l.startsWith('{') && l.endsWith('}'));
  const printed = await until('what the owner started', async () => line(), 150_000).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, exited, printed: JSON.parse(printed) as T };
}

const support = (file: string) => JSON.stringify(`${REPO}/test/support/${file}`);

const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );

/** Whether something accepts TCP connections at `host:port` (the dev server's frontend speaks gRPC only). */
const accepts = (address: string) =>
  new Promise<boolean>((done) => {
    const [host, port] = address.split(':');
    const socket = connect({ host, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });

describe('servers a test process started', { timeout: 180_000 }, () => {
  it.skipIf(skipGcp)('the emulators end with it, even when it is SIGKILLed', async () => {
    const { child, exited, printed } = await owner<{ gcs: string; datastore: string }>(`
      const { startDatastoreEmulator, startFakeGcs } = await import(${support('gcp-emulators.ts')});
      const [gcs, ds] = await Promise.all([startFakeGcs(), startDatastoreEmulator()]);
      console.log(JSON.stringify({ gcs: gcs.endpoint + '/storage/v1/b?project=p', datastore: 'http://' + ds.endpoint }));
      setInterval(() => {}, 60_000);
    `);
    try {
      const groups = childrenOf(child.pid!).filter((c) =>
        /fake-gcs-server|cloud_datastore_emulator/.test(c.command),
      );
      expect(groups).toHaveLength(2);
      expect([await answers(printed.gcs), await answers(printed.datastore)]).toEqual([true, true]);
      child.kill('SIGKILL');
      await exited;
      await until('the emulators to end', async () => groups.every((g) => !groupAlive(g.pid)), 20_000);
      expect([await answers(printed.gcs), await answers(printed.datastore)]).toEqual([false, false]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the Temporal dev server ends with it, even when it is SIGKILLed', async () => {
    const { child, exited, printed } = await owner<{ address: string }>(`
      const { startDevServer } = await import(${JSON.stringify(`${REPO}/src/dev/dev-server.ts`)});
      const server = await startDevServer({ port: 0 });
      console.log(JSON.stringify({ address: server.address }));
      setInterval(() => {}, 60_000);
    `);
    try {
      const servers = childrenOf(child.pid!).filter((c) => /temporal.* server start-dev/.test(c.command));
      expect(servers).toHaveLength(1);
      const [server] = servers;
      expect(await accepts(printed.address)).toBe(true);
      child.kill('SIGKILL');
      await exited;
      // The server is no group leader: whether it runs is whether its pid does. A process that has ended holds no
      // socket, and its port is then free for the next server the suite starts on a free port (a clean-clone run
      // found this one's port answering again right after the server had ended), so it is not asked again.
      await until('the dev server to end', async () => !running(server!.pid), 20_000);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(skipK8s)('the control plane ends with it, even when it is SIGKILLed', async () => {
    const { child, exited, printed } = await owner<{ dir: string }>(`
      const { startControlPlane } = await import(${support('k8s-control-plane.ts')});
      const cp = await startControlPlane({ controllerManager: false });
      console.log(JSON.stringify({ dir: cp.dir }));
      setInterval(() => {}, 60_000);
    `);
    try {
      const pids = ['etcd', 'kube-apiserver'].map((name) =>
        Number(readFileSync(`${printed.dir}/${name}.pid`, 'utf8')),
      );
      expect(pids.every(groupAlive)).toBe(true);
      child.kill('SIGKILL');
      await exited;
      await until('the control plane to end', async () => pids.every((p) => !groupAlive(p)), 30_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
