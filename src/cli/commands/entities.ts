import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DyffClient } from '../../client.js';
import type { EntityView } from '../../client.js';
import { loadConfig } from '../../config.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { ENTITY_KINDS } from '../../domain/kinds.js';
import type { EntityKind } from '../../domain/kinds.js';
import { parseManifest, parseYamlDocument, validateManifest } from '../../domain/manifest.js';
import { applySets } from '../set-fields.js';
import { STATUSES } from '../../domain/status.js';
import type { Status } from '../../domain/status.js';
import { ExitCode } from '../exit-codes.js';
import { describeEntity, entityTable, statusLine } from '../format.js';
import { registerLogsCommand } from './logs.js';

async function withClient<T>(fn: (c: DyffClient) => Promise<T>): Promise<T> {
  const client = await DyffClient.connect(loadConfig());
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Wait with a live status line; the exit code says how the entity ended. */
export async function waitWithProgress(client: DyffClient, id: string): Promise<number> {
  const tty = process.stderr.isTTY;
  let last = '';
  const show = (line: string) => {
    if (line === last) return;
    last = line;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const done = await client.wait(id, {
    onProgress: (v) => show(statusLine(v)),
    onUnreachable: () => show(`Temporal unreachable, retrying (${client.config.temporal.address})`),
  });
  if (tty) process.stderr.write('\n');
  return exitForStatus(done);
}

export function exitForStatus(v: EntityView): number {
  return v.status === 'Ready' || v.status === 'Complete' ? ExitCode.Ok : ExitCode.EntityFailed;
}

export function registerEntityCommands(program: Command): void {
  program
    .command('create')
    .description('create an entity from a YAML manifest (kind, account, spec)')
    .requiredOption('-f, --file <path>', 'manifest file')
    .option('--wait', 'wait until the entity is Ready/Complete or has failed; exit 1 if it failed')
    .option('--request-id <id>', 'one entity per request id: a retried create returns the same entity')
    .option('-o, --output <format>', 'text or json', 'text')
    .option(
      '--set <path=value...>',
      'set a manifest field before it is checked, e.g. --set spec.evaluation=<id> (repeatable)',
    )
    .action(
      async (opts: { file: string; wait?: boolean; requestId?: string; output: string; set?: string[] }) => {
        const path = resolve(opts.file);
        let text: string;
        try {
          text = await readFile(path, 'utf8');
        } catch (err) {
          throw new DyffError(
            ErrorType.InvalidSpec,
            `${opts.file}: cannot read (${(err as NodeJS.ErrnoException).code})`,
          );
        }
        if (/^kind:\s*Pipeline\s*$/m.test(text)) {
          throw new DyffError(
            ErrorType.InvalidSpec,
            `${opts.file}: kind Pipeline runs with \`dyffctl pipeline run -f ${opts.file}\``,
          );
        }
        const manifest = opts.set?.length
          ? validateManifest(applySets(parseYamlDocument(text, opts.file), opts.set, opts.file), opts.file)
          : parseManifest(text, opts.file);
        process.exitCode = await withClient(async (client) => {
          const { id, workflowId, created } = await client.create(manifest, {
            baseDir: dirname(path),
            requestId: opts.requestId,
          });
          if (opts.output === 'json')
            process.stdout.write(`${JSON.stringify({ id, workflowId, created })}\n`);
          else
            process.stdout.write(
              `${manifest.kind} ${id} ${created ? 'created' : 'already exists (same request id)'}\n  workflow: ${client.uiUrl(workflowId)}\n`,
            );
          if (!opts.wait) return ExitCode.Ok;
          const code = await waitWithProgress(client, id);
          const view = await client.get(id);
          if (view) process.stdout.write(`${describeEntity(view, client.location(view.kind, view.id))}\n`);
          return code;
        });
      },
    );

  program
    .command('get <id>')
    .description('show an entity: status, reason, progress, location')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (id: string, opts: { output: string }) => {
      await withClient(async (client) => {
        const view = await client.get(id);
        if (!view) throw new DyffError(ErrorType.NotFound, `no entity with id ${id}`);
        process.stdout.write(
          opts.output === 'json'
            ? `${JSON.stringify(view, null, 2)}\n`
            : `${describeEntity(view, client.location(view.kind, view.id))}\n`,
        );
      });
    });

  program
    .command('list')
    .description('list entities, newest first')
    .option('-k, --kind <kind>', `one of ${ENTITY_KINDS.join(', ')}`)
    .option('-a, --account <account>')
    .option('-s, --status <status>', `one of ${STATUSES.join(', ')}`)
    .option('-l, --label <key=value...>', 'label selector (repeatable)')
    .option('--limit <n>', 'at most this many', '100')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(
      async (opts: {
        kind?: string;
        account?: string;
        status?: string;
        label?: string[];
        limit: string;
        output: string;
      }) => {
        if (opts.kind && !ENTITY_KINDS.includes(opts.kind as EntityKind)) {
          throw new DyffError(
            ErrorType.InvalidSpec,
            `--kind: unknown kind ${opts.kind}; expected one of ${ENTITY_KINDS.join(', ')}`,
          );
        }
        if (opts.status && !STATUSES.includes(opts.status as Status)) {
          throw new DyffError(
            ErrorType.InvalidSpec,
            `--status: unknown status ${opts.status}; expected one of ${STATUSES.join(', ')}`,
          );
        }
        const labels: Record<string, string> = {};
        for (const pair of opts.label ?? []) {
          const [k, v] = pair.split('=', 2);
          if (!k || v === undefined)
            throw new DyffError(ErrorType.InvalidSpec, `--label: expected key=value, got ${pair}`);
          labels[k] = v;
        }
        const rows = await withClient((client) =>
          client.list({
            kind: opts.kind as EntityKind | undefined,
            account: opts.account,
            status: opts.status as Status | undefined,
            labels,
            limit: Number(opts.limit),
          }),
        );
        process.stdout.write(
          opts.output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : `${entityTable(rows)}\n`,
        );
      },
    );

  registerLogsCommand(program, withClient);

  program
    .command('cancel <id>')
    .description('cancel: stop the running step; the entity ends Terminated')
    .option('--wait', 'wait until it is Terminated')
    .action(async (id: string, opts: { wait?: boolean }) => {
      await withClient(async (client) => {
        if (!(await client.cancel(id))) {
          const v = await client.get(id);
          process.stdout.write(
            `nothing to cancel: ${id} is ${v?.status}${v?.reason ? ` (${v.reason})` : ''}, and its run has ended\n`,
          );
          return;
        }
        process.stdout.write(`cancel requested for ${id}\n`);
        if (opts.wait) {
          const v = await client.wait(id);
          process.stdout.write(`${v.status}${v.reason ? ` (${v.reason})` : ''}\n`);
        }
      });
    });
}
