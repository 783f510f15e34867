/**
 * The demo's lifecycle made one entity at a time from its own manifest, as a script would: Dataset, Model,
 * InferenceService, Evaluation, Report, each waited for before the next, whose manifest names it by the id its
 * create returned (`${MODEL_ID}` and so on). Every create carries a request id made from the run's name, so
 * running the script again — after a crash, or by mistake — finds the entities already made instead of making
 * new ones; a new name makes a new set. Configuration as for dyffctl (dyff.config.yaml, DYFF_*).
 *
 *     npx dyffctl demo                              # once: trains the model into .dyff/demo/naive-bayes
 *     npx tsx examples/create-each-kind.ts [name]   # name @default spamassassin-1
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DyffClient } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { parseManifest } from '../src/domain/manifest.js';

const name = process.argv[2] ?? 'spamassassin-1';
const here = import.meta.dirname;

/** Each manifest in order, and the placeholder that names the entity it makes in the manifests after it. */
const STEPS: [file: string, placeholder: string][] = [
  ['spamassassin-dataset.yaml', 'DATASET_ID'],
  ['spamassassin-model.yaml', 'MODEL_ID'],
  ['spamassassin-service.yaml', 'SERVICE_ID'],
  ['spamassassin-evaluation.yaml', 'EVALUATION_ID'],
  ['spamassassin-report.yaml', 'REPORT_ID'],
];

const ids: Record<string, string> = {};
const fill = (text: string, file: string) =>
  text.replaceAll(/\$\{(\w+)\}/g, (_, key: string) => {
    const id = ids[key];
    if (!id) throw new Error(`${file}: \${${key}} is not an entity made before it`);
    return id;
  });

const dyff = await DyffClient.connect(loadConfig());
try {
  for (const [file, placeholder] of STEPS) {
    const path = join(here, file);
    const manifest = parseManifest(fill(await readFile(path, 'utf8'), file), file);
    const requestId = `${name}/${manifest.kind}`;
    const { id, workflowId, created } = await dyff.create(manifest, { baseDir: here, requestId });
    process.stdout.write(
      `${manifest.kind} ${id} ${created ? 'created' : 'already there'} (${dyff.uiUrl(workflowId)})\n`,
    );
    const done = await dyff.wait(id);
    process.stdout.write(
      `  ${done.status}${done.reason ? ` (${done.reason}: ${done.message ?? ''})` : ''}\n`,
    );
    if (done.status !== 'Ready' && done.status !== 'Complete') {
      process.exitCode = 1;
      break;
    }
    ids[placeholder] = id;
  }
  const report = ids.REPORT_ID ? await dyff.get(ids.REPORT_ID) : undefined;
  if (report) {
    const metrics = (report.details?.metrics ?? {}) as Record<string, number>;
    process.stdout.write(`accuracy ${metrics.accuracy?.toFixed(4)}: ${dyff.location('Report', report.id)}\n`);
  }
} finally {
  await dyff.close();
}
