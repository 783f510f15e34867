import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport } from '../../../src/steps/evaluate/transport.js';

/** A server on loopback that holds every request open until the test answers it. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      held.push(res);
      arrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/generate`),
    held,
    /** Resolves once `n` requests are held. */
    async waitFor(n: number) {
      while (held.length < n) await new Promise<void>((resolve) => (arrived = resolve));
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('evaluate: the transport', () => {
  let server: Awaited<ReturnType<typeof holdingServer>> | undefined;
  afterEach(async () => server?.close());

  it('ends every request in flight when its signal aborts, those answered before it included', async () => {
    server = await holdingServer();
    const stop = new AbortController();
    const transport = await createTransport(server.url, 8, stop.signal);
    try {
      const requests = Array.from({ length: 6 }, (_, i) =>
        transport.postJson(JSON.stringify({ i }), 60_000).then(
          (answer) => ({ answer: answer.body }),
          (err: Error) => ({ error: err.message }),
        ),
      );
      await server.waitFor(6);
      // Two are answered first (first, and one from the middle), so they leave the set of open requests.
      server.held[0]!.end('{"n":0}');
      server.held[3]!.end('{"n":3}');
      const answered = await Promise.all([requests[0], requests[3]]);
      expect(answered).toEqual([{ answer: '{"n":0}' }, { answer: '{"n":3}' }]);

      stop.abort(new Error('stopped by SIGTERM'));
      const rest = await Promise.all([requests[1], requests[2], requests[4], requests[5]]);
      expect(rest).toEqual(Array(4).fill({ error: 'stopped by SIGTERM' }));
    } finally {
      transport.close();
    }
  }, 20_000);

  it('opens no more connections than its limit, and answers on after the server closes one', async () => {
    const ports: number[] = [];
    let closeAfter = 21;
    const answering = createServer((req, res) => {
      ports.push(req.socket.remotePort!);
      req.resume();
      // The first request after the twenty is answered with `connection: close`: the server then closes it.
      if (--closeAfter === 0) res.setHeader('connection', 'close');
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    const { port } = answering.address() as AddressInfo;
    const transport = await createTransport(new URL(`http://127.0.0.1:${port}/generate`), 4);
    try {
      // Twenty at once on a limit of four: they wait for the four connections, and all are answered.
      const answers = await Promise.all(Array.from({ length: 20 }, () => transport.postJson('{}', 10_000)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(new Set(ports).size).toBeLessThanOrEqual(4);
      // The server closes the next one's connection: the requests after it are answered all the same.
      for (let i = 0; i < 8; i++) expect((await transport.postJson('{}', 10_000)).status).toBe(200);
      expect(ports).toHaveLength(28);
    } finally {
      transport.close();
      answering.closeAllConnections();
      await new Promise<void>((resolve) => answering.close(() => resolve()));
    }
  }, 20_000);
});
