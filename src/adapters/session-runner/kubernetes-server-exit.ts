import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';

/** Exit codes above this are deaths by a signal (128 + n): Kubernetes restarts those, and so does a local session. */
const SIGNAL_EXITS = 128;

/**
 * Why a session failed, when one of its server containers ended by its own verdict: a non-zero exit code below
 * the signal range (a model that cannot load, a bad flag), now or before a restart. A Deployment never gives up on
 * such a pod (it restarts it, then backs off) and its status does not change while it does, so without this a
 * broken server would look like a slow one until the progress deadline. Matches the local session runner, whose
 * supervisor ends the session on the same endings. Pods being deleted are skipped: their server stops on purpose.
 */
export function serverExit(pods: readonly V1Pod[]): { reason: string; logTail: string[] } | undefined {
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    for (const c of pod.status?.containerStatuses ?? []) {
      const ended = ownExit(c.state?.terminated) ?? ownExit(c.lastState?.terminated);
      if (!ended) continue;
      const restarts = c.restartCount ? `, ${c.restartCount} restarts` : '';
      return {
        reason: `the server exited with code ${ended.exitCode} (pod ${pod.metadata?.name ?? '?'}${restarts})`,
        // The container's termination message is its log tail (terminationMessagePolicy: FallbackToLogsOnError).
        logTail: ended.message ? ended.message.split('\n').filter(Boolean) : [],
      };
    }
  }
  return undefined;
}

function ownExit(t: V1ContainerStateTerminated | undefined): V1ContainerStateTerminated | undefined {
  return t && t.exitCode > 0 && t.exitCode <= SIGNAL_EXITS ? t : undefined;
}
