import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/install-temporal-cli.sh');

/**
 * The Temporal CLI to run the dev server with, built once by scripts/install-temporal-cli.sh; undefined when
 * neither a binary nor Go is available, in which case the SDK downloads its own.
 */
export async function resolveTemporalCli(): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('bash', [SCRIPT], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').at(-1);
  } catch (err) {
    if ((err as { code?: number }).code === 3) return undefined;
    throw new Error(`could not provide the Temporal CLI: ${(err as Error).message}`);
  }
}
