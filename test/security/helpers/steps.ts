import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemObjectStore } from '../../../src/adapters/object-store/filesystem.js';
import type { Config } from '../../../src/config.js';
import { loadConfig } from '../../../src/config.js';
import { PROGRESS_PREFIX } from '../../../src/steps/context.js';
import type { Resolver } from '../../../src/steps/net/egress-guard.js';
import { runStepProgram } from '../../../src/steps/run.js';

export interface AttackRun {
  code: number;
  /** The last line that is not progress: the refusal, naming the field, file or address. */
  last: string;
  lines: string[];
}

/** A step program run in this process against a fresh store, with the sources settings an attack needs. */
export interface StepBench {
  root: string;
  /** A directory inside the only local root. */
  allowed: string;
  store: FilesystemObjectStore;
  config: Config;
  run(
    step: string,
    id: string,
    spec: unknown,
    opts?: { resolver?: Resolver; extra?: string[] },
  ): Promise<AttackRun>;
  /** Every object key under a category (e.g. everything a refused fetch must not have written). */
  keys(category: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function stepBench(
  sources: { allowPrivateNetworks?: boolean | string[]; localRoots?: string[] } = {},
): Promise<StepBench> {
  const root = await mkdtemp(join(tmpdir(), 'dyff-attack-'));
  const allowed = join(root, 'allowed');
  const store = new FilesystemObjectStore({ root: join(root, 'store') });
  const config = loadConfig(
    {
      dataHome: join(root, 'home'),
      sources: {
        localRoots: sources.localRoots ?? [allowed],
        allowPrivateNetworks: sources.allowPrivateNetworks ?? false,
      },
    },
    { DYFF_CONFIG: join(root, 'none.yaml') },
  );
  return {
    root,
    allowed,
    store,
    config,
    async run(step, id, spec, opts = {}) {
      const lines: string[] = [];
      const code = await runStepProgram(
        step,
        ['--id', id, '--spec', JSON.stringify(spec), ...(opts.extra ?? [])],
        {
          objectStore: store,
          config,
          resolver: opts.resolver,
          retry: { attempts: 2, baseDelayMs: 5 },
          write: (line) => lines.push(line),
        },
      );
      return { code, lines, last: lines.filter((l) => !l.startsWith(PROGRESS_PREFIX)).at(-1) ?? '' };
    },
    async keys(category) {
      const dir = join(root, 'store', category);
      const out: string[] = [];
      const walk = async (d: string, prefix: string) => {
        for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory()) await walk(join(d, e.name), `${prefix}${e.name}/`);
          else out.push(`${prefix}${e.name}`);
        }
      };
      await walk(dir, '');
      // Step logs are expected; they are checked for leaks separately.
      return out.filter((k) => !k.includes('/.dyff/'));
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export const readText = (path: string) => readFile(path, 'utf8');
