import type { MlpModel } from './mlp.js';

/**
 * `model.json` for an MLP: the weights as base64 of little-endian float32, so a file is about a third larger
 * than the raw weights (not ten times, as decimal text would be) and reads back bit for bit.
 */
interface MlpFile extends Omit<MlpModel, 'w1' | 'b1' | 'w2' | 'b2'> {
  weights: { w1: string; b1: string; w2: string; b2: string };
}

const encode = (a: Float32Array) => {
  const out = Buffer.alloc(a.length * 4);
  for (let i = 0; i < a.length; i++) out.writeFloatLE(a[i]!, i * 4);
  return out.toString('base64');
};

function decode(text: unknown, length: number, name: string): Float32Array {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (bytes.length !== length * 4)
    throw new Error(
      `model.json: weights.${name} holds ${bytes.length} bytes, expected ${length} float32 (${length * 4} bytes)`,
    );
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

export function serializeMlp(model: MlpModel): string {
  const { w1, b1, w2, b2, ...rest } = model;
  const file: MlpFile = {
    ...rest,
    weights: { w1: encode(w1), b1: encode(b1), w2: encode(w2), b2: encode(b2) },
  };
  return JSON.stringify(file);
}

/** Checks parsed JSON is an MLP this code can use; the message names the field that is wrong. */
export function parseMlp(doc: unknown): MlpModel {
  const f = doc as Partial<MlpFile> | null;
  if (!f || f.format !== 'dyff-mlp-image' || f.version !== 1)
    throw new Error('not a dyff-mlp-image version 1 model');
  const { labels, input, hidden, weights } = f;
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string'))
    throw new Error('model.json: labels must be a non-empty list of strings');
  const positive = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!input || !positive(input.width) || !positive(input.height))
    throw new Error('model.json: input.width and input.height must be positive integers');
  if (!positive(hidden)) throw new Error('model.json: hidden must be a positive integer');
  if (!weights) throw new Error('model.json: no weights');
  const size = input.width * input.height;
  const { weights: _, ...rest } = f as MlpFile;
  return {
    ...rest,
    w1: decode(weights.w1, size * hidden!, 'w1'),
    b1: decode(weights.b1, hidden!, 'b1'),
    w2: decode(weights.w2, hidden! * labels.length, 'w2'),
    b2: decode(weights.b2, labels.length, 'b2'),
  };
}
