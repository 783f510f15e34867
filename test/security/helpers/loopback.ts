import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback HTTP server that counts every connection made to it: "saw nothing" means zero. */
export interface Listener {
  url: string;
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse, base: string) => void = (_req, res) =>
    res.end('hello'),
): Promise<Listener> {
  let connections = 0;
  let base = '';
  const server = createServer((req, res) => handler(req, res, base));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
