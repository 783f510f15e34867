import { DyffError } from '../domain/errors.js';
import { isUnreachable } from '../temporal-outage.js';
import { cliExitCode, ExitCode } from './exit-codes.js';

/**
 * Runs a command to its exit code and exits the process with it: an error becomes one `error:` line on stderr and
 * its exit code (an unreachable Temporal a one-line "unreachable", never a stack trace). dyffctl's entry point
 * (main.ts) and the step bundle's (step-entry.ts) both end here.
 */
export async function exitWith(command: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await command();
  } catch (err) {
    if (isUnreachable(err)) {
      process.stderr.write(`error: Temporal unreachable: ${(err as Error).message.split('\n')[0]}\n`);
      code = ExitCode.Unavailable;
    } else {
      process.stderr.write(
        `error: ${err instanceof DyffError ? err.message : ((err as Error).stack ?? String(err))}\n`,
      );
      code = cliExitCode(err);
    }
  }
  // Exit explicitly: an idle gRPC channel or DuckDB handle must not keep a finished command alive.
  process.exit(code);
}
