import type { SessionRunner, SessionStatus } from '../../src/ports/session-runner.js';

/** Sessions that are remote endpoints: nothing to run, but every start and stop is recorded. */
export class RecordingSessions implements SessionRunner {
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  async start(spec: { name: string }): Promise<SessionStatus> {
    this.started.push(spec.name);
    return { name: spec.name, phase: 'ready', endpoint: 'http://127.0.0.1:1' };
  }
  async waitReady(name: string): Promise<SessionStatus> {
    return { name, phase: 'ready', endpoint: 'http://127.0.0.1:1' };
  }
  async status(name: string): Promise<SessionStatus> {
    return { name, phase: 'ready' };
  }
  async list(entityId: string): Promise<SessionStatus[]> {
    return this.started
      .filter((n) => n.endsWith(entityId) && !this.stopped.includes(n))
      .map((name) => ({ name, phase: 'ready' as const }));
  }
  async stop(name: string): Promise<void> {
    this.stopped.push(name);
  }
  async close(): Promise<void> {}
}
