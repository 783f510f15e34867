import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of this process by thread name (Linux /proc), to say which threads a run's CPU went to: the main
 * thread (`node`), the endpoint's worker thread, V8's GC helpers, libuv's pool, DuckDB's threads. Empty elsewhere.
 */
export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks (USER_HZ, 100 a second on Linux).
      const ticks = Number(fields[11]) + Number(fields[12]);
      const key = `${tid === String(process.pid) ? 'main' : name.trim()}`;
      out.set(key, (out.get(key) ?? 0) + ticks * 10);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Milliseconds of CPU per thread name between two `threadCpu()` readings, largest first, as `name=ms` pairs. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, ms]) => [name, ms - (before.get(name) ?? 0)] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name.replace(/\s+/g, '_')}=${ms}`)
    .join(' ');
}
