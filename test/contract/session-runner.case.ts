import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { ServiceDescription } from '../../src/domain/service.js';
import type { SessionRunner, SessionSpec } from '../../src/ports/session-runner.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { until } from '../support/worker-process.js';

/**
 * The SessionRunner contract. Sessions run the real `dyffctl serve-model` on a tiny model: a local process, or the
 * pod of a Deployment that the exec kubelet runs as one. What a harness reports it learns from outside the runner
 * (processes, cluster objects), so the runner cannot vouch for itself.
 */
export interface SessionRunnerHarness {
  runner: SessionRunner;
  /** How many server processes of the session are alive now. */
  servers(name: string): Promise<number>;
  /** What of the session still exists (processes, cluster objects), named; empty once it is all gone. */
  leftovers(name: string): Promise<string[]>;
  cleanup?: () => Promise<void>;
}

/** Generous: a loaded two-core machine starts node, the apiserver schedules, the kubelet probes. */
const READY_MS = 120_000;

export function sessionRunnerContract(name: string, make: () => Promise<SessionRunnerHarness>): void {
  describe(name, { timeout: 240_000 }, () => {
    let modelDir: string;
    let scratch: string;
    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'dyff-session-contract-'));
      ({ modelDir } = await tinyCorpus(scratch));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    const spec = (command: string[]): SessionSpec => {
      const entityId = newId();
      const description: ServiceDescription = {
        serviceId: newId(),
        runner: 'standalone',
        command,
        readinessPath: '/ready',
        endpoint: '/generate',
        interface: {},
      };
      return { name: `session-${entityId}`, entityId, description };
    };
    const serving = () => spec(['serve-model', '--model-dir', modelDir]);
    /** Each case stops its session, whatever happened, and checks that the stop left nothing behind. */
    const withSession =
      (command: () => SessionSpec, fn: (h: SessionRunnerHarness, s: SessionSpec) => Promise<void>) =>
      async () => {
        const h = await make();
        const s = command();
        try {
          await fn(h, s);
        } finally {
          await h.runner.stop(s.name);
          await until(`nothing of ${s.name} left`, async () => (await h.leftovers(s.name)).length === 0);
          await h.runner.close();
          await h.cleanup?.();
        }
      };
    const generate = (endpoint: string) =>
      fetch(`${endpoint}/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'a few words' }),
        signal: AbortSignal.timeout(10_000),
      });

    it(
      'starts a session that turns ready, and its endpoint answers',
      withSession(serving, async ({ runner, servers }, s) => {
        const started = await runner.start(s);
        expect(started.name).toBe(s.name);
        expect(['starting', 'ready']).toContain(started.phase);
        const ready = await runner.waitReady(s.name, { timeoutMs: READY_MS });
        expect(ready.phase).toBe('ready');
        const res = await generate(ready.endpoint!);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { predictions?: unknown[] };
        expect(body.predictions?.length).toBeGreaterThan(0);
        expect(await servers(s.name)).toBe(1);
        expect((await runner.status(s.name))?.phase).toBe('ready');
      }),
    );

    it(
      'a start with the name of a live session adopts it: no second server',
      withSession(serving, async ({ runner, servers }, s) => {
        await Promise.all([runner.start(s), runner.start(s)]);
        const ready = await runner.waitReady(s.name, { timeoutMs: READY_MS });
        const again = await runner.start(s);
        expect(again).toMatchObject({ name: s.name, phase: 'ready', endpoint: ready.endpoint });
        expect(await servers(s.name)).toBe(1);
        expect((await runner.list(s.entityId)).map((x) => x.name)).toEqual([s.name]);
        expect((await generate(ready.endpoint!)).status).toBe(200);
      }),
    );

    it(
      'stop removes everything: no server, not listed, the endpoint silent; a second stop is harmless',
      withSession(serving, async ({ runner, servers, leftovers }, s) => {
        await runner.start(s);
        const ready = await runner.waitReady(s.name, { timeoutMs: READY_MS });
        expect(await leftovers(s.name)).not.toEqual([]);
        await runner.stop(s.name);
        await until('the session gone', async () => (await leftovers(s.name)).length === 0);
        expect(await servers(s.name)).toBe(0);
        expect(await runner.list(s.entityId)).toEqual([]);
        expect((await runner.status(s.name))?.phase ?? 'gone').not.toBe('ready');
        await expect(generate(ready.endpoint!)).rejects.toThrow();
        await runner.stop(s.name);
      }),
    );

    it(
      'a server that exits at once fails the session with a reason and its log',
      // `serve-model` without a model exits 2 (bad usage) before it listens.
      withSession(
        () => spec(['serve-model']),
        async ({ runner }, s) => {
          await runner.start(s);
          await expect(runner.waitReady(s.name, { timeoutMs: READY_MS })).rejects.toThrow(/failed/);
          const failed = await runner.status(s.name);
          expect(failed?.phase).toBe('failed');
          expect(failed?.reason).toEqual(expect.any(String));
          expect(failed?.logTail?.length).toBeGreaterThan(0);
        },
      ),
    );

    it(
      'stop, status and list of an unknown session are harmless',
      withSession(serving, async ({ runner, servers }, s) => {
        await runner.stop(s.name);
        expect(await runner.status(s.name)).toBeUndefined();
        expect(await runner.list(s.entityId)).toEqual([]);
        expect(await servers(s.name)).toBe(0);
      }),
    );
  });
}
