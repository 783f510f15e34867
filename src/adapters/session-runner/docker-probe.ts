import type { SessionStatus } from '../../ports/session-runner.js';

/** One readiness probe: the session answers its readiness path with a 2xx. */
export async function probeSession(endpoint: string, path: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Poll a session's status until it is ready; a failed session rejects with its reason and log. */
export async function waitSessionReady(
  status: (name: string) => Promise<SessionStatus | undefined>,
  name: string,
  opts: { signal?: AbortSignal; timeoutMs?: number; onUpdate?: (s: SessionStatus) => void },
): Promise<SessionStatus> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const s = await status(name);
    if (!s) throw new Error(`session ${name} does not exist`);
    opts.onUpdate?.(s);
    if (s.phase === 'ready') return s;
    if (s.phase === 'failed') {
      const log = s.logTail?.length ? `\n${s.logTail.join('\n')}` : '';
      throw new Error(`session ${name} failed: ${s.reason}${log}`);
    }
    if (Date.now() > deadline) throw new Error(`session ${name} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
