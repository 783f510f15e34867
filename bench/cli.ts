/**
 * What every benchmark's command line shares: `--help` prints its usage and starts nothing; an unknown flag or a
 * value where none belongs is refused with the usage, exit code 2, before anything starts; and the services a
 * benchmark starts (emulators, a control plane, dev servers) are stopped when it is interrupted (Ctrl-C, SIGTERM),
 * not left running after it.
 */
import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Exit code for a command line the benchmark does not accept. */
const USAGE_EXIT = 2;

/**
 * The benchmark's flags, parsed strictly from `argv`. With `--help` (or `-h`) prints `usage` and exits 0; anything
 * it does not accept prints the problem and `usage` on stderr and exits USAGE_EXIT.
 */
export function benchArgs<O extends Options>(
  usage: string,
  options: O,
  argv: string[] = process.argv.slice(2),
) {
  const config = { args: argv, options, strict: true, allowPositionals: false } as const;
  const help = argv.includes('--help') || argv.includes('-h');
  if (help) {
    console.log(usage.trim());
    process.exit(0);
  }
  try {
    return parseArgs(config).values;
  } catch (err) {
    refuse((err as Error).message, usage);
  }
}

/** Print `problem` and the usage on stderr, and exit USAGE_EXIT. */
export function refuse(problem: string, usage: string): never {
  console.error(`${problem}\n\n${usage.trim()}`);
  process.exit(USAGE_EXIT);
}

const stops = new Set<() => Promise<unknown>>();
let interrupted = false;
let listening = false;
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as Record<NodeJS.Signals, number>;
/** How long the stops on an interrupt may take before the benchmark exits anyway. */
const STOP_BOUND_MS = 15_000;

function onSignal(signal: NodeJS.Signals): void {
  // A second Ctrl-C while stopping: leave at once.
  if (interrupted) process.exit(128 + SIGNALS[signal]);
  interrupted = true;
  process.exitCode = 128 + SIGNALS[signal];
  // The SDK's runtime shuts its workers down on the same signals, so the benchmark's own code may fail meanwhile:
  // what it throws now is the interrupt's doing, and must not end the process before the services are stopped.
  process.on('uncaughtException', () => {});
  process.on('unhandledRejection', () => {});
  console.error(`\n${signal}: stopping ${stops.size} service(s) the benchmark started`);
  const all = Promise.allSettled([...stops].map((stop) => stop()));
  const bound = new Promise((r) => setTimeout(r, STOP_BOUND_MS).unref());
  void Promise.race([all, bound]).then(() => process.exit(128 + SIGNALS[signal]));
}

/**
 * Runs `stop` if the benchmark is interrupted before it stops the service itself. Returns the stop to call when
 * done with the service: it runs `stop` once and takes it off the interrupt's list.
 */
export function stopOnInterrupt(stop: () => Promise<unknown>): () => Promise<void> {
  if (!listening) {
    listening = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let done: Promise<unknown> | undefined;
  const once = () => (done ??= stop());
  stops.add(once);
  return async () => {
    stops.delete(once);
    await once();
  };
}
