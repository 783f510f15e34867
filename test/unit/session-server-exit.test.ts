import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { serverExit } from '../../src/adapters/session-runner/kubernetes-server-exit.js';

const pod = (status: Partial<V1ContainerStatus>, deleting = false): V1Pod => ({
  metadata: { name: 'session-a-1', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  status: {
    containerStatuses: [
      { name: 'server', image: 'i', imageID: '', ready: false, restartCount: 0, ...status },
    ],
  },
});
const ended = (exitCode: number, message?: string) => ({ terminated: { exitCode, message } });

describe('serverExit: which pod endings fail a Kubernetes session', () => {
  it('a server that exited by its own verdict, now or before a restart, with its log as the tail', () => {
    expect(serverExit([pod({ state: ended(2, 'error: give one of\nusage: x\n') })])).toEqual({
      reason: 'the server exited with code 2 (pod session-a-1)',
      logTail: ['error: give one of', 'usage: x'],
    });
    const looping = pod({
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: ended(1),
      restartCount: 3,
    });
    expect(serverExit([looping])).toEqual({
      reason: 'the server exited with code 1 (pod session-a-1, 3 restarts)',
      logTail: [],
    });
  });

  it('not a running or ready server, a death by a signal (Kubernetes restarts it), or a pod being deleted', () => {
    expect(serverExit([pod({ state: { running: {} } })])).toBeUndefined();
    expect(serverExit([pod({ state: ended(137) })])).toBeUndefined();
    expect(
      serverExit([pod({ state: { running: {} }, lastState: ended(143), restartCount: 1 })]),
    ).toBeUndefined();
    expect(serverExit([pod({ state: ended(0) })])).toBeUndefined();
    expect(serverExit([pod({ state: ended(1) }, true)])).toBeUndefined();
    expect(serverExit([])).toBeUndefined();
  });
});
