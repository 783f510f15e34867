import { afterAll, describe, expect, it } from 'vitest';
import { DockerJobRunner } from '../../../src/adapters/job-runner/docker.js';
import { containerLogTail } from '../../../src/adapters/docker/logs.js';
import { newId } from '../../../src/domain/ids.js';
import { baseImage, docker, noDocker } from '../../support/docker.js';
import { until } from '../../support/worker-process.js';

/*
 * Step networks under `runner: docker`: a fetch step (network `internet` in the step catalogue) sits on the bridge
 * and reaches a server; a step that needs only storage has no network at all. The server is one of the project's
 * containers on the bridge, published on this machine's loopback: no address outside is ever tried.
 */
/** The project's test file server: one file, and a line when it listens. */
const SERVER =
  "require('http').createServer((q,s)=>s.end('corpus')).listen(8080,()=>console.log('listening'))";

describe.skipIf(noDocker)('step networks (runner: docker)', { timeout: 180_000 }, () => {
  afterAll(async () => {
    await docker
      .getContainer('dyff-isolation-files')
      .remove({ force: true })
      .catch(() => {});
  });

  it('a fetch step reaches a server of the project; a storage-only step reaches nothing', async () => {
    const base = baseImage();
    const server = await docker.createContainer({
      name: 'dyff-isolation-files',
      Image: base,
      Cmd: ['node', '-e', SERVER],
      Labels: { 'io.dyff.managed-by': 'dyff-temporal' },
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await server.start();
    const info = await server.inspect();
    const published = info.NetworkSettings.Ports['8080/tcp']![0]!.HostPort;
    // Connections to the published port before the server listens hang in the engine's proxy: wait for it first.
    await until('the file server to listen', async () =>
      (await containerLogTail(server)).includes('listening'),
    );
    const res = await fetch(`http://127.0.0.1:${published}/`, { signal: AbortSignal.timeout(10_000) });
    expect(await res.text()).toBe('corpus');
    const url = `http://${info.NetworkSettings.Networks.bridge!.IPAddress}:8080/`;
    const script = `fetch(process.argv[2]).then(r=>r.text()).then(t=>console.log('got '+t),e=>{console.log('failed '+(e.cause?.code??e.message));process.exit(3)})`;
    const runner = new DockerJobRunner({
      docker,
      image: base,
      argsPrefix: ['node', '-e', script],
      pollMs: 250,
    });
    const entityId = newId();
    const run = async (step: string) => {
      const name = `${step}-${entityId}-1`;
      await runner.start({ name, entityId, stage: step, args: [step, url] });
      return runner.wait(name);
    };
    try {
      const fetched = await run('fetch-data');
      expect(fetched.logTail).toContain('got corpus');
      const ingest = await run('ingest-dataset');
      expect(ingest.phase).toBe('failed');
      expect(ingest.logTail?.join('\n')).toMatch(/failed/);
    } finally {
      for (const j of await runner.list(entityId)) await docker.getContainer(j.name).remove({ force: true });
    }
  });
});
