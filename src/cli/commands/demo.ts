import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/index.js';
import { DyffClient } from '../../client.js';
import type { Config } from '../../config.js';
import { loadConfig } from '../../config.js';
import type { DevServer } from '../../dev/dev-server.js';
import { registerSearchAttributes, startDevServer } from '../../dev/dev-server.js';
import { parseManifest } from '../../domain/manifest.js';
import { createWorker } from '../../worker.js';
import { waitWithProgress } from './entities.js';
import { ExitCode } from '../exit-codes.js';

const EXAMPLE = resolve(import.meta.dirname, '../../../examples/spamassassin-dataset.yaml');

async function reachable(address: string): Promise<boolean> {
  try {
    const c = await Connection.connect({ address, connectTimeout: '1s' });
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** Use the configured Temporal server if one answers; otherwise start the embedded dev server on its state. */
async function ensureServer(config: Config): Promise<DevServer | undefined> {
  if (await reachable(config.temporal.address)) {
    const c = await Connection.connect({ address: config.temporal.address });
    await registerSearchAttributes(c, config.temporal.namespace);
    await c.close();
    return undefined;
  }
  process.stderr.write(
    `starting the Temporal dev server (state in ${join(config.dataHome, 'temporal.db')})…\n`,
  );
  return startDevServer({ dbFilename: join(config.dataHome, 'temporal.db'), uiPort: 8233 });
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'create the example dataset (SpamAssassin corpus) on the configured backends and wait until Ready',
    )
    .option('-f, --file <path>', 'manifest to create', EXAMPLE)
    .action(async (opts: { file: string }) => {
      const config = loadConfig();
      const server = await ensureServer(config);
      const adapters = await createAdapters(config);
      const worker = await createWorker({ config, adapters });
      const running = worker.run();
      const client = await DyffClient.connect(config, adapters);
      try {
        const path = resolve(opts.file);
        const manifest = parseManifest(await readFile(path, 'utf8'), opts.file);
        const { id, workflowId } = await client.create(manifest, { baseDir: dirname(path) });
        process.stderr.write(`created ${manifest.kind} ${id}\n`);
        const code = await waitWithProgress(client, id);
        const view = await client.get(id);
        if (!view || code !== ExitCode.Ok) {
          process.stderr.write(`${view?.status} (${view?.reason}): ${view?.message}\n`);
          process.exitCode = code;
          return;
        }
        const location = String(view.details?.location ?? client.location('Dataset', id));
        const dir = location.startsWith('file:') ? fileURLToPath(location) : location;
        process.stdout.write(
          [
            `Dataset ${id} is Ready: ${String(view.details?.rowCount)} rows`,
            `  Parquet shards: ${join(dir, 'data')}`,
            `  manifest:       ${join(dir, 'manifest.json')}`,
            `  inspect:        dyffctl get ${id}`,
            server
              ? `  Temporal UI:    run \`npm run dev\` (or \`dyffctl dev\`), then open ${client.uiUrl(workflowId)}`
              : `  Temporal UI:    ${client.uiUrl(workflowId)}`,
            `  all datasets:   ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows?query=${encodeURIComponent('DyffKind="Dataset"')}`,
            '',
          ].join('\n'),
        );
      } finally {
        await client.close();
        worker.worker.shutdown();
        await running;
        await adapters.close();
        await server?.stop();
      }
    });
}
