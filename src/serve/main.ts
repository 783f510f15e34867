import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../model/load.js';
import type { Predictor } from '../model/predictor.js';
import { createModelServer } from './model-server.js';

const USAGE =
  'usage: dyffctl serve-model (--model-dir <dir> | --model <model id>) [--port N] [--host H] [--require-env NAME]...';

/**
 * `dyffctl serve-model`: serves `model.json` (a text or an image model, by its format: `model/load.ts`) from a
 * folder, or from a fetched Model (`--model <id>`, read through the configured object store). Port: --port, else $PORT, else 8000. Returns the
 * exit code once the server has stopped: 0 after SIGTERM/SIGINT, 1 if the model cannot be loaded, 2 on bad usage.
 */
export async function serveModelMain(argv: string[], signal?: AbortSignal): Promise<number> {
  let args: {
    'model-dir'?: string;
    model?: string;
    port?: string;
    host?: string;
    'require-env'?: string[];
  };
  try {
    args = parseArgs({
      args: argv,
      options: {
        'model-dir': { type: 'string' },
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        /** A variable the served model needs (e.g. a key from a secret): refuse to start without it. */
        'require-env': { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const port = Number(args.port ?? process.env.PORT ?? 8000);
  if (
    (args['model-dir'] === undefined) === (args.model === undefined) ||
    !Number.isInteger(port) ||
    port < 0
  ) {
    process.stderr.write(`error: give one of --model-dir and --model, and a port number\n${USAGE}\n`);
    return 2;
  }
  // Named, never printed: the variable may hold a secret.
  const missing = (args['require-env'] ?? []).filter((name) => !process.env[name]);
  if (missing.length) {
    process.stderr.write(`error: --require-env: ${missing.join(', ')} not set in the environment\n`);
    return 2;
  }
  const log = (line: string) => void process.stdout.write(`serve-model: ${line}\n`);
  const server = createModelServer({ load: () => loadPredictor(args, log) });
  // Listen first: a readiness probe gets 503 while a large model loads, rather than a refused connection.
  const address = await server.listen(port, args.host ?? process.env.HOST ?? '0.0.0.0');
  log(`listening on http://${address.address}:${address.port}`);

  let onStop: (why: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (onStop = resolve));
  const onSignal = (sig: NodeJS.Signals) => onStop(sig);
  const onAbort = () => onStop('abort');
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  signal?.addEventListener('abort', onAbort, { once: true });
  const outcome = await Promise.race([
    server.loaded.then(
      () => stopped,
      (err: unknown) => `failed: ${(err as Error).message}`,
    ),
    stopped,
  ]);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  signal?.removeEventListener('abort', onAbort);
  log(
    outcome.startsWith('failed')
      ? `cannot load the model: ${outcome.slice('failed: '.length)}`
      : `${outcome}: stopping`,
  );
  await server.close();
  log('stopped');
  return outcome.startsWith('failed') ? 1 : 0;
}

async function loadPredictor(
  args: { 'model-dir'?: string; model?: string },
  log: (l: string) => void,
): Promise<Predictor> {
  const dir = args['model-dir'] ?? (await fetchedModelDir(args.model!));
  const { predictor, summary } = await loadModel(dir);
  log(`ready: ${summary}`);
  return predictor;
}

/** Loaded lazily: `--model-dir` needs neither the configuration nor an object store. */
async function fetchedModelDir(modelId: string): Promise<string> {
  const { loadConfig } = await import('../config.js');
  const { createObjectStore } = await import('../adapters/index.js');
  const { materializeModel } = await import('./materialize.js');
  const config = loadConfig();
  const { storeFor } = await import('../adapters/object-store/enforce.js');
  const { stepBindings } = await import('../domain/grant-scope.js');
  // The session runs as model-runner: it may read the model it serves and nothing else.
  const store = storeFor(
    await createObjectStore(config),
    config,
    'session',
    stepBindings(modelId, { model: modelId }),
  );
  return materializeModel(store, modelId, join(config.dataHome, 'work', 'serve-model'));
}
