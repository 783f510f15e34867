import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/index.js';
import { DyffClient } from '../../client.js';
import { Pipelines } from '../../client-pipelines.js';
import type { Config } from '../../config.js';
import { loadConfig } from '../../config.js';
import type { DevServer } from '../../dev/dev-server.js';
import { registerSearchAttributes, startDevServer } from '../../dev/dev-server.js';
import { parseManifest, parsePipelineManifest } from '../../domain/manifest.js';
import { temporalConnectionOptions } from '../../temporal-connection.js';
import { createWorker } from '../../worker.js';
import { ExitCode } from '../exit-codes.js';
import { waitWithProgress } from './entities.js';
import { formatPipeline, stageFailures } from './pipelines.js';

const EXAMPLES = resolve(import.meta.dirname, '../../../examples');

async function reachable(config: Config): Promise<boolean> {
  try {
    const c = await Connection.connect({
      ...temporalConnectionOptions(config.temporal),
      connectTimeout: '1s',
    });
    await c.close();
    return true;
  } catch {
    return false;
  }
}

/** Use the configured Temporal server if one answers; otherwise start the embedded dev server on its state. */
export async function ensureServer(config: Config): Promise<DevServer | undefined> {
  if (await reachable(config)) {
    const c = await Connection.connect(temporalConnectionOptions(config.temporal));
    await registerSearchAttributes(c, config.temporal.namespace);
    await c.close();
    return undefined;
  }
  process.stderr.write(
    `starting the Temporal dev server (state in ${join(config.dataHome, 'temporal.db')})…\n`,
  );
  return startDevServer({ dbFilename: join(config.dataHome, 'temporal.db'), uiPort: 8233 });
}

export const localDir = (uri: string) => (uri.startsWith('file:') ? fileURLToPath(uri) : uri);

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the SpamAssassin demo: create the dataset, train a naive Bayes model on its train split, then run the ' +
        'pipeline (model, standalone service, evaluation on the test split, report)',
    )
    .option('--dataset-only', 'stop once the dataset is Ready')
    .action(async (opts: { datasetOnly?: boolean }) => {
      const config = loadConfig();
      const server = await ensureServer(config);
      const adapters = await createAdapters(config);
      const worker = await createWorker({ config, adapters });
      const running = worker.run();
      const client = await DyffClient.connect(config, adapters);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      try {
        // 1. The dataset.
        const datasetFile = join(EXAMPLES, 'spamassassin-dataset.yaml');
        const manifest = parseManifest(
          await readFile(datasetFile, 'utf8'),
          'examples/spamassassin-dataset.yaml',
        );
        const { id: datasetId, workflowId } = await client.create(manifest, { baseDir: EXAMPLES });
        process.stderr.write(`created Dataset ${datasetId}\n`);
        const code = await waitWithProgress(client, datasetId);
        const dataset = await client.get(datasetId);
        if (!dataset || code !== ExitCode.Ok) {
          process.stderr.write(`${dataset?.status} (${dataset?.reason}): ${dataset?.message}\n`);
          process.exitCode = code;
          return;
        }
        const datasetDir = localDir(
          String(dataset.details?.location ?? client.location('Dataset', datasetId)),
        );
        out(`Dataset ${datasetId} is Ready: ${String(dataset.details?.rowCount)} rows`);
        out(`  Parquet shards: ${join(datasetDir, 'data')}`);
        out(`  inspect:        dyffctl get ${datasetId}`);
        const ui = (id: string) =>
          server ? `run \`npm run dev\`, then open ${client.uiUrl(id)}` : client.uiUrl(id);
        out(`  Temporal UI:    ${ui(workflowId)}`);
        if (opts.datasetOnly) return;

        // 2. A real model: multinomial naive Bayes trained on the train split.
        const modelDir = join(config.dataHome, 'demo', 'naive-bayes');
        process.stderr.write(`training naive Bayes on the train split → ${modelDir}\n`);
        await promisify(execFile)(
          process.execPath,
          [
            '--import',
            'tsx',
            join(EXAMPLES, 'train-naive-bayes.ts'),
            '--dataset-dir',
            join(datasetDir, 'data'),
            '--out',
            modelDir,
          ],
          { maxBuffer: 16 << 20 },
        );

        // 3. The pipeline: the dataset is reused (same spec), the model fetched, served, evaluated, reported.
        const pipelineFile = join(EXAMPLES, 'spamassassin-pipeline.yaml');
        const pm = parsePipelineManifest(
          await readFile(pipelineFile, 'utf8'),
          'examples/spamassassin-pipeline.yaml',
        );
        pm.spec.model.source = { kind: 'local', path: modelDir };
        const pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
        const { id: pipelineId, workflowId: pipelineWorkflowId } = await pipelines.start(pm, {
          baseDir: EXAMPLES,
        });
        process.stderr.write(`started pipeline ${pipelineId}\n`);
        const view = await pipelines.wait(pipelineId);
        // A stage that failed is shown with what went wrong, under it.
        out(formatPipeline(view, await stageFailures(client, view)));
        const reportId = view.stages.report.id;
        const report = reportId ? await client.get(reportId) : undefined;
        if (view.status !== 'Complete' || !report) {
          process.exitCode = ExitCode.EntityFailed;
          return;
        }
        const metrics = (report.details?.metrics ?? {}) as Record<string, number>;
        const reportDir = localDir(client.location('Report', report.id));
        out(
          `Report ${report.id}: accuracy ${metrics.accuracy?.toFixed(4)} on the test split (${metrics.scored} mails)`,
        );
        out(`  report:         ${join(reportDir, 'index.html')}`);
        out(`  report.json:    ${join(reportDir, 'report.json')}`);
        out(`  Temporal UI:    ${ui(pipelineWorkflowId)}`);
        out(
          `Audit it (docs/audits.md): dyffctl create -f examples/spamassassin-audit.yaml --set spec.inferenceService=${view.stages.inferenceService.id} --set spec.evaluation=${view.stages.evaluation.id} --wait`,
        );
      } finally {
        await client.close();
        worker.worker.shutdown();
        await running;
        await adapters.close();
        await server?.stop();
      }
    });
}
