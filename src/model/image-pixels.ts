import sharp from 'sharp';

/** An image that cannot be used as input: the message says why, and a server answers it with a 400. */
export class ImageInputError extends Error {
  override readonly name = 'ImageInputError';
}

/** Larger images are refused before they are decoded: a small PNG can hold a huge canvas. */
const MAX_INPUT_PIXELS = 4096 * 4096;

/**
 * An encoded image (PNG, JPEG, … anything sharp reads) as the grey intensities in [0, 1] a model takes, scaled to
 * `width × height` (fill, as the training images were). Transparency is flattened onto black, MNIST's background.
 * Training and serving both go through here, so a model sees the same pixels in both.
 */
export async function imagePixels(
  bytes: Uint8Array,
  size: { width: number; height: number },
): Promise<Float32Array> {
  let data: Buffer;
  let channels: number;
  try {
    ({
      data,
      info: { channels },
    } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS })
      .flatten({ background: '#000000' })
      .greyscale()
      .resize(size.width, size.height, { fit: 'fill' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new ImageInputError(`not a decodable image (${(err as Error).message})`);
  }
  const out = new Float32Array(size.width * size.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * channels]! / 255;
  return out;
}
