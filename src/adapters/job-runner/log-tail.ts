import { open } from 'node:fs/promises';
import { PROGRESS_PREFIX } from '../../domain/log-layout.js';
import type { JobStatus } from '../../ports/job-runner.js';

const TAIL_BYTES = 64 * 1024;

/** The last lines of a job's output (without progress lines) and its newest progress report. */
export async function readLogTail(
  path: string,
  maxLines = 20,
): Promise<{ lines: string[]; progress?: JobStatus['progress'] }> {
  let text: string;
  try {
    const fd = await open(path, 'r');
    try {
      const { size } = await fd.stat();
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      await fd.read(buf, 0, buf.length, start);
      text = buf.toString('utf8');
      if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    } finally {
      await fd.close();
    }
  } catch {
    return { lines: [] };
  }
  return parseLogTail(text, maxLines);
}

export function parseLogTail(
  text: string,
  maxLines = 20,
): { lines: string[]; progress?: JobStatus['progress'] } {
  const all = text.split('\n').filter((l) => l.length > 0);
  let progress: JobStatus['progress'];
  for (let i = all.length - 1; i >= 0 && !progress; i--) {
    const line = all[i]!;
    if (line.startsWith(PROGRESS_PREFIX)) {
      try {
        progress = JSON.parse(line.slice(PROGRESS_PREFIX.length)) as JobStatus['progress'];
      } catch {
        // a torn line; an older one will do
      }
    }
  }
  const lines = all.filter((l) => !l.startsWith(PROGRESS_PREFIX)).slice(-maxLines);
  return { lines, progress };
}
