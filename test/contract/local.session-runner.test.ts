import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSessionRunner } from '../../src/adapters/session-runner/local-process.js';
import type { SessionRunner } from '../../src/ports/session-runner.js';
import { localSecrets } from '../../src/secrets/resolver.js';
import { DYFFCTL } from '../support/worker-process.js';
import { sessionRunnerContract } from './session-runner.case.js';

/** A live process of this machine: its pid, process group and command line (NUL-separated). */
interface Proc {
  pid: number;
  pgid: number;
  cmdline: string;
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue; // exited, not yet reaped: not running
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      out.push({ pid: Number(entry), pgid: Number(fields[2]), cmdline });
    } catch {
      // gone while listing
    }
  }
  return out;
}

/*
 * Local sessions: the supervisor shell (its command line names the session directory) leads the process group of
 * the server. The harness learns each session's groups from those shells and from the pid file after every start,
 * so it still sees a server that outlived its shell.
 */
sessionRunnerContract('LocalSessionRunner', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dyff-sessions-'));
  const local = new LocalSessionRunner({
    root,
    command: [process.execPath, DYFFCTL],
    secrets: localSecrets({ dataHome: root }),
  });
  const groups = new Map<string, Set<number>>();
  const remember = (name: string, pgid: number) =>
    groups.set(name, (groups.get(name) ?? new Set()).add(pgid));
  const live = async (name: string): Promise<Proc[]> => {
    const all = await processes();
    const dir = join(root, name);
    for (const p of all) if (p.cmdline.split('\0').includes(dir)) remember(name, p.pgid);
    const known = groups.get(name) ?? new Set<number>();
    return all.filter((p) => known.has(p.pgid));
  };
  const runner: SessionRunner = {
    start: async (spec) => {
      const status = await local.start(spec);
      const pid = await readFile(join(root, spec.name, 'pid'), 'utf8').catch(() => '');
      if (pid) remember(spec.name, Number(pid));
      return status;
    },
    waitReady: (name, opts) => local.waitReady(name, opts),
    status: (name) => local.status(name),
    list: (entityId) => local.list(entityId),
    stop: (name) => local.stop(name),
    close: () => local.close(),
  };
  return {
    runner,
    // The server is node running `dyffctl serve-model`; its supervisor shell carries the same words as arguments.
    servers: async (name) =>
      (await live(name)).filter(
        (p) => p.cmdline.startsWith(`${process.execPath}\0`) && p.cmdline.includes('\0serve-model\0'),
      ).length,
    leftovers: async (name) =>
      (await live(name)).map((p) => `process ${p.pid}: ${p.cmdline.replace(/\0/g, ' ')}`),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
