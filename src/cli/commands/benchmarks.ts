import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DyffClient } from '../../client.js';
import { benchmarkInput, Benchmarks } from '../../client-benchmarks.js';
import { loadConfig } from '../../config.js';
import { parseBenchmarkManifest } from '../../domain/benchmark-manifest.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { whileUnreachable } from '../../temporal-outage.js';
import { ExitCode } from '../exit-codes.js';
import { registerBenchmarkDemoCommand } from './benchmark-demo.js';
import { benchmarkPage, formatBenchmark } from './benchmark-format.js';

async function withBenchmarks<T>(fn: (b: Benchmarks, c: DyffClient) => Promise<T>): Promise<T> {
  const client = await DyffClient.connect(loadConfig());
  try {
    return await fn(new Benchmarks(client.temporal, client.config.temporal.taskQueue), client);
  } finally {
    await client.close();
  }
}

export async function readBenchmark(file: string) {
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new DyffError(ErrorType.InvalidSpec, `${file}: cannot read (${err.code})`);
  });
  return { manifest: parseBenchmarkManifest(text, file), baseDir: dirname(path) };
}

export function registerBenchmarkCommands(program: Command): void {
  const benchmark = program
    .command('benchmark')
    .description(
      'a robustness benchmark: one model on a dataset and on each corruption × severity of it, with a report across corruptions',
    );
  benchmark
    .command('run')
    .description('start a benchmark from a `kind: Benchmark` manifest')
    .requiredOption('-f, --file <path>', 'benchmark manifest')
    .option('--force', 'make every entity anew, even when an identical Dataset or Model is Ready')
    .option('--wait', 'wait until it ends; exit 1 if any evaluation failed')
    .action(async (opts: { file: string; force?: boolean; wait?: boolean }) => {
      const { manifest, baseDir } = await readBenchmark(opts.file);
      process.exitCode = await withBenchmarks(async (benchmarks, client) => {
        const { id, workflowId } = await benchmarks.start(manifest, { force: opts.force, baseDir });
        process.stdout.write(`benchmark ${id} started\n  workflow: ${client.uiUrl(workflowId)}\n`);
        if (!opts.wait) return ExitCode.Ok;
        const view = await whileUnreachable(() => benchmarks.wait(id), {
          address: client.config.temporal.address,
          timeoutMs: client.config.temporal.unreachableTimeoutSeconds * 1000,
          onUnreachable: () => process.stderr.write('Temporal unreachable, retrying\n'),
        });
        process.stdout.write(`${formatBenchmark(view)}\n`);
        if (view.report) process.stdout.write(`  report across corruptions: ${benchmarkPage(client, id)}\n`);
        return view.status === 'Complete' ? ExitCode.Ok : ExitCode.EntityFailed;
      });
    });
  benchmark
    .command('input')
    .description(
      'print the workflow input of a benchmark manifest as JSON (`temporal workflow start --type benchmarkWorkflow`)',
    )
    .requiredOption('-f, --file <path>', 'benchmark manifest')
    .option('--id <id>', 'the run id (32 lowercase hex digits)', '0'.repeat(32))
    .action(async (opts: { file: string; id: string }) => {
      const { manifest, baseDir } = await readBenchmark(opts.file);
      process.stdout.write(
        `${JSON.stringify(benchmarkInput(manifest, { id: opts.id, baseDir }), null, 2)}\n`,
      );
    });
  benchmark
    .command('get <id>')
    .description("show a benchmark's cells and where its report across corruptions is")
    .action(async (id: string) => {
      await withBenchmarks(async (benchmarks, client) => {
        const view = await benchmarks.get(id);
        process.stdout.write(`${formatBenchmark(view)}\n`);
        if (view.report) process.stdout.write(`  report across corruptions: ${benchmarkPage(client, id)}\n`);
      });
    });
  benchmark
    .command('cancel <id>')
    .description('cancel a benchmark: running children are cancelled, sessions stopped')
    .action(async (id: string) => {
      const requested = await withBenchmarks((benchmarks) => benchmarks.cancel(id));
      process.stdout.write(
        requested
          ? `cancel requested for benchmark ${id}\n`
          : `nothing to cancel: benchmark ${id} has ended (dyffctl benchmark get ${id})\n`,
      );
    });
  registerBenchmarkDemoCommand(benchmark);
}
