import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerSessionRunner } from '../../../src/adapters/session-runner/docker.js';
import { newId } from '../../../src/domain/ids.js';
import type { SessionSpec } from '../../../src/ports/session-runner.js';
import { localSecrets } from '../../../src/secrets/resolver.js';
import { connectFrom, docker, execIn, noDocker, projectImage } from '../../support/docker.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';

/*
 * What a container of `runner: docker` can reach and write, probed from inside it. Every address tried is this
 * project's own: ports of this machine that the tests (and the worker, and Temporal) listen on, and the project's
 * containers on their bridges.
 */
let dir: string;
let sessions: DockerSessionRunner;
let hostServer: Server;
const specs: SessionSpec[] = [];
const temporalPort = Number(inject('temporalAddress').split(':').at(-1));

function session(modelDir: string): SessionSpec {
  const entityId = newId();
  const description = {
    serviceId: newId(),
    runner: 'standalone' as const,
    command: ['serve-model', '--model-dir', modelDir],
    readinessPath: '/ready',
    endpoint: '/generate',
    interface: {},
  };
  return { name: `session-${entityId}`, entityId, description };
}

/** What a refused, dropped or unroutable connection says: anything but a crash of the probe itself. */
const BLOCKED = /^(timeout|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)$/;

/** The gateway (this machine's address) of the network a container sits on. */
async function gateway(name: string): Promise<string> {
  const nets = (await docker.getContainer(name).inspect()).NetworkSettings.Networks;
  return Object.values(nets)[0]!.Gateway;
}

describe.skipIf(noDocker)('container isolation (runner: docker)', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    const image = projectImage();
    dir = await mkdtemp(join(tmpdir(), 'dyff-docker-isolation-'));
    const { modelDir } = await tinyCorpus(dir);
    // Listens on every address, as the worker's health server does.
    hostServer = createServer((_, res) => res.end('host'));
    await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', r));
    sessions = new DockerSessionRunner({
      docker,
      image,
      secrets: localSecrets({ dataHome: dir }),
      binds: [{ path: dir, readOnly: true }],
    });
    specs.push(session(modelDir), session(modelDir));
    for (const s of specs) await sessions.start(s);
    for (const s of specs) await sessions.waitReady(s.name, { timeoutMs: 120_000 });
  }, 900_000);

  afterAll(async () => {
    for (const s of specs) await sessions?.stop(s.name);
    await docker
      .getContainer('dyff-isolation-files')
      .remove({ force: true })
      .catch(() => {});
    await new Promise((r) => hostServer?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a session reaches its own server but not the worker or Temporal on this machine', async () => {
    const [a] = specs;
    const self = new URL((await sessions.status(a!.name))!.endpoint!);
    expect(await connectFrom(a!.name, self.hostname, Number(self.port))).toBe('open');
    const host = await gateway(a!.name);
    const port = (hostServer.address() as AddressInfo).port;
    expect(await connectFrom(a!.name, host, port)).toMatch(BLOCKED);
    expect(await connectFrom(a!.name, host, temporalPort)).toMatch(BLOCKED);
    // Loopback inside the container is the container's own.
    expect(await connectFrom(a!.name, '127.0.0.1', temporalPort)).toMatch(BLOCKED);
  });

  it("a session cannot reach another evaluation's session", async () => {
    const [a, b] = specs;
    const other = new URL((await sessions.status(b!.name))!.endpoint!);
    // The worker (this machine) reaches both: the address is live.
    expect((await fetch(`${other.origin}/ready`)).ok).toBe(true);
    expect(await connectFrom(a!.name, other.hostname, Number(other.port))).toMatch(BLOCKED);
  });

  it('a session writes only to its tmpfs', async () => {
    const [a] = specs;
    const write = (path: string) => execIn(a!.name, ['sh', '-c', `echo x > ${path}`]);
    expect((await write('/tmp/scratch')).code).toBe(0);
    expect((await write('/app/planted')).code).not.toBe(0);
    expect((await write('/etc/planted')).code).not.toBe(0);
    expect((await write(join(dir, 'planted'))).code).not.toBe(0);
    const id = await execIn(a!.name, ['id', '-u']);
    expect(id.output.trim()).not.toBe('0');
  });
});
