import type { Command } from 'commander';
import type { loadConfig } from '../../config.js';
import { configFilePath } from '../../config.js';
import {
  checkCategory,
  createCategoryBucket,
  DEFAULT_LOCATION,
  listCategoryBuckets,
} from '../../gcp/buckets.js';

interface CreateOptions {
  category: string;
  prefix?: string;
  location: string;
  project?: string;
  ifExists?: boolean;
}

/** `dyffctl buckets create|list`: one GCS bucket per category, recorded in dyff.config.yaml. */
export function registerBucketsCommands(program: Command, deps: { loadConfig: typeof loadConfig }): void {
  const buckets = program
    .command('buckets')
    .description('GCS buckets per category (<prefix>-<category>-<16 hex>), recorded in the config file');

  buckets
    .command('create')
    .description('create the bucket of a category and record it under gcs.buckets in the config file')
    .requiredOption(
      '--category <category>',
      'rawdata, datasets, models, inferenceservices, outputs, reports, …',
    )
    .option('--prefix <prefix>', 'bucket name prefix (default: gcs.bucketPrefix)')
    .option('--location <location>', 'bucket location', DEFAULT_LOCATION)
    .option('--project <project>', 'GCP project (default: gcs.projectId)')
    .option('--if-exists', "return the category's existing bucket instead of refusing")
    .action(async (opts: CreateOptions) => {
      const config = deps.loadConfig();
      const result = await createCategoryBucket({
        target: {
          projectId: opts.project ?? config.gcs.projectId,
          apiEndpoint: config.gcs.apiEndpoint,
          prefix: opts.prefix ?? config.gcs.bucketPrefix,
        },
        category: checkCategory(opts.category),
        location: opts.location,
        ifExists: opts.ifExists,
        configured: config.gcs.buckets,
        configFile: configFilePath(),
      });
      process.stderr.write(
        `${result.created ? 'created' : 'exists'}: ${result.category} → gs://${result.bucket}\n`,
      );
      process.stdout.write(`gs://${result.bucket}\n`);
    });

  buckets
    .command('list')
    .description('the bucket of each category: configured, and found in the project')
    .option('--prefix <prefix>', 'bucket name prefix (default: gcs.bucketPrefix)')
    .option('--project <project>', 'GCP project (default: gcs.projectId)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { prefix?: string; project?: string; output: string }) => {
      const config = deps.loadConfig();
      const rows = await listCategoryBuckets({
        target: {
          projectId: opts.project ?? config.gcs.projectId,
          apiEndpoint: config.gcs.apiEndpoint,
          prefix: opts.prefix ?? config.gcs.bucketPrefix,
        },
        configured: config.gcs.buckets,
      });
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const state = (r: (typeof rows)[number]) =>
        r.configured ? (r.exists ? 'ok' : 'missing in project') : 'not in config';
      const cells = [['CATEGORY', 'BUCKET', 'STATE'], ...rows.map((r) => [r.category, r.bucket, state(r)])];
      const widths = [0, 1].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
      for (const c of cells)
        process.stdout.write(`${c[0]!.padEnd(widths[0]!)}  ${c[1]!.padEnd(widths[1]!)}  ${c[2]}\n`);
    });
}
