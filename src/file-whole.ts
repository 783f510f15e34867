import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `data` to `file` whole or not at all: into a file of this process's own beside it, then renamed over it,
 * so that a reader never sees half of it, even while another process writes the same file at the same moment.
 */
export function writeFileWhole(file: string, data: string | Uint8Array, mode?: number): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, data, mode === undefined ? undefined : { mode });
  renameSync(partial, file);
}
