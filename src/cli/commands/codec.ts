import type { Command } from 'commander';
import { codecFor } from '../../codec/data-converter.js';
import { startCodecServer } from '../../codec/codec-server.js';
import type { Config } from '../../config.js';
import { loadConfig } from '../../config.js';
import { DyffError, ErrorType } from '../../domain/errors.js';

/** The origins the Temporal UI is served from: the configured URL, and its localhost/127.0.0.1 twin. */
export function uiOrigins(uiUrl: string): string[] {
  const origin = new URL(uiUrl).origin;
  const twin = origin.includes('//localhost')
    ? origin.replace('//localhost', '//127.0.0.1')
    : origin.replace('//127.0.0.1', '//localhost');
  return [...new Set([origin, twin])];
}

/** Start the codec server for this configuration; undefined when no codec keys are configured. */
export async function startConfiguredCodecServer(
  config: Config,
  port: number,
  host?: string,
  origins?: string[],
) {
  const codec = codecFor(config);
  if (!codec) return undefined;
  return startCodecServer(
    { codec, uiOrigins: origins ?? uiOrigins(config.temporal.uiUrl), namespace: config.temporal.namespace },
    port,
    host,
  );
}

export function registerCodecCommand(program: Command): void {
  program
    .command('codec-server')
    .description(
      'serve the remote codec protocol (POST /decode, /encode) so the Temporal UI shows decrypted payloads',
    )
    .option('--port <port>', 'port (default temporal.codec.port, 8234)')
    .option('--host <host>', 'address to listen on; whoever reaches it can decrypt', '127.0.0.1')
    .option('--ui-origin <origin...>', 'origins allowed by CORS (default: from temporal.uiUrl)')
    .action(async (opts: { port?: string; host: string; uiOrigin?: string[] }) => {
      const config = loadConfig();
      const port = Number(opts.port ?? config.temporal.codec.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new DyffError(ErrorType.InvalidSpec, `--port: expected a port number, got ${opts.port}`);
      }
      const server = await startConfiguredCodecServer(config, port, opts.host, opts.uiOrigin);
      if (!server) {
        throw new DyffError(
          ErrorType.InvalidSpec,
          'temporal.codec.keys: no codec keys configured (dyff.config.yaml or DYFF_CODEC_KEYS)',
        );
      }
      process.stderr.write(`codec server on ${server.url} for namespace ${config.temporal.namespace}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
