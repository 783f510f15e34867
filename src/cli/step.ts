import { createObjectStore } from '../adapters/index.js';
import { loadConfig } from '../config.js';
import { trustExtraCasOnFirstUse } from '../steps/net/extra-ca.js';
import { ExitCode } from './exit-codes.js';

/** `dyffctl step <name> …`: the program a job runs. Kept free of Temporal and commander for a fast start. */
export async function stepMain(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write('usage: dyffctl step <fetch-data|ingest-dataset> --id <entity id> --spec <json>\n');
    return ExitCode.InvalidInput;
  }
  // The worker's extra certificates, parsed at the step's first TLS connection rather than as Node starts.
  trustExtraCasOnFirstUse();
  const config = loadConfig();
  const objectStore = await createObjectStore(config);
  const { runStepProgram } = await import('../steps/run.js');
  return runStepProgram(name, rest, { objectStore, config });
}
