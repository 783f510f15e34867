import { DyffError, ErrorType } from '../../domain/errors.js';
import type {
  ImageBuilder,
  ImageBuildRequest,
  ImageBuildResult,
  WaitOptions,
} from '../../ports/image-builder.js';

/** Refuse a service id that cannot name an image (both builders name the image after it). */
export function checkServiceId(serviceId: string): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(serviceId)) {
    throw new DyffError(
      ErrorType.InvalidSpec,
      `serviceId ${JSON.stringify(serviceId)} cannot name an image: use lowercase letters, digits, '.', '_', '-'`,
    );
  }
}

/**
 * The port's `build`: submit, then wait; when `opts.signal` aborts, the build is cancelled and the promise rejects
 * with the abort reason (or says the build was not cancelled, if the cancel failed).
 */
export async function submitAndWait(
  builder: Pick<ImageBuilder, 'submit' | 'wait' | 'cancel'>,
  req: ImageBuildRequest,
  opts: WaitOptions = {},
): Promise<ImageBuildResult> {
  opts.signal?.throwIfAborted();
  const { buildId } = await builder.submit(req);
  try {
    return await builder.wait(buildId, req.serviceId, opts);
  } catch (err) {
    const signal = opts.signal;
    if (!signal?.aborted) throw err;
    try {
      await builder.cancel(buildId);
    } catch (cancelErr) {
      throw new Error(`build ${buildId} was not cancelled after abort: ${(cancelErr as Error).message}`, {
        cause: cancelErr,
      });
    }
    throw signal.reason;
  }
}
