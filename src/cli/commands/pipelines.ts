import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DyffClient } from '../../client.js';
import { pipelineInput, Pipelines } from '../../client-pipelines.js';
import type { ScheduledRun } from '../../client-schedules.js';
import { parseOverlap, Schedules } from '../../client-schedules.js';
import { loadConfig } from '../../config.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { parsePipelineManifest } from '../../domain/manifest.js';
import { whileUnreachable } from '../../temporal-outage.js';
import type { StageView } from '../../domain/pipeline.js';
import type { PipelineView } from '../../workflows/index.js';
import { ExitCode } from '../exit-codes.js';

async function withTemporal<T>(fn: (p: Pipelines, s: Schedules, c: DyffClient) => Promise<T>): Promise<T> {
  const client = await DyffClient.connect(loadConfig());
  try {
    const tq = client.config.temporal.taskQueue;
    return await fn(new Pipelines(client.temporal, tq), new Schedules(client.temporal, tq), client);
  } finally {
    await client.close();
  }
}

async function readPipeline(file: string) {
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new DyffError(ErrorType.InvalidSpec, `${file}: cannot read (${err.code})`);
  });
  return { manifest: parsePipelineManifest(text, file), baseDir: dirname(path) };
}

/**
 * A pipeline's status and each stage's, then its audits'. Under a stage or audit that failed, `failures` gives what
 * its entity says went wrong (`stageFailures`).
 */
export function formatPipeline(v: PipelineView, failures: ReadonlyMap<string, string[]> = new Map()): string {
  const lines = [`pipeline ${v.id}: ${v.status}${v.reason ? ` (${v.reason})` : ''}`];
  const rows: [string, StageView][] = [
    ...Object.entries(v.stages),
    ...(v.audits ?? []).map((a, i): [string, StageView] => [`audit ${i + 1}`, a]),
  ];
  for (const [stage, s] of rows) {
    lines.push(`  ${stage.padEnd(17)} ${s.status.padEnd(8)} ${s.id ?? ''}`.trimEnd());
    for (const line of (s.id && failures.get(s.id)) || []) lines.push(`${' '.repeat(20)}${line}`);
  }
  return lines.join('\n');
}

/**
 * For each stage or audit that failed, by entity id: its status and reason with the first line of its message, the
 * last `error:` line of the step's log the message quotes, and where to read the rest.
 */
export async function stageFailures(client: DyffClient, v: PipelineView): Promise<Map<string, string[]>> {
  const failed = [...Object.values(v.stages), ...(v.audits ?? [])].filter(
    (s) => s.status === 'Failed' && s.id,
  );
  const out = new Map<string, string[]>();
  for (const { id } of failed) {
    const e = await client.get(id!);
    if (!e) continue;
    const message = (e.message ?? '').split('\n').map((l) => l.trim());
    const error = message.slice(1).findLast((l) => l.startsWith('error:'));
    out.set(id!, [
      `${e.status}${e.reason ? ` (${e.reason})` : ''}${message[0] ? `: ${message[0]}` : ''}`,
      ...(error ? [error] : []),
      `more: dyffctl get ${id!}; dyffctl logs ${id!}`,
    ]);
  }
  return out;
}

/**
 * `2026-11-30T04:00:00Z  pipeline <id>  COMPLETED  accuracy=0.9312  report <id>`; a run whose report did not
 * complete says why in its place: `…  FAILED  -  report <id> Failed: the pipeline's model stage failed (Model <id>)`.
 */
export function formatScheduledRun(r: ScheduledRun): string {
  const metric = r.metric ? `${r.metric.name}=${Math.round(r.metric.value * 10_000) / 10_000}` : '-';
  const when = r.startTime.toISOString().replace(/\.\d+Z$/, 'Z');
  const report = r.reportId ? `  report ${r.reportId}${r.reportProblem ? ` ${r.reportProblem}` : ''}` : '';
  return `${when}  pipeline ${r.pipelineId ?? r.workflowId}  ${r.status}  ${metric}${report}\n`;
}

export function registerPipelineCommands(program: Command): void {
  const pipeline = program
    .command('pipeline')
    .description('the whole lifecycle from one spec: dataset, model, service, evaluation, report');
  pipeline
    .command('run')
    .description('start a pipeline from a `kind: Pipeline` manifest')
    .requiredOption('-f, --file <path>', 'pipeline manifest')
    .option('--force', 'make every entity anew, even when an identical Dataset or Model is Ready')
    .option('--wait', 'wait until it ends; exit 1 if it failed')
    .action(async (opts: { file: string; force?: boolean; wait?: boolean }) => {
      const { manifest, baseDir } = await readPipeline(opts.file);
      process.exitCode = await withTemporal(async (pipelines, _s, client) => {
        const { id, workflowId } = await pipelines.start(manifest, { force: opts.force, baseDir });
        process.stdout.write(`pipeline ${id} started\n  workflow: ${client.uiUrl(workflowId)}\n`);
        if (!opts.wait) return ExitCode.Ok;
        const view = await whileUnreachable(() => pipelines.wait(id), {
          address: client.config.temporal.address,
          timeoutMs: client.config.temporal.unreachableTimeoutSeconds * 1000,
          onUnreachable: () => process.stderr.write('Temporal unreachable, retrying\n'),
        });
        process.stdout.write(`${formatPipeline(view, await stageFailures(client, view))}\n`);
        return view.status === 'Complete' ? ExitCode.Ok : ExitCode.EntityFailed;
      });
    });
  pipeline
    .command('input')
    .description(
      'print the workflow input of a pipeline manifest as JSON, for `temporal workflow start --type pipelineWorkflow --input-file`; the run makes its own id',
    )
    .requiredOption('-f, --file <path>', 'pipeline manifest')
    .option('--force', 'make every entity anew, even when an identical Dataset or Model is Ready')
    .action(async (opts: { file: string; force?: boolean }) => {
      const { manifest, baseDir } = await readPipeline(opts.file);
      process.stdout.write(
        `${JSON.stringify(pipelineInput(manifest, { id: '', force: opts.force, baseDir }), null, 2)}\n`,
      );
    });
  pipeline
    .command('get <id>')
    .description("show a pipeline's stages")
    .action(async (id: string) => {
      await withTemporal(async (pipelines, _s, client) => {
        const view = await pipelines.get(id);
        process.stdout.write(`${formatPipeline(view, await stageFailures(client, view))}\n`);
      });
    });
  pipeline
    .command('cancel <id>')
    .description('cancel a pipeline: running children are cancelled, sessions stopped')
    .action(async (id: string) => {
      const requested = await withTemporal((pipelines) => pipelines.cancel(id));
      process.stdout.write(
        requested
          ? `cancel requested for pipeline ${id}\n`
          : `nothing to cancel: pipeline ${id} has ended (dyffctl pipeline get ${id})\n`,
      );
    });

  const schedule = program.command('schedule').description('re-run a pipeline on a Temporal Schedule');
  schedule
    .command('create <name>')
    .requiredOption('-f, --file <path>', 'pipeline manifest')
    .requiredOption('--every <interval>', 'e.g. 1h, 30m, 1d')
    .option('--paused', 'create it paused')
    .option(
      '--overlap <policy>',
      'when the previous run still goes: skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all',
      'skip',
    )
    .action(
      async (name: string, opts: { file: string; every: string; paused?: boolean; overlap: string }) => {
        const overlap = parseOverlap(opts.overlap);
        if (!/^\d+(ms|s|m|h|d)$/.test(opts.every)) {
          throw new DyffError(
            ErrorType.InvalidSpec,
            `--every: expected a duration such as 30s, 15m, 1h or 1d, got ${opts.every}`,
          );
        }
        const { manifest, baseDir } = await readPipeline(opts.file);
        await withTemporal((_p, schedules) =>
          schedules.create(name, manifest, { every: opts.every, paused: opts.paused, baseDir, overlap }),
        );
        process.stdout.write(`schedule ${name} created: a pipeline run every ${opts.every}\n`);
      },
    );
  schedule.command('list').action(async () => {
    const rows = await withTemporal((_p, schedules) => schedules.list());
    for (const s of rows)
      process.stdout.write(
        `${s.scheduleId}  ${s.state.paused ? 'paused' : 'active'}  ${s.state.note ?? ''}\n`,
      );
  });
  schedule.command('describe <name>').action(async (name: string) => {
    const d = await withTemporal((_p, schedules) => schedules.describe(name));
    process.stdout.write(
      `${name}: ${d.state.paused ? 'paused' : 'active'}, ${d.info.numActionsTaken} runs, next ${d.info.nextActionTimes[0]?.toISOString() ?? '-'}\n` +
        d.info.recentActions
          .map((a) => `  ${a.takenAt.toISOString()}  ${a.action.workflow.workflowId}\n`)
          .join(''),
    );
  });
  schedule
    .command('history <name>')
    .description("the schedule's runs, newest first, each with its report's headline metric")
    .option('--limit <n>', 'at most this many runs', '20')
    .action(async (name: string, opts: { limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new DyffError(ErrorType.InvalidSpec, `--limit: expected a positive integer, got ${opts.limit}`);
      const runs = await withTemporal((_p, schedules, client) => schedules.history(name, client, limit));
      process.stdout.write(runs.map(formatScheduledRun).join(''));
    });
  schedule.command('pause <name>').action(async (name: string) => withTemporal((_p, s) => s.pause(name)));
  schedule.command('unpause <name>').action(async (name: string) => withTemporal((_p, s) => s.unpause(name)));
  schedule
    .command('trigger <name>')
    .description('start a run now')
    .action(async (name: string) => withTemporal((_p, s) => s.trigger(name)));
  schedule
    .command('backfill <name>')
    .description('run what the schedule would have run between two times')
    .requiredOption('--from <time>', 'ISO time')
    .requiredOption('--to <time>', 'ISO time')
    .action(async (name: string, opts: { from: string; to: string }) => {
      const [from, to] = [new Date(opts.from), new Date(opts.to)];
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
        throw new DyffError(
          ErrorType.InvalidSpec,
          '--from/--to: expected ISO times such as 2026-11-26T10:00:00Z',
        );
      }
      await withTemporal((_p, s) => s.backfill(name, from, to));
    });
  schedule.command('delete <name>').action(async (name: string) => withTemporal((_p, s) => s.delete(name)));
}
