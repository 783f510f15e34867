/**
 * Starts the pipeline of a manifest from a script with DyffClient, waits for it and prints each stage; the same
 * run `dyffctl pipeline run -f <manifest> --wait` makes. Configuration as for dyffctl (dyff.config.yaml, DYFF_*).
 *
 *     npx tsx examples/start-pipeline.ts examples/spamassassin-pipeline.yaml
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DyffClient } from '../src/client.js';
import { Pipelines } from '../src/client-pipelines.js';
import { loadConfig } from '../src/config.js';
import { parsePipelineManifest } from '../src/domain/manifest.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: start-pipeline <pipeline manifest>\n');
  process.exit(2);
}
const manifest = parsePipelineManifest(await readFile(file, 'utf8'), file);

const dyff = await DyffClient.connect(loadConfig());
try {
  const pipelines = new Pipelines(dyff.temporal, dyff.config.temporal.taskQueue);
  const { id, workflowId } = await pipelines.start(manifest, { baseDir: dirname(resolve(file)) });
  process.stdout.write(`pipeline ${id} started: ${dyff.uiUrl(workflowId)}\n`);
  const view = await pipelines.wait(id);
  for (const [stage, s] of Object.entries(view.stages))
    process.stdout.write(`  ${stage}: ${s.status} ${s.id ?? ''}\n`);
  process.stdout.write(`pipeline ${id}: ${view.status}\n`);
  process.exitCode = view.status === 'Complete' ? 0 : 1;
} finally {
  await dyff.close();
}
