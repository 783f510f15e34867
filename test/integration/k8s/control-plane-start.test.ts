import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { k8sBinDir, skipK8s } from '../../support/k8s-control-plane.js';

/*
 * scripts/k8s/start.sh picks free ports, then starts the processes on them. On a busy machine another process can
 * bind such a port in between, and the real kube-controller-manager then exits at once ("bind: address already in
 * use"). Here that happens for real: the controller manager's first start finds its port held by another process.
 * The script must start it again on a fresh port, not wait out its timeout.
 */
const run = promisify(execFile);
const SCRIPTS = resolve(import.meta.dirname, '../../../scripts/k8s');
let work: string | undefined;
let stateDir: string | undefined;

describe.skipIf(skipK8s)('scripts/k8s/start.sh', () => {
  afterAll(async () => {
    if (stateDir) await run(join(SCRIPTS, 'stop.sh'), [stateDir]).catch(() => undefined);
    if (work) {
      const squatter = await readFile(join(work, 'bin/squatter.pid'), 'utf8').catch(() => '');
      if (squatter.trim()) {
        try {
          process.kill(Number(squatter.trim()));
        } catch {
          // already gone
        }
      }
      await rm(work, { recursive: true, force: true });
    }
  });

  it('starts a process again on a fresh port when its port is taken before it binds', async () => {
    const real = await k8sBinDir();
    work = await mkdtemp(join(tmpdir(), 'dyff-k8s-start-'));
    const bin = join(work, 'bin');
    await mkdir(bin);
    for (const b of ['etcd', 'kube-apiserver', 'kubectl']) await symlink(join(real, b), join(bin, b));
    // The first start of the controller manager finds another process listening on its --secure-port.
    await writeFile(
      join(bin, 'kube-controller-manager'),
      `#!/usr/bin/env bash
here="$(dirname "$0")"
if [[ ! -e "$here/squatter.pid" ]]; then
  port=$(printf '%s\\n' "$@" | sed -n 's/^--secure-port=//p')
  node -e 'require("net").createServer().listen(+process.argv[1], "127.0.0.1", () => console.log("held"))' \\
    "$port" > "$here/squatter.out" 2>&1 &
  echo $! > "$here/squatter.pid"
  echo "$port" > "$here/squatter.port"
  until grep -q held "$here/squatter.out"; do sleep 0.05; done
fi
exec "${real}/kube-controller-manager" "$@"
`,
    );
    await chmod(join(bin, 'kube-controller-manager'), 0o755);
    stateDir = join(work, 'state');

    const started = await run(join(SCRIPTS, 'start.sh'), [stateDir], {
      env: {
        ...process.env,
        DYFF_K8S_BIN: bin,
        DYFF_K8S_CONTROLLER_MANAGER: '1',
        DYFF_K8S_READY_TIMEOUT: '90',
      },
      timeout: 150_000,
    });
    expect(started.stdout).toContain(`KUBECONFIG=${stateDir}/kubeconfig`);
    expect(started.stderr).toMatch(/kube-controller-manager exited before it was ready \(try 1 of 3\)/);
    expect(started.stderr).toContain('address already in use');

    const held = (await readFile(join(bin, 'squatter.port'), 'utf8')).trim();
    const firstLog = await readFile(join(stateDir, 'kube-controller-manager.exit-1.log'), 'utf8');
    expect(firstLog).toContain(`127.0.0.1:${held}: bind: address already in use`);
    const env = await readFile(join(stateDir, 'env'), 'utf8');
    const port = /^KCM_PORT=(\d+)$/m.exec(env)?.[1];
    expect(port).toBeDefined();
    expect(port).not.toBe(held);

    // The second start is the one running, and it is at work: the service-account controller made "default".
    const sa = await run(join(bin, 'kubectl'), [
      '--kubeconfig',
      join(stateDir, 'kubeconfig'),
      '-n',
      'default',
      'get',
      'serviceaccount',
      'default',
      '-o',
      'name',
    ]);
    expect(sa.stdout.trim()).toBe('serviceaccount/default');
    const health = await run('curl', ['-sfk', `https://127.0.0.1:${port}/healthz`]);
    expect(health.stdout).toBe('ok');
  }, 180_000);
});
