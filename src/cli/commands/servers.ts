import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { startDevServer } from '../../dev/dev-server.js';
import { serveHealth } from '../../health.js';
import { createWorker } from '../../worker.js';
import { startConfiguredCodecServer, uiOrigins } from './codec.js';

export function registerServerCommands(program: Command): void {
  program
    .command('dev')
    .description(
      'start a Temporal dev server (state under the data home, UI on 8233) and a worker; Ctrl-C stops both',
    )
    .option('--port <port>', 'Temporal frontend port', '7233')
    .option('--ui-port <port>', 'Temporal UI port', '8233')
    .option('--no-worker', 'start only the server')
    .action(async (opts: { port: string; uiPort: string; worker: boolean }) => {
      const config = loadConfig();
      const dbFilename = join(config.dataHome, 'temporal.db');
      // With codec keys the histories are ciphertext: the UI decodes through a codec server started beside it.
      const codec = await startConfiguredCodecServer(
        config,
        config.temporal.codec.port,
        '127.0.0.1',
        uiOrigins(`http://localhost:${opts.uiPort}`),
      );
      const server = await startDevServer({
        dbFilename,
        port: Number(opts.port),
        uiPort: Number(opts.uiPort),
        uiCodecEndpoint: codec?.url,
      });
      if (codec) process.stderr.write(`codec server for the UI on ${codec.url}\n`);
      process.stderr.write(
        `Temporal dev server on ${server.address} (state in ${dbFilename})\n` +
          `Temporal UI: http://localhost:${opts.uiPort}/namespaces/${server.namespace}/workflows\n`,
      );
      try {
        if (!opts.worker) {
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          return;
        }
        const w = await createWorker({
          config: { ...config, temporal: { ...config.temporal, address: server.address } },
        });
        process.stderr.write(`worker polling task queue "${config.temporal.taskQueue}"; Ctrl-C to stop\n`);
        // The Temporal runtime shuts workers down on SIGINT/SIGTERM; run() returns once in-flight tasks are done.
        await w.run();
      } finally {
        await server.stop();
        await codec?.close();
        process.stderr.write('stopped\n');
      }
    });

  program
    .command('worker')
    .description('run a worker against the configured Temporal server (DYFF_TEMPORAL_ADDRESS)')
    .action(async () => {
      const config = loadConfig();
      const w = await createWorker({ config });
      process.stderr.write(
        `worker on ${config.temporal.address}, task queue "${config.temporal.taskQueue}", runner ${config.runner}\n`,
      );
      const healthPort = process.env.DYFF_HEALTH_PORT;
      if (healthPort) await serveHealth(w.worker, Number(healthPort));
      await w.run();
    });
}
