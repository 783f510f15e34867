/**
 * Trains the image demo model: a one-hidden-layer perceptron on a dataset's Parquet shards (columns `image`, a
 * PNG/JPEG BLOB, `label` and `split`; what `image-folders` ingest writes), writing `<out>/model.json` (what
 * `dyffctl serve-model` serves) and `<out>/README.md`.
 *
 *     npx tsx examples/mnist-folder.ts --out .dyff/demo/mnist-png
 *     (create examples/mnist-dataset.yaml, or run the pipeline once, to get a Ready dataset)
 *     npx tsx examples/train-digits.ts --dataset-dir .dyff/objects/datasets/<id>/data --out .dyff/demo/mnist-mlp
 *
 * Trains on split = 'train' (all rows if there is no split column) and reports accuracy on split = 'test'.
 * Images are decoded exactly as the server decodes them (`src/model/image-pixels.ts`).
 */
import { DuckDBBlobValue, DuckDBInstance, quotedString } from '@duckdb/node-api';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { imagePixels } from '../src/model/image-pixels.js';
import type { MlpModel, PixelExample } from '../src/model/mlp.js';
import { createMlpPredictor, trainMlp } from '../src/model/mlp.js';
import { serializeMlp } from '../src/model/mlp-file.js';

const { values: args } = parseArgs({
  options: {
    'dataset-dir': { type: 'string' },
    out: { type: 'string' },
    size: { type: 'string', default: '28' },
    hidden: { type: 'string', default: '64' },
    epochs: { type: 'string', default: '8' },
    'learning-rate': { type: 'string', default: '0.05' },
    seed: { type: 'string', default: 'dyff' },
  },
});
if (!args['dataset-dir'] || !args.out) {
  process.stderr.write(
    'usage: train-digits --dataset-dir <dir of Parquet shards> --out <model dir> [--size 28] [--hidden 64] [--epochs 8]\n',
  );
  process.exit(2);
}
const size = { width: Number(args.size), height: Number(args.size) };

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const shards = quotedString(join(args['dataset-dir'], '**', '*.parquet'));
const columns = (await db.runAndReadAll(`SELECT * FROM read_parquet(${shards}) LIMIT 0`)).columnNames();
for (const needed of ['image', 'label']) {
  if (!columns.includes(needed))
    throw new Error(`the dataset has no ${needed} column (columns: ${columns.join(', ')})`);
}
const hasSplit = columns.includes('split');

/** Rows of one split decoded to pixels, read a chunk at a time. */
async function examples(split: string): Promise<PixelExample[]> {
  const where = hasSplit ? ` WHERE split = ${quotedString(split)}` : '';
  const result = await db.stream(`SELECT image, label FROM read_parquet(${shards})${where} ORDER BY _index_`);
  const out: PixelExample[] = [];
  for await (const rows of result.yieldRows()) {
    for (const [image, label] of rows) {
      if (!(image instanceof DuckDBBlobValue)) throw new Error('a row has no image');
      out.push({ pixels: await imagePixels(image.bytes, size), label: String(label) });
    }
  }
  return out;
}

const started = performance.now();
const train = await examples('train');
const model = trainMlp(train, {
  ...size,
  hidden: Number(args.hidden),
  epochs: Number(args.epochs),
  learningRate: Number(args['learning-rate']),
  seed: args.seed,
});
const seconds = (performance.now() - started) / 1000;

let tested = 0;
let correct = 0;
if (hasSplit) {
  const predict = createMlpPredictor(model);
  for (const e of await examples('test')) {
    tested++;
    if (predict(e.pixels)[0]?.label === e.label) correct++;
  }
}
db.closeSync();
instance.closeSync();

await mkdir(args.out, { recursive: true });
await writeFile(join(args.out, 'model.json'), serializeMlp(model));
await writeFile(join(args.out, 'README.md'), readme(model, tested, correct));
const accuracy = tested > 0 ? `, test accuracy ${((100 * correct) / tested).toFixed(1)}% on ${tested}` : '';
process.stdout.write(
  `trained on ${model.examples} images in ${seconds.toFixed(1)} s: labels ${model.labels.join(', ')}${accuracy}; wrote ${args.out}\n`,
);

function readme(m: MlpModel, tested: number, correct: number): string {
  return `# One-hidden-layer perceptron image classifier

Trained by \`examples/train-digits.ts\` (dyff-temporal) on ${m.examples} images, ${m.epochs} epochs of SGD (seed ${JSON.stringify(m.seed)}).

- labels: ${m.labels.join(', ')}
- input: the image made grey and scaled to ${m.input.width}×${m.input.height}, intensities in [0, 1]
- network: ${m.input.width * m.input.height} inputs → ${m.hidden} ReLU → ${m.labels.length} softmax
${tested > 0 ? `- accuracy on the test split: ${((100 * correct) / tested).toFixed(2)}% (${correct} of ${tested})\n` : ''}
Serve it with \`dyffctl serve-model --model-dir <this folder>\`: \`POST /generate {"image": "<base64 PNG or JPEG>"}\`
answers \`{"predictions": [{"label": "...", "score": 0.97}, ...]}\`, best first.
`;
}
