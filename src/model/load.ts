import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imagePixels } from './image-pixels.js';
import { createMlpPredictor } from './mlp.js';
import { parseMlp } from './mlp-file.js';
import { createPredictor, parseModel } from './naive-bayes.js';
import type { Predictor } from './predictor.js';

export const MODEL_FORMATS = ['dyff-naive-bayes', 'dyff-mlp-image'] as const;

/**
 * The predictor for `<dir>/model.json`, chosen by the file's `format`: a text model (naive Bayes) or an image
 * model (MLP). `summary` is a line for the server's log.
 */
export async function loadModel(dir: string): Promise<{ predictor: Predictor; summary: string }> {
  const file = join(dir, 'model.json');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(
      err.code === 'ENOENT'
        ? `${file} not found: serve-model serves a model.json of format ${MODEL_FORMATS.join(' or ')}`
        : err.message,
    );
  });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`);
  }
  const format = (doc as { format?: unknown } | null)?.format;
  if (format === 'dyff-mlp-image') {
    const model = parseMlp(doc);
    const predict = createMlpPredictor(model);
    return {
      predictor: { input: 'image', predict: async (bytes) => predict(await imagePixels(bytes, model.input)) },
      summary: `image model (MLP, ${model.input.width}×${model.input.height} grey, ${model.hidden} hidden), ${model.labels.length} labels (${model.labels.join(', ')})`,
    };
  }
  if (format === 'dyff-naive-bayes') {
    const model = parseModel(doc);
    return {
      predictor: createPredictor(model),
      summary: `${model.labels.length} labels (${model.labels.join(', ')}), ${model.vocabulary.length} tokens`,
    };
  }
  throw new Error(`${file}: format ${JSON.stringify(format)} is not one of ${MODEL_FORMATS.join(', ')}`);
}
