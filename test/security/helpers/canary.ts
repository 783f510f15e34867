import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Secrets a worker holds that no user-submitted thing may ever see. */
export const HF_CANARY = 'hf_canary7e1d0c4b9a2f';
export const DYFF_CANARY = 'dyff-canary-5b8e3f1a6c';

/** Files under `root` whose bytes contain a canary, as `path: canary`. */
export async function filesWithCanary(root: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) {
        const bytes = await readFile(path).catch(() => Buffer.alloc(0));
        for (const c of [HF_CANARY, DYFF_CANARY]) if (bytes.includes(c)) hits.push(`${path}: ${c}`);
      }
    }
  };
  await walk(root);
  return hits;
}

/** The environment a running process was started with, from /proc (Linux). */
export async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

export const hasProc = existsSync('/proc/self/environ');

/** NODE_OPTIONS that would make any node process write the worker's secrets to `file`. */
export function leakingNodeOptions(file: string): string {
  const code = `import{writeFileSync}from'node:fs';writeFileSync(${JSON.stringify(file)},String(process.env.HF_TOKEN)+String(process.env.DYFF_CANARY_SECRET))`;
  return `--import=data:text/javascript,${encodeURIComponent(code)}`;
}
