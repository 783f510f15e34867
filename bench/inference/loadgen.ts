import { createRequire } from 'node:module';
import { measured } from '../step-process.js';
import { sampleText } from './dataset.js';

/** The generator's request body: a dataset row as the client's input pipeline turns it into a request. */
export const BODY = JSON.stringify({ text: sampleText(0) });

export interface LoadResult {
  requestsPerSecond: number;
  errors: number;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  non2xx: number;
  requests: { total: number };
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

/**
 * autocannon (npm, a devDependency) as the independent reference: a load generator this project did not write,
 * with its own HTTP/1.1 client. Without it the benchmark has nothing to compare with, so it refuses to run.
 */
export async function loadAutocannon() {
  let run: Autocannon;
  try {
    run = ((await import('autocannon' as string)) as unknown as { default: Autocannon }).default;
  } catch {
    throw new Error(
      'bench:inference needs the load generator autocannon, a devDependency: run `npm ci` (or `npm install`) in the checkout',
    );
  }
  /** `amount` POSTs over `connections` keep-alive connections; requests per second over the whole run. */
  return async (url: string, connections: number, amount: number): Promise<LoadResult> => {
    const result = await run({
      url,
      method: 'POST',
      body: BODY,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      connections,
      amount,
    });
    const ok = result.requests.total - result.non2xx;
    return { requestsPerSecond: ok / result.duration, errors: result.errors + result.non2xx };
  };
}

export interface ProcessLoadResult extends LoadResult {
  /** Spawn to exit. */
  seconds: number;
  cpuPerRequest: number;
  mainCpuPerRequest: number;
  maxRssMiB: number;
}

/**
 * autocannon as its own process, through its command line, timed from spawn to exit: the same terms as the client,
 * which is the evaluate step's own process (its start, its JIT's warm-up and its exit inside its time). In the
 * benchmark's process autocannon is loaded once and warmed by the levels before; this is the comparison on equal
 * footing, printed beside the other.
 */
export async function autocannonProcess(
  url: string,
  connections: number,
  amount: number,
  usageFile: string,
): Promise<ProcessLoadResult> {
  const cli = createRequire(import.meta.url).resolve('autocannon');
  let json = '';
  const run = await measured(
    [
      cli,
      ...['-c', String(connections), '-a', String(amount), '-m', 'POST', '-b', BODY],
      ...['-H', 'content-type=application/json', '-H', 'accept=application/json', '--json', url],
    ],
    process.env,
    usageFile,
    (line) => void (json += line),
  );
  const result = JSON.parse(json) as AutocannonResult;
  const ok = result.requests.total - result.non2xx;
  return {
    requestsPerSecond: ok / run.seconds,
    errors: result.errors + result.non2xx,
    seconds: run.seconds,
    cpuPerRequest: Math.round((run.cpuSeconds * 1e6) / amount),
    mainCpuPerRequest: Math.round((run.mainCpuSeconds * 1e6) / amount),
    maxRssMiB: run.maxRssMiB,
  };
}
