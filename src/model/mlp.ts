/**
 * A one-hidden-layer perceptron (ReLU, softmax) over grey pixels in [0, 1]: the demo's image classifier (MNIST
 * digits). Plain TypeScript on Float32Array, trained by seeded per-example SGD, so the same examples and seed give
 * the same weights. Pure functions shared by the training script, the model server and the tests.
 */
import type { Prediction } from './naive-bayes.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';

export interface MlpModel {
  format: 'dyff-mlp-image';
  version: 1;
  /** Sorted; the order of the output units. */
  labels: string[];
  /** Images are scaled to this size (fill) and made grey before they reach the network. */
  input: { width: number; height: number };
  hidden: number;
  /** `[input][hidden]`, row-major, so a dark (zero) pixel costs nothing. */
  w1: Float32Array;
  b1: Float32Array;
  /** `[hidden][label]`. */
  w2: Float32Array;
  b2: Float32Array;
  examples: number;
  epochs: number;
  seed: string;
}

export interface MlpTrainOptions {
  width: number;
  height: number;
  /** @default 64 */
  hidden?: number;
  /** @default 8 */
  epochs?: number;
  /** The first epoch's step size; it falls linearly to a tenth of it by the last. @default 0.05 */
  learningRate?: number;
  /** Seeds the initial weights and the order of examples in each epoch. @default 'dyff' */
  seed?: string;
}

export interface PixelExample {
  /** `width × height` intensities in [0, 1], row by row. */
  pixels: Float32Array;
  label: string;
}

export function trainMlp(examples: readonly PixelExample[], opts: MlpTrainOptions): MlpModel {
  const size = opts.width * opts.height;
  const hidden = opts.hidden ?? 64;
  const epochs = opts.epochs ?? 8;
  const rate = opts.learningRate ?? 0.05;
  const seed = opts.seed ?? 'dyff';
  if (examples.length === 0) throw new Error('mlp: no training examples');
  const bad = examples.find((e) => e.pixels.length !== size);
  if (bad)
    throw new Error(`mlp: an example of label ${bad.label} has ${bad.pixels.length} pixels, not ${size}`);
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const classes = labels.length;
  const target = new Map(labels.map((l, i) => [l, i]));
  const random = seededRandom(seed);
  // He-uniform initial weights: the spread that keeps ReLU activations at a steady scale layer to layer.
  const init = (n: number, fanIn: number) => {
    const a = new Float32Array(n);
    const limit = Math.sqrt(6 / fanIn);
    for (let i = 0; i < n; i++) a[i] = (random() * 2 - 1) * limit;
    return a;
  };
  const model: MlpModel = {
    format: 'dyff-mlp-image',
    version: 1,
    labels,
    input: { width: opts.width, height: opts.height },
    hidden,
    w1: init(size * hidden, size),
    b1: new Float32Array(hidden),
    w2: init(hidden * classes, hidden),
    b2: new Float32Array(classes),
    examples: examples.length,
    epochs,
    seed,
  };
  const { w1, b1, w2, b2 } = model;
  const h = new Float32Array(hidden);
  const p = new Float64Array(classes);
  const dh = new Float32Array(hidden);
  const nonzero = new Int32Array(size);
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const lr = rate * (1 - (0.9 * epoch) / Math.max(1, epochs - 1));
    shuffleInPlace(order, random);
    for (const e of order) {
      const { pixels, label } = examples[e]!;
      const count = forward(model, pixels, h, p, nonzero);
      // Cross-entropy through softmax: the output error is p − onehot.
      p[target.get(label)!]! -= 1;
      dh.fill(0);
      for (let j = 0; j < hidden; j++) {
        if (h[j]! <= 0) continue;
        let s = 0;
        for (let k = 0; k < classes; k++) s += w2[j * classes + k]! * p[k]!;
        dh[j] = s;
      }
      for (let j = 0; j < hidden; j++) {
        const hj = h[j]!;
        if (hj > 0) for (let k = 0; k < classes; k++) w2[j * classes + k]! -= lr * hj * p[k]!;
      }
      for (let k = 0; k < classes; k++) b2[k]! -= lr * p[k]!;
      for (let n = 0; n < count; n++) {
        const i = nonzero[n]!;
        const step = lr * pixels[i]!;
        const row = i * hidden;
        for (let j = 0; j < hidden; j++) w1[row + j]! -= step * dh[j]!;
      }
      for (let j = 0; j < hidden; j++) b1[j]! -= lr * dh[j]!;
    }
  }
  return model;
}

/**
 * Fills `h` (hidden activations) and `p` (label probabilities); `nonzero` gets the indices of the lit pixels.
 * Returns how many there are.
 */
function forward(
  m: MlpModel,
  x: Float32Array,
  h: Float32Array,
  p: Float64Array,
  nonzero: Int32Array,
): number {
  const hidden = m.hidden;
  const classes = m.labels.length;
  h.set(m.b1);
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === 0) continue;
    nonzero[count++] = i;
    const row = i * hidden;
    for (let j = 0; j < hidden; j++) h[j]! += v * m.w1[row + j]!;
  }
  for (let j = 0; j < hidden; j++) if (h[j]! < 0) h[j] = 0;
  let max = -Infinity;
  for (let k = 0; k < classes; k++) {
    let s = m.b2[k]!;
    for (let j = 0; j < hidden; j++) s += h[j]! * m.w2[j * classes + k]!;
    p[k] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let k = 0; k < classes; k++) sum += p[k] = Math.exp(p[k]! - max);
  for (let k = 0; k < classes; k++) p[k]! /= sum;
  return count;
}

/** Label probabilities for one image's pixels, best first. */
export function createMlpPredictor(model: MlpModel): (pixels: Float32Array) => Prediction[] {
  const size = model.input.width * model.input.height;
  const h = new Float32Array(model.hidden);
  const p = new Float64Array(model.labels.length);
  const nonzero = new Int32Array(size);
  return (pixels) => {
    if (pixels.length !== size) throw new Error(`expected ${size} pixels, got ${pixels.length}`);
    forward(model, pixels, h, p, nonzero);
    return model.labels
      .map((label, k) => ({ label, score: p[k]! }))
      .sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1));
  };
}
