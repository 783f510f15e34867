/**
 * The engine's build output as this adapter reads it: a stream of JSON messages, one per line — `stream` (the
 * build's own output: `Step 2/4 : RUN …`, the commands' output), `aux.ID` (the built image's id), `error` (why the
 * build stopped). The output is kept, bounded, for the build's log.
 */

/** What a build has said so far. */
export class BuildOutput {
  /** The build's output, at most `limit` characters: the start and, once over, the newest part. */
  private head = '';
  private tail = '';
  private dropped = 0;
  /** The last `Step n/m : …` line. */
  step?: string;
  /** The image id the engine reported (`sha256:…`). */
  imageId?: string;
  /** The engine's error, when the build failed. */
  error?: string;
  private readonly listeners = new Set<(text: string) => void>();

  constructor(private readonly limit = 1 << 20) {}

  /** The log as kept: the first and the last part, with how much was left out between them. */
  get text(): string {
    if (!this.dropped) return this.head + this.tail;
    return `${this.head}\n… ${this.dropped} characters left out …\n${this.tail}`;
  }

  /** Call `fn` with every later piece of output; returns the unsubscribe. */
  follow(fn: (text: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** One JSON message of the engine's stream. */
  take(message: unknown): void {
    const m = message as { stream?: unknown; aux?: { ID?: unknown }; error?: unknown; errorDetail?: unknown };
    if (typeof m.stream === 'string') {
      this.append(m.stream);
      const steps = m.stream.split('\n').filter((l) => /^Step \d+\/\d+ : /.test(l));
      if (steps.length) this.step = steps.at(-1);
    }
    if (typeof m.aux?.ID === 'string') this.imageId = m.aux.ID;
    if (typeof m.error === 'string') {
      this.error = m.error.trim();
      this.append(`${this.error}\n`);
    }
  }

  private append(text: string): void {
    const half = this.limit / 2;
    const room = Math.max(0, half - this.head.length);
    this.head += text.slice(0, room);
    this.tail += text.slice(room);
    if (this.tail.length > half) {
      this.dropped += this.tail.length - half;
      this.tail = this.tail.slice(-half);
    }
    for (const fn of this.listeners) fn(text);
  }
}

/** Feed a build's response stream into `out`, a line at a time; resolves when the engine ends the response. */
export function readBuildStream(stream: NodeJS.ReadableStream, out: BuildOutput): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    const lines = (final: boolean) => {
      const parts = pending.split('\n');
      pending = final ? '' : parts.pop()!;
      for (const line of parts) {
        if (!line.trim()) continue;
        try {
          out.take(JSON.parse(line));
        } catch {
          out.take({ stream: `${line}\n` });
        }
      }
    };
    stream.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      lines(false);
    });
    stream.on('end', () => {
      lines(true);
      resolve();
    });
    stream.on('error', reject);
    // An aborted request closes the stream without 'end'.
    stream.on('close', () => reject(new Error('the build request was closed before the engine ended it')));
  });
}
