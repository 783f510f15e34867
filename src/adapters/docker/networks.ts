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

/**
 * Create the evaluation's network, or find it. `Internal`: no gateway out, so nothing on it reaches past it; the
 * engine's isolation rules keep other bridges (other evaluations) apart. Same-name creates race: the loser's 409
 * means the network is there.
 */
export async function ensureEvaluationNetwork(docker: Docker, entityId: string): Promise<string> {
  const name = evaluationNetwork(entityId);
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      Internal: true,
      CheckDuplicate: true,
      Labels: { [LABEL_MANAGED]: MANAGED_BY, [LABEL_ENTITY]: entityId },
      Options: { 'com.docker.network.bridge.enable_icc': 'true' },
    });
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
  }
  return name;
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
    if (!isStatus(err, 404) && !isStatus(err, 403) && !isStatus(err, 409)) throw err;
  }
}
