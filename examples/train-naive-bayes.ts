/**
 * Trains the demo model: multinomial naive Bayes on a dataset's Parquet shards (columns `text`, `label`, and
 * `split`), writing `<out>/model.json` (what `dyffctl serve-model` serves) and `<out>/README.md`.
 *
 *     npx tsx examples/train-naive-bayes.ts --dataset-dir .dyff/objects/datasets/<id>/data --out ./nb-model
 *
 * Trains on split = 'train' (all rows if there is no split column) and reports accuracy on split = 'test'.
 */
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NaiveBayesModel } from '../src/model/naive-bayes.js';
import { NaiveBayesTrainer, createPredictor } from '../src/model/naive-bayes.js';

const { values: args } = parseArgs({
  options: {
    'dataset-dir': { type: 'string' },
    out: { type: 'string' },
    'vocabulary-size': { type: 'string', default: '20000' },
    alpha: { type: 'string', default: '1' },
  },
});
if (!args['dataset-dir'] || !args.out) {
  process.stderr.write('usage: train-naive-bayes --dataset-dir <dir of Parquet shards> --out <model dir>\n');
  process.exit(2);
}

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
const shards = quotedString(join(args['dataset-dir'], '**', '*.parquet'));
const columns = (await db.runAndReadAll(`SELECT * FROM read_parquet(${shards}) LIMIT 0`)).columnNames();
for (const needed of ['text', 'label']) {
  if (!columns.includes(needed))
    throw new Error(`the dataset has no ${needed} column (columns: ${columns.join(', ')})`);
}
const hasSplit = columns.includes('split');

/** Rows of one split, chunk by chunk: the corpus never needs to fit in memory at once. */
async function* examples(split: string) {
  const where = hasSplit ? ` WHERE split = ${quotedString(split)}` : '';
  const result = await db.stream(`SELECT text, label FROM read_parquet(${shards})${where} ORDER BY _index_`);
  for await (const rows of result.yieldRowObjectJs()) yield* rows as { text: string; label: string }[];
}

const trainer = new NaiveBayesTrainer();
for await (const e of examples('train')) trainer.add(e.text ?? '', e.label);
const model = trainer.finish({ vocabularySize: Number(args['vocabulary-size']), alpha: Number(args.alpha) });

let tested = 0;
let correct = 0;
if (hasSplit) {
  const predict = createPredictor(model);
  for await (const e of examples('test')) {
    tested++;
    if (predict(e.text ?? '')[0]?.label === e.label) correct++;
  }
}
db.closeSync();
instance.closeSync();

await mkdir(args.out, { recursive: true });
await writeFile(join(args.out, 'model.json'), JSON.stringify(model));
await writeFile(join(args.out, 'README.md'), readme(model, tested, correct));
const accuracy = tested > 0 ? `, test accuracy ${((100 * correct) / tested).toFixed(1)}% on ${tested}` : '';
process.stdout.write(
  `trained on ${model.documents} documents: ${model.labels.join(', ')}${accuracy}; wrote ${args.out}\n`,
);

function readme(m: NaiveBayesModel, tested: number, correct: number): string {
  return `# Multinomial naive Bayes text classifier

Trained by \`examples/train-naive-bayes.ts\` (dyff-temporal) on ${m.documents} documents.

- labels: ${m.labels.join(', ')}
- vocabulary: the ${m.vocabulary.length} tokens found in the most documents (lowercased letter/digit runs)
- smoothing: Laplace, alpha = ${m.alpha}
${tested > 0 ? `- accuracy on the test split: ${((100 * correct) / tested).toFixed(2)}% (${correct} of ${tested})\n` : ''}
Serve it with \`dyffctl serve-model --model-dir <this folder>\`: \`POST /generate {"text": "..."}\` answers
\`{"predictions": [{"label": "...", "score": 0.97}, ...]}\`, best first.
`;
}
