import { CancelledFailure, Context } from '@temporalio/activity';
import { DyffError, ErrorType } from '../domain/errors.js';
import { inferenceServiceKeys } from '../domain/object-layout.js';
import type { ServiceDescription } from '../domain/service.js';
import { SESSION_ENTRY } from '../domain/step-catalogue.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { SessionRunner, SessionStatus } from '../ports/session-runner.js';
import { toFailure, translated } from './errors.js';
import { cancelWasRequested, heartbeatEvery, interrupted } from './step-policy.js';

export interface StartSessionInput {
  name: string;
  entityId: string;
  serviceId: string;
  replicas?: number;
  readyTimeoutMs?: number;
}

/** Inference sessions: started (or adopted) and awaited in one heartbeating activity, stopped in another. */
export const createSessionActivities = (sessions: SessionRunner, objects: ObjectStore) => ({
  async loadServiceDescription(input: { serviceId: string }): Promise<ServiceDescription> {
    return translated(async () => {
      try {
        const buf = await objects.getBuffer(
          'inferenceservices',
          inferenceServiceKeys.description(input.serviceId),
        );
        return JSON.parse(buf.toString('utf8')) as ServiceDescription;
      } catch (err) {
        if (err instanceof DyffError && err.type === ErrorType.NotFound) {
          throw new DyffError(
            ErrorType.NotFound,
            `inference service ${input.serviceId} has no service.json (not built?)`,
          );
        }
        throw err;
      }
    });
  },

  /**
   * Start (or adopt) the session and wait until it is ready, heartbeating on a timer: readiness may not change for
   * longer than the heartbeat timeout. Only a requested cancel stops the session; an interrupted attempt leaves it
   * for the next one to adopt.
   */
  async startSession(input: StartSessionInput & { description: ServiceDescription }): Promise<SessionStatus> {
    const ctx = Context.current();
    const beat: { session: string; phase?: string } = { session: input.name };
    const stopBeating = heartbeatEvery(ctx, () => beat);
    try {
      // A secret the service names but nobody provided is an InvalidSpec: no retry will make it appear.
      await translated(() =>
        sessions.start({
          name: input.name,
          entityId: input.entityId,
          description: input.description,
          replicas: input.replicas,
          serviceAccount: SESSION_ENTRY.identity,
          accelerator: input.description.placement?.accelerator,
          resources: input.description.placement?.resources,
          spot: input.description.placement?.spot,
        }),
      );
      return await awaitReady(sessions, input, beat);
    } finally {
      stopBeating();
    }
  },

  /** The audit's pods may reach the session (and, by the baseline audit policy, nothing else). */
  async allowAuditSession(input: { name: string; auditId: string }): Promise<void> {
    await translated(async () => sessions.allowAudit?.(input.name, input.auditId));
  },

  async stopSession(input: { name: string }): Promise<void> {
    await sessions.stop(input.name);
  },
});

/** Wait for readiness; a requested cancel stops the session, any other abort leaves it for the next attempt. */
async function awaitReady(
  sessions: SessionRunner,
  input: StartSessionInput,
  beat: { phase?: string },
): Promise<SessionStatus> {
  const ctx = Context.current();
  try {
    return await sessions.waitReady(input.name, {
      signal: ctx.cancellationSignal,
      timeoutMs: input.readyTimeoutMs,
      // Sent with the next beat (heartbeatEvery).
      onUpdate: (s) => {
        beat.phase = s.phase;
      },
    });
  } catch (err) {
    if (!ctx.cancellationSignal.aborted) {
      throw toFailure(new DyffError(ErrorType.StepFailed, (err as Error).message));
    }
    if (!cancelWasRequested(ctx)) throw interrupted(ctx, `session ${input.name}`, 'the session');
    await sessions.stop(input.name);
    throw new CancelledFailure(`session ${input.name} cancelled`);
  }
}
