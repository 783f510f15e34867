import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/index.js';
import { DyffClient } from '../../client.js';
import { Benchmarks } from '../../client-benchmarks.js';
import { loadConfig } from '../../config.js';
import { parseBenchmarkManifest } from '../../domain/benchmark-manifest.js';
import { DyffError, ErrorType } from '../../domain/errors.js';
import { parseManifest } from '../../domain/manifest.js';
import { createWorker } from '../../worker.js';
import { ExitCode } from '../exit-codes.js';
import { benchmarkPage, formatBenchmark } from './benchmark-format.js';
import { ensureServer, localDir } from './demo.js';
import { waitWithProgress } from './entities.js';

const EXAMPLES = resolve(import.meta.dirname, '../../../examples');
const run = promisify(execFile);

const count = (flag: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new DyffError(ErrorType.InvalidSpec, `${flag}: expected a positive integer, got ${value}`);
  return n;
};

/** An example script run as the demo runs its training: the same Node, through tsx. */
const script = (name: string, args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(EXAMPLES, name), ...args], { maxBuffer: 16 << 20 });

/**
 * `dyffctl benchmark demo`: the image benchmark in one command, on whatever backends are configured (the
 * embedded default after the quick start). MNIST digits as PNG folders → the dataset → an MLP trained on its train
 * split → examples/mnist-benchmark.yaml: the test split clean and under each corruption × severity, each
 * evaluated and reported, then the report across corruptions.
 */
export function registerBenchmarkDemoCommand(benchmark: Command): void {
  benchmark
    .command('demo')
    .description(
      'the image benchmark: MNIST digits, an MLP trained on their train split, then examples/mnist-benchmark.yaml (the test split clean and under four corruptions at three severities)',
    )
    .option('--train-per-digit <n>', 'training images per digit (of the mnist package)', '700')
    .option(
      '--test-per-digit <n>',
      'test images per digit: each corrupted dataset has this many per digit',
      '150',
    )
    .option('--file <path>', 'the benchmark manifest', join(EXAMPLES, 'mnist-benchmark.yaml'))
    .action(async (opts: { trainPerDigit: string; testPerDigit: string; file: string }) => {
      const [train, test] = [
        count('--train-per-digit', opts.trainPerDigit),
        count('--test-per-digit', opts.testPerDigit),
      ];
      const benchmarkFile = resolve(opts.file);
      const manifest = parseBenchmarkManifest(await readFile(benchmarkFile, 'utf8'), opts.file);
      const config = loadConfig();
      const server = await ensureServer(config);
      const adapters = await createAdapters(config);
      const worker = await createWorker({ config, adapters });
      const running = worker.run();
      const client = await DyffClient.connect(config, adapters);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      try {
        // 1. The digits as PNG folders, `<digit>/<split>-<n>.png`, and the dataset made of them.
        const png = join(config.dataHome, 'demo', `mnist-png-${train}-${test}`);
        if (
          !(await access(png).then(
            () => true,
            () => false,
          ))
        ) {
          process.stderr.write(`writing MNIST digits (${train} train, ${test} test per digit) → ${png}\n`);
          await script('mnist-folder.ts', [
            '--out',
            png,
            '--train-per-digit',
            String(train),
            '--test-per-digit',
            String(test),
          ]);
        }
        const source = { kind: 'local' as const, path: png, include: '**/*.png' };
        const datasetManifest = parseManifest(
          await readFile(join(EXAMPLES, 'mnist-dataset.yaml'), 'utf8'),
          'examples/mnist-dataset.yaml',
        );
        const datasetSpec = { ...(datasetManifest.spec as object), source };
        const { id: datasetId } = await client.create(
          { ...datasetManifest, spec: datasetSpec },
          { baseDir: EXAMPLES },
        );
        process.stderr.write(`created Dataset ${datasetId}\n`);
        const code = await waitWithProgress(client, datasetId);
        const dataset = await client.get(datasetId);
        if (!dataset || code !== ExitCode.Ok) {
          process.stderr.write(`${dataset?.status} (${dataset?.reason}): ${dataset?.message}\n`);
          process.exitCode = code;
          return;
        }
        const shards = join(
          localDir(String(dataset.details?.location ?? client.location('Dataset', datasetId))),
          'data',
        );

        // 2. The model: a one-hidden-layer perceptron trained on the train split.
        const modelDir = join(config.dataHome, 'demo', `mnist-mlp-${train}-${test}`);
        process.stderr.write(`training the MLP on the train split → ${modelDir}\n`);
        const trained = await script('train-digits.ts', ['--dataset-dir', shards, '--out', modelDir]);
        process.stderr.write(trained.stdout);

        // 3. The benchmark: the dataset above reused (same spec), the model fetched and served once, every cell.
        manifest.spec.dataset = { ...manifest.spec.dataset, source };
        manifest.spec.model = { ...manifest.spec.model, source: { kind: 'local', path: modelDir } };
        const benchmarks = new Benchmarks(client.temporal, config.temporal.taskQueue);
        const { id, workflowId } = await benchmarks.start(manifest, { baseDir: EXAMPLES });
        process.stderr.write(`started benchmark ${id} (${manifest.spec.corruptions.length} corruptions)\n`);
        const view = await benchmarks.wait(id);
        out(formatBenchmark(view));
        if (view.report) out(`report across corruptions: ${benchmarkPage(client, id)}`);
        out(
          `Temporal UI: ${server ? `run \`npm run dev\`, then open ${client.uiUrl(workflowId)}` : client.uiUrl(workflowId)}`,
        );
        process.exitCode = view.status === 'Complete' ? ExitCode.Ok : ExitCode.EntityFailed;
      } finally {
        await client.close();
        worker.worker.shutdown();
        await running;
        await adapters.close();
        await server?.stop();
      }
    });
}
