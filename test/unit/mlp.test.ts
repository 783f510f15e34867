import { describe, expect, it } from 'vitest';
import type { PixelExample } from '../../src/model/mlp.js';
import { createMlpPredictor, trainMlp } from '../../src/model/mlp.js';
import { parseMlp, serializeMlp } from '../../src/model/mlp-file.js';

/** 4×4 images: a lit left column is "left", a lit right column "right", with a little per-example noise. */
function examples(count: number): PixelExample[] {
  const out: PixelExample[] = [];
  for (let n = 0; n < count; n++) {
    const pixels = new Float32Array(16);
    const right = n % 2 === 1;
    for (let row = 0; row < 4; row++) pixels[row * 4 + (right ? 3 : 0)] = 0.6 + ((n * 7 + row) % 5) / 10;
    pixels[(n * 5) % 16] = 0.3;
    out.push({ pixels, label: right ? 'right' : 'left' });
  }
  return out;
}

describe('MLP image classifier', () => {
  const options = { width: 4, height: 4, hidden: 8, epochs: 20, learningRate: 0.1 };

  it('learns a separable problem, and the same seed gives the same weights bit for bit', () => {
    const a = trainMlp(examples(40), options);
    const b = trainMlp(examples(40), options);
    expect(Buffer.from(a.w1.buffer).equals(Buffer.from(b.w1.buffer))).toBe(true);
    const other = trainMlp(examples(40), { ...options, seed: 'other' });
    expect(Buffer.from(a.w1.buffer).equals(Buffer.from(other.w1.buffer))).toBe(false);
    const predict = createMlpPredictor(a);
    const held = examples(60).slice(40);
    expect(held.every((e) => predict(e.pixels)[0]!.label === e.label)).toBe(true);
    const [best, second] = predict(held[0]!.pixels);
    expect(best!.score + second!.score).toBeCloseTo(1, 9);
    expect(best!.score).toBeGreaterThan(second!.score);
  });

  it('model.json reads back to the same predictions, and a damaged file is refused naming the field', () => {
    const model = trainMlp(examples(20), options);
    const text = serializeMlp(model);
    const back = parseMlp(JSON.parse(text));
    const x = examples(1)[0]!.pixels;
    expect(createMlpPredictor(back)(x)).toEqual(createMlpPredictor(model)(x));

    const doc = JSON.parse(text) as { weights: { w2: string }; input: unknown };
    expect(() => parseMlp({ ...doc, weights: { ...doc.weights, w2: 'AAAA' } })).toThrow(
      'model.json: weights.w2 holds 3 bytes, expected 16 float32 (64 bytes)',
    );
    expect(() => parseMlp({ ...doc, input: { width: 0, height: 4 } })).toThrow(/input\.width/);
    expect(() => parseMlp({ format: 'dyff-naive-bayes', version: 1 })).toThrow(/not a dyff-mlp-image/);
    expect(() => trainMlp([{ pixels: new Float32Array(3), label: 'x' }], options)).toThrow(
      /3 pixels, not 16/,
    );
  });
});
