import type { Command } from 'commander';
import type { DyffClient } from '../../client.js';
import { LOG_START } from '../../activities/step-logs.js';
import type { LogCursor } from '../../activities/step-logs.js';
import type { Progress } from '../../domain/entity.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { PROGRESS_PREFIX } from '../../domain/log-layout.js';
import { isTerminal } from '../../domain/status.js';
import { formatProgress } from '../format.js';

const FOLLOW_INTERVAL_MS = 1000;

/**
 * `dyffctl logs <id> [--try N] [--step NAME] [-f]`: the entity's step logs from the object store, every step's
 * tries in order under a `==> step, try N <==` header (entities from before chunked logs print their single log).
 */
export function registerLogsCommand(
  program: Command,
  withClient: <T>(fn: (c: DyffClient) => Promise<T>) => Promise<T>,
): void {
  program
    .command('logs <id>')
    .description("print an entity's step logs (kept after the process or pod is gone)")
    .option('-f, --follow', 'keep printing until the entity reaches a terminal status')
    .option('--try <n>', 'only this try of each step (1 is the first; 0 a step run by hand)')
    .option('--step <name>', 'only this step program (fetch-data, ingest-dataset, evaluate, …)')
    .option('--raw', 'print the lines as stored: progress as `::progress::{json}`')
    .action(async (id: string, opts: { follow?: boolean; try?: string; step?: string; raw?: boolean }) => {
      const only = { try: parseTry(opts.try), step: parseStep(opts.step) };
      await withClient(async (client) => {
        let from: LogCursor = LOG_START;
        for (;;) {
          // The status is read before the logs: once it is terminal, this read has every line.
          const view = opts.follow ? await client.get(id) : undefined;
          const { text, next } = await client.logs(id, { ...only, from });
          process.stdout.write(opts.raw ? text : readableLogs(text));
          from = next;
          if (!opts.follow || !view || isTerminal(view.status)) return;
          await new Promise((r) => setTimeout(r, FOLLOW_INTERVAL_MS));
        }
      });
    });
}

/**
 * A step's progress lines as a person reads them (`… progress 4328/6046 rows (71%) read spam-1/…`); every other
 * line, and a progress line that does not parse (one cut by a read while following), as stored.
 */
const PROGRESS_LINE = new RegExp(`^(\\S+ )?${PROGRESS_PREFIX}(\\{.*\\})$`, 'gm');

export function readableLogs(text: string): string {
  return text.replace(PROGRESS_LINE, (line, stamp: string | undefined, json: string) => {
    try {
      const p = JSON.parse(json) as Omit<Progress, 'stage'>;
      return `${stamp ?? ''}${formatProgress({ ...p, stage: 'progress' })}`;
    } catch {
      return line;
    }
  });
}

function parseTry(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new DyffError(
      ErrorType.InvalidSpec,
      `--try: expected a whole number ≥ 0, got ${JSON.stringify(raw)}`,
    );
  return Number(raw);
}

function parseStep(raw: string | undefined): string | undefined {
  if (raw === undefined || /^[a-z][a-z0-9-]*$/.test(raw)) return raw;
  throw new DyffError(
    ErrorType.InvalidSpec,
    `--step: expected a step name like fetch-data, got ${JSON.stringify(raw)}`,
  );
}
