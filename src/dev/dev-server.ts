import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { registerSearchAttributes as registerOn } from '../search-attributes-setup.js';
import { installRuntime } from '../worker.js';
import { DEV_SERVER_DYNAMIC_CONFIG, dynamicConfigArgs } from './latency.js';
import { resolveTemporalCli, tiedTemporalCli } from './temporal-cli.js';

export interface DevServerOptions {
  /** Persist the server's state here; in memory when unset. */
  dbFilename?: string;
  /** @default 7233 (0 picks a free port) */
  port?: number;
  /** Serve the Temporal UI on this port. */
  uiPort?: number;
  namespace?: string;
  /** The UI asks this remote codec server to decode payloads (set when codec keys are configured). */
  uiCodecEndpoint?: string;
  /** Serve the server's Prometheus metrics on this port (a free one is picked when unset). */
  metricsPort?: number;
  /** Dynamic config values; the project's (latency.ts: DEV_SERVER_DYNAMIC_CONFIG) by default, `{}` for the CLI's own. */
  dynamicConfig?: Readonly<Record<string, number | boolean>>;
}

export interface DevServer {
  address: string;
  namespace: string;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

/** Start `temporal server start-dev` (the pinned CLI) with the project's search attributes registered. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  installRuntime();
  const path = await resolveTemporalCli();
  if (opts.dbFilename) mkdirSync(dirname(opts.dbFilename), { recursive: true });
  const namespace = opts.namespace ?? 'default';
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: path ? { type: 'existing-path', path: tiedTemporalCli(path) } : { type: 'cached-download' },
      dbFilename: opts.dbFilename,
      port: opts.port === 0 ? undefined : (opts.port ?? 7233),
      ui: opts.uiPort !== undefined,
      uiPort: opts.uiPort,
      namespace,
      extraArgs: [
        '--log-level',
        'error',
        ...dynamicConfigArgs(opts.dynamicConfig ?? DEV_SERVER_DYNAMIC_CONFIG),
        ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
        ...(opts.metricsPort ? ['--metrics-port', String(opts.metricsPort)] : []),
      ],
    },
  });
  const address = env.address;
  await registerSearchAttributes(env.connection, namespace);
  return { address, namespace, env, stop: () => env.teardown() };
}

/**
 * Register the project's search attributes; idempotent, so it also works on an existing database. Returns once
 * runs that set them are accepted.
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  await registerOn(connection.operatorService, namespace, { visibility: connection.workflowService });
}
