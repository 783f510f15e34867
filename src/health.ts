import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Worker } from '@temporalio/worker';

/**
 * Liveness and readiness for a worker in a pod: /healthz answers while the process is up, /readyz only while the
 * worker is RUNNING (polling its task queue).
 */
export function serveHealth(worker: Worker, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const state = worker.getState();
    if (req.url === '/healthz') {
      res.writeHead(state === 'FAILED' ? 500 : 200).end(state);
    } else if (req.url === '/readyz') {
      res.writeHead(state === 'RUNNING' ? 200 : 503).end(state);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, () => resolve(server.unref())));
}
