import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/*
 * Servers the tests start (emulators, a control plane) run in process groups of their own, so that one signal ends
 * a server and what it started. Such a group does not get the terminal's Ctrl-C and is not ended by the test
 * process's death: a run that never reached its afterAll (interrupted, a fork killed) left them running, a
 * Datastore emulator's java holding ~0.5 GiB until killed by hand. Each is therefore tied to the test process by a
 * pipe: only this process holds the pipe's write end, so its end closes when this process ends, however it ends
 * (SIGKILL included), and a watcher on the read end then ends the server.
 */

/**
 * Starts the server, keeps its stdin's pipe open in a watcher and exits with the server's status; when the pipe
 * closes, the watcher ends the whole group (`kill 0`).
 */
const GUARD =
  'exec 3<&0; "$@" </dev/null & server=$!; { cat <&3 >/dev/null; kill -TERM 0; } & wait "$server"';

/** `file` in a process group of its own, ended with this process (GUARD); its stdout and stderr are piped. */
export function spawnTied(file: string, args: string[]): ChildProcess {
  return spawn('/bin/sh', ['-c', GUARD, 'guard', file, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * Runs `file args` once this process has ended (for a server started by a script that leaves it running on its
 * own). Returns a cancel that stops the watcher without running it. The watcher keeps nothing of this process
 * alive.
 */
export function onOwnerExit(file: string, args: string[]): () => void {
  const watcher = spawn('/bin/sh', ['-c', 'cat >/dev/null; exec "$@"', 'on-owner-exit', file, ...args], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watcher.unref();
  (watcher.stdin as unknown as { unref(): void }).unref();
  return () => {
    try {
      process.kill(-watcher.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
}

/**
 * The processes `pid` started and has not lost, each with its command line, from /proc: every thread's children
 * (a native addon, such as the Temporal SDK's core, starts processes from threads of its own).
 */
export function childrenOf(pid: number): { pid: number; command: string }[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks
    .flatMap((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/);
      } catch {
        return []; // the thread ended meanwhile
      }
    })
    .filter(Boolean)
    .flatMap((c) => {
      try {
        return [{ pid: Number(c), command: readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0/g, ' ') }];
      } catch {
        return []; // exited meanwhile
      }
    });
}

/** Whether process `pid` runs: an exited one not yet reaped (a zombie) does not. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state …: comm may hold spaces and parentheses, so read after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
