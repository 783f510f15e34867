import type Docker from 'dockerode';
import { isStatus, LABEL_ENTITY, LABEL_MANAGED, MANAGED_BY } from './hardening.js';

/**
 * Which Docker network a container joins. `internet`: steps that fetch from outside (the default bridge: egress
 * through the host's NAT). `storage`: every other step; `none` with the filesystem store (which is a bind mount),
 * or a network where the object store answers (an emulator's, a proxy's).
 */
export interface DockerNetworks {
  internet: string;
  storage: string;
}

/** The internal network of one evaluation's sessions: its session and its evaluate containers, nothing else. */
export function evaluationNetwork(entityId: string): string {
  return `dyff-session-${entityId}`;
}

/** Creations under way in this process, by network name: concurrent starts of one evaluation share one. */
const creating = new Map<string, Promise<string>>();

/**
 * Create the evaluation's network, or find it; resolves with its id. `Internal`: no gateway out, so nothing on it
 * reaches past it; the engine's isolation rules keep other bridges (other evaluations) apart. The engine does not
 * refuse a second network of the same name when two creates race (two workers), so after creating, every racer
 * keeps the same one (the oldest) and removes the others.
 */
export function ensureEvaluationNetwork(docker: Docker, entityId: string): Promise<string> {
  const name = evaluationNetwork(entityId);
  let pending = creating.get(name);
  if (!pending) {
    pending = createOnce(docker, name, entityId).finally(() => creating.delete(name));
    creating.set(name, pending);
  }
  return pending;
}

async function createOnce(docker: Docker, name: string, entityId: string): Promise<string> {
  if ((await named(docker, name)).length === 0) {
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        Internal: true,
        CheckDuplicate: true,
        Labels: { [LABEL_MANAGED]: MANAGED_BY, [LABEL_ENTITY]: entityId },
      });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
  }
  const [keep, ...extra] = await named(docker, name);
  if (!keep) throw new Error(`network ${name} vanished while it was being created`);
  for (const n of extra)
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => {});
  return keep.Id;
}

/** Networks of exactly this name, oldest first (the name filter matches substrings). */
async function named(docker: Docker, name: string): Promise<Docker.NetworkInspectInfo[]> {
  const found = await docker.listNetworks({ filters: { name: [name] } });
  return found
    .filter((n) => n.Name === name)
    .sort((a, b) => a.Created.localeCompare(b.Created) || a.Id.localeCompare(b.Id));
}

export async function networkExists(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getNetwork(name).inspect();
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}

/** Remove the network once no container uses it; a network still in use (another session) stays. */
export async function removeNetworkIfUnused(docker: Docker, name: string): Promise<void> {
  try {
    const info = (await docker.getNetwork(name).inspect()) as { Containers?: Record<string, unknown> };
    if (Object.keys(info.Containers ?? {}).length) return;
    await docker.getNetwork(name).remove();
  } catch (err) {
    // 403/409: in use after all; 400: two networks of the name (a create race), left for the survivor's stop.
    if (![400, 403, 404, 409].some((code) => isStatus(err, code))) throw err;
  }
}
