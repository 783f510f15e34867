import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStepLogs } from '../../../../src/activities/step-logs.js';
import { FilesystemObjectStore } from '../../../../src/adapters/object-store/filesystem.js';
import type { Config, ConfigInput } from '../../../../src/config.js';
import { loadConfig } from '../../../../src/config.js';
import { newId } from '../../../../src/domain/ids.js';
import type { ObjectStore } from '../../../../src/ports/object-store.js';
import type { RetryPolicy } from '../../../../src/steps/context.js';
import { PROGRESS_PREFIX } from '../../../../src/steps/context.js';
import { runStepProgram } from '../../../../src/steps/run.js';
import { TEST_SOURCES } from '../../../support/test-sources.js';

export interface StepRun {
  code: number;
  /** Everything the step printed, progress lines included. */
  lines: string[];
  /** The last line that is not a progress report: where an error must name its field or file. */
  last: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** Sees each line as it is printed, to await a point in the run. */
  onLine?: (line: string) => void;
  /** Another view of the store, e.g. one without `localPath`, as a remote store has none. */
  objectStore?: ObjectStore;
}

/** A temp dir with a filesystem object store and a config whose data home is inside it. */
export interface StepEnv {
  root: string;
  store: FilesystemObjectStore;
  config: Config;
  run(step: string, id: string, spec: unknown, opts?: RunOptions): Promise<StepRun>;
  /** The step log as the object store keeps it, as `dyffctl logs` prints it. */
  storedLog(id: string): Promise<string>;
  cleanup(): Promise<void>;
}

export { newId };

/** `overrides`: configuration besides the data home and the test sources, e.g. `{ gcs: { apiEndpoint } }`. */
export async function createStepEnv(overrides: ConfigInput = {}): Promise<StepEnv> {
  const root = await mkdtemp(join(tmpdir(), 'dyff-steps-'));
  const store = new FilesystemObjectStore({ root: join(root, 'store') });
  // An explicit, absent config file: the test must not pick up a dyff.config.yaml from the working directory.
  const config = loadConfig(
    { dataHome: join(root, 'home'), sources: TEST_SOURCES, ...overrides },
    { DYFF_CONFIG: join(root, 'none.yaml') },
  );
  return {
    root,
    store,
    config,
    async run(step, id, spec, opts = {}) {
      const lines: string[] = [];
      const code = await runStepProgram(step, ['--id', id, '--spec', JSON.stringify(spec)], {
        objectStore: opts.objectStore ?? store,
        config,
        write: (line) => {
          lines.push(line);
          opts.onLine?.(line);
        },
        signal: opts.signal,
        retry: opts.retry ?? { attempts: 3, baseDelayMs: 5 },
      });
      const last = lines.filter((l) => !l.startsWith(PROGRESS_PREFIX)).at(-1) ?? '';
      return { code, lines, last };
    },
    async storedLog(id) {
      return (await readStepLogs(store, 'datasets', id)).text;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
