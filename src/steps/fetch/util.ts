import type { StepLog } from '../context.js';
import type { SourceFile } from './sources.js';

/** Runs `fn` over `items`, `limit` at a time; the first failure stops new work and is rethrown once all settle. */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
  return results;
}

/** A function that runs its body once; later calls share the first call's promise. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let promise: Promise<void> | undefined;
  return () => (promise ??= fn());
}

/** Bytes done over bytes known, across all files of a fetch, reported as `::progress::` lines. */
export class ByteProgress {
  private readonly done = new Map<string, number>();
  private readonly sizes = new Map<string, number | undefined>();
  private doneSum = 0;
  private sizeSum = 0;
  private unknownSizes = 0;
  private current = '';

  constructor(
    private readonly log: StepLog,
    files: readonly SourceFile[],
  ) {
    for (const f of files) this.setSize(f.path, f.size);
  }

  update(path: string, bytes: number, total?: number): void {
    this.doneSum += bytes - (this.done.get(path) ?? 0);
    this.done.set(path, bytes);
    if (total !== undefined && this.sizes.get(path) === undefined) this.setSize(path, total);
    this.current = path;
    this.report();
  }

  finish(path: string, size: number): void {
    this.setSize(path, size);
    this.update(path, size);
  }

  totalBytes(): number {
    return this.doneSum;
  }

  report(): void {
    const total = this.unknownSizes === 0 ? this.sizeSum : undefined;
    this.log.progress({ done: this.doneSum, total, unit: 'bytes', message: `fetch ${this.current}` });
  }

  private setSize(path: string, size: number | undefined): void {
    const old = this.sizes.get(path);
    if (this.sizes.has(path)) {
      if (old === undefined) this.unknownSizes--;
      else this.sizeSum -= old;
    }
    this.sizes.set(path, size);
    if (size === undefined) this.unknownSizes++;
    else this.sizeSum += size;
  }
}
