import { createHash } from 'node:crypto';
import type { CorruptionName, CorruptionSpec } from '../../domain/image-spec.js';
import { loadSharp } from './sharp.js';

/**
 * ImageNet-C's parameter per severity 1–5 (Hendrycks & Dietterich, 2019, `make_imagenet_c.py`), on intensities
 * in [0, 1]: brightness adds c to V in HSV; contrast scales around each channel's mean by c; gaussian_noise adds
 * N(0, c²); gaussian_blur is a Gaussian of σ = c pixels.
 */
export const SEVERITY_PARAMETERS: Record<CorruptionName, readonly number[]> = {
  brightness: [0.1, 0.2, 0.3, 0.4, 0.5],
  contrast: [0.4, 0.3, 0.2, 0.1, 0.05],
  gaussian_noise: [0.08, 0.12, 0.18, 0.26, 0.38],
  gaussian_blur: [1, 2, 3, 4, 6],
};

export const parameterOf = (spec: Pick<CorruptionSpec, 'name' | 'severity'>) =>
  SEVERITY_PARAMETERS[spec.name][spec.severity - 1]!;

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** One encoded image (PNG/JPEG) corrupted and written as PNG; `key` seeds the noise (the row's `_index_`). */
export async function corruptImage(bytes: Uint8Array, spec: CorruptionSpec, key: string): Promise<Buffer> {
  const c = parameterOf(spec);
  const sharp = await loadSharp();
  // Alpha is dropped as ImageNet-C does (it works on RGB); grey stays grey.
  const image = sharp(bytes).removeAlpha();
  if (spec.name === 'gaussian_blur') return image.blur(c).png().toBuffer();
  const { data, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const raw: Raw = { data, width: info.width, height: info.height, channels: info.channels };
  if (spec.name === 'brightness') brighten(raw, c);
  else if (spec.name === 'contrast') scaleContrast(raw, c);
  else addNoise(raw, c, seededNormal(`${spec.seed}:${key}`));
  const { width, height, channels } = raw;
  return sharp(raw.data, { raw: { width, height, channels } }).png().toBuffer();
}

const clip255 = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);

/**
 * V += c in HSV, clipped to 1. With hue and saturation kept, RGB scales by V'/V (a black pixel, S = 0, becomes
 * grey V'), so no round trip through HSV is needed.
 */
function brighten({ data, channels }: Raw, c: number): void {
  for (let p = 0; p < data.length; p += channels) {
    let v = 0;
    for (let k = 0; k < channels; k++) v = Math.max(v, data[p + k]!);
    const target = Math.min(1, v / 255 + c);
    for (let k = 0; k < channels; k++) {
      data[p + k] = v === 0 ? clip255(target) : clip255(((data[p + k]! / 255) * target * 255) / v);
    }
  }
}

function scaleContrast({ data, channels }: Raw, c: number): void {
  const pixels = data.length / channels;
  for (let k = 0; k < channels; k++) {
    let sum = 0;
    for (let p = k; p < data.length; p += channels) sum += data[p]!;
    const mean = sum / pixels / 255;
    for (let p = k; p < data.length; p += channels) data[p] = clip255((data[p]! / 255 - mean) * c + mean);
  }
}

function addNoise({ data }: Raw, sigma: number, normal: () => number): void {
  for (let p = 0; p < data.length; p++) data[p] = clip255(data[p]! / 255 + sigma * normal());
}

/** Standard normal draws (Box–Muller over mulberry32), seeded by the md5 of `seed`: the same pixels each run. */
export function seededNormal(seed: string): () => number {
  let state = createHash('md5').update(seed).digest().readUInt32LE(0);
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}
