import type Docker from 'dockerode';
import { quantityBytes, nanoCpus } from './quantity.js';

/** Labels every container of this project carries; `list(entityId)` filters on the entity. */
export const LABEL_MANAGED = 'io.dyff.managed-by';
export const LABEL_ENTITY = 'io.dyff.entity';
export const LABEL_STAGE = 'io.dyff.stage';
export const LABEL_KIND = 'io.dyff.kind';
/** A job's deadline, so that whichever worker reads the ending can tell a deadline kill from another one. */
export const LABEL_DEADLINE = 'io.dyff.deadline-seconds';
export const MANAGED_BY = 'dyff-temporal';

/** A host path a container sees at the same path (so the configuration's paths hold inside it too). */
export interface BindMount {
  path: string;
  readOnly: boolean;
}

export interface HardenedOptions {
  /** The container's `/tmp` (and other scratch), in memory, bounded. */
  scratch: string;
  /** More tmpfs mounts (writable scratch inside bind-mounted trees), with the scratch's size. */
  scratchPaths?: string[];
  cpu?: string;
  memory?: string;
  binds: BindMount[];
  network: string;
}

/*
 * What every step and session container gets, whatever it runs: a non-root user, a read-only root filesystem with
 * a sized tmpfs at /tmp, every capability dropped, no privilege escalation (setuid binaries stay powerless), a pid
 * limit against fork bombs, and the memory/CPU the catalogue or the spec asks for. Swap is off (MemorySwap equal to
 * Memory) so that a step over its memory is OOM-killed, as in a pod, instead of thrashing.
 */
export function hardenedHostConfig(o: HardenedOptions): Docker.HostConfig {
  const tmpfs: Record<string, string> = {};
  const size = quantityBytes(o.scratch);
  for (const path of ['/tmp', ...(o.scratchPaths ?? [])]) tmpfs[path] = `rw,nosuid,nodev,size=${size}`;
  const memory = o.memory ? quantityBytes(o.memory) : undefined;
  return {
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges:true'],
    Tmpfs: tmpfs,
    PidsLimit: 512,
    ...(memory ? { Memory: memory, MemorySwap: memory } : {}),
    ...(o.cpu ? { NanoCpus: nanoCpus(o.cpu) } : {}),
    Binds: o.binds.map((b) => `${b.path}:${b.path}:${b.readOnly ? 'ro' : 'rw'}`),
    NetworkMode: o.network,
    // The engine never restarts a step: retries are the workflow's, under a new name.
    RestartPolicy: { Name: 'no' },
    Init: true,
  };
}

/** Environment in the engine's `NAME=value` form. */
export function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Docker's API errors carry the HTTP status as `statusCode`. */
export function isStatus(err: unknown, code: number): boolean {
  return (err as { statusCode?: number } | undefined)?.statusCode === code;
}
