import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive } from '../../src/adapters/process-group.js';

const parents: number[] = [];
afterEach(() => {
  for (const pid of parents.splice(0)) process.kill(pid, 'SIGKILL');
});

describe('groupAlive', () => {
  it('is true while a member runs, and false for a group whose only member is an unreaped zombie', async () => {
    // The shell starts a child in a process group of its own that exits at once, then becomes `sleep`, which never
    // reaps it: the child stays a zombie of a live parent, alone in its group.
    const parent = spawn('sh', ['-c', 'setsid sh -c "exit 0" & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    parents.push(parent.pid!);
    const zombie = Number(
      await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString()))),
    );
    let state = '';
    for (let i = 0; i < 50 && state !== 'Z'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]![0]!;
    }
    expect(state).toBe('Z');
    expect(() => process.kill(-zombie, 0)).not.toThrow(); // signalling the group still succeeds
    expect(groupAlive(zombie)).toBe(false);

    const running = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    parents.push(running.pid!);
    expect(groupAlive(running.pid!)).toBe(true);
  });
});
