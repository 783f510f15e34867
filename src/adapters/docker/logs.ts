import type Docker from 'dockerode';

/**
 * A container's output, stdout and stderr interleaved as written. Without a TTY the engine frames each chunk with
 * an 8-byte header (stream, 0, 0, 0, big-endian length); this strips the frames.
 */
export function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const len = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The last `lines` lines a container printed; empty when it is gone or the engine has none. */
export async function containerLogTail(container: Docker.Container, lines = 200): Promise<string> {
  try {
    const buf = (await container.logs({
      stdout: true,
      stderr: true,
      follow: false,
      tail: lines,
    })) as unknown as Buffer;
    return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(buf));
  } catch {
    return '';
  }
}
