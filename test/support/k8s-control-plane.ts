import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { FakeKubelet, type FakeKubeletRule } from './k8s-fake-kubelet.js';
import { onOwnerExit } from './process-tree.js';

/**
 * A real etcd + kube-apiserver (+ kube-controller-manager) on loopback for one test file, started by
 * scripts/k8s/start.sh from the binaries scripts/k8s/build.sh builds. With DYFF_SKIP_K8S=1 the tests that use it
 * are skipped; otherwise missing binaries fail the test run with a message that says how to build them.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPTS = join(ROOT, 'scripts/k8s');

export const skipK8s = process.env.DYFF_SKIP_K8S === '1';

export interface ControlPlane {
  dir: string;
  kubeconfigPath: string;
  /** Admin (system:masters) through the static token. */
  kubeConfig: KubeConfig;
  binDir: string;
  withControllerManager: boolean;
  pki: { ca: string; kubeletCert: string; kubeletKey: string };
  kubectl(
    args: string[],
    opts?: { kubeconfig?: string; input?: string },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function k8sBinDir(): Promise<string> {
  const { stdout } = await run(join(SCRIPTS, 'build.sh'), ['--print']);
  const bin = process.env.DYFF_K8S_BIN ?? join(stdout.trim(), 'bin');
  const missing = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'].filter(
    (b) => !existsSync(join(bin, b)),
  );
  if (missing.length) {
    throw new Error(
      `Kubernetes test binaries missing in ${bin} (${missing.join(', ')}): run scripts/k8s/build.sh ` +
        '(once: ≈ 12 min and 2.6 GiB on 2 cores), or set DYFF_SKIP_K8S=1 to skip the Kubernetes tests.',
    );
  }
  return bin;
}

export async function startControlPlane(opts: { controllerManager?: boolean } = {}): Promise<ControlPlane> {
  const binDir = await k8sBinDir();
  const withControllerManager = opts.controllerManager ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'dyff-k8s-'));
  const env = {
    ...process.env,
    DYFF_K8S_BIN: binDir,
    DYFF_K8S_CONTROLLER_MANAGER: withControllerManager ? '1' : '0',
  };
  try {
    await run(join(SCRIPTS, 'start.sh'), [dir], { env, timeout: 180_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    await run(join(SCRIPTS, 'stop.sh'), [dir]).catch(() => undefined);
    throw new Error(`scripts/k8s/start.sh failed: ${e.stderr ?? e.message}`);
  }
  // start.sh leaves the control plane running on its own: stop.sh ends it should this process end without stop().
  const unwatch = onOwnerExit(join(SCRIPTS, 'stop.sh'), [dir]);
  const kubeconfigPath = join(dir, 'kubeconfig');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const pki = {
    ca: await readFile(join(dir, 'pki/ca.crt'), 'utf8'),
    kubeletCert: await readFile(join(dir, 'pki/kubelet.crt'), 'utf8'),
    kubeletKey: await readFile(join(dir, 'pki/kubelet.key'), 'utf8'),
  };
  return {
    dir,
    kubeconfigPath,
    kubeConfig,
    binDir,
    withControllerManager,
    pki,
    async kubectl(args, o = {}) {
      return new Promise((resolveRun) => {
        const child = execFile(
          join(binDir, 'kubectl'),
          ['--kubeconfig', o.kubeconfig ?? kubeconfigPath, ...args],
          { timeout: 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
            resolveRun({ code, stdout, stderr });
          },
        );
        if (o.input !== undefined) child.stdin?.end(o.input);
      });
    },
    async stop() {
      unwatch();
      await run(join(SCRIPTS, 'stop.sh'), [dir], {
        env: { ...process.env, DYFF_K8S_KEEP: process.env.DYFF_K8S_KEEP ?? '0' },
      });
    },
  };
}

/** A namespace to run Jobs in, with a fake kubelet (and, without the controller manager, a fake job controller). */
export interface TestNamespace {
  namespace: string;
  kubelet: FakeKubelet;
  stop(): Promise<void>;
}

export async function startNamespace(
  cp: ControlPlane,
  namespace: string,
  opts: {
    rules?: FakeKubeletRule[];
    nodeLabels?: Record<string, string>;
    serviceAccounts?: string[];
    namespaceLabels?: Record<string, string>;
    /** The namespace exists already (applied from k8s/). */
    existing?: boolean;
  } = {},
): Promise<TestNamespace> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  // Enforcing the restricted Pod Security profile proves the step pods' security context passes it.
  const labels = { 'pod-security.kubernetes.io/enforce': 'restricted', ...opts.namespaceLabels };
  if (!opts.existing) await core.createNamespace({ body: { metadata: { name: namespace, labels } } });
  // The ServiceAccount admission plugin refuses pods whose account does not exist. The controller manager makes
  // "default" too, but a moment later; the others are the step identities the manifests in k8s/ declare.
  const accounts = ['default', ...(opts.serviceAccounts ?? [])];
  for (const name of accounts) {
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } })
      .catch((err: unknown) => {
        if (!String(err).includes('AlreadyExists') && !String(err).includes('409')) throw err;
      });
  }
  const kubelet = new FakeKubelet({
    kubeConfig: cp.kubeConfig,
    namespace,
    tls: { cert: cp.pki.kubeletCert, key: cp.pki.kubeletKey, ca: cp.pki.ca },
    jobController: !cp.withControllerManager,
    rules: opts.rules,
    nodeLabels: opts.nodeLabels,
  });
  await kubelet.start();
  return { namespace, kubelet, stop: () => kubelet.stop() };
}

/**
 * Resolve once `done(items)` holds for a listed collection, re-checking on every watch event of `path` instead of
 * sleeping; rejects after `timeoutMs` with the last items seen.
 */
export async function until<T>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
  done: (items: T[]) => boolean,
  timeoutMs = 30_000,
): Promise<T[]> {
  const first = await list();
  if (done(first.items)) return first.items;
  return new Promise<T[]>((resolvePromise, reject) => {
    let last = first.items;
    let ctl: AbortController | undefined;
    let finished = false;
    const end = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ctl?.abort();
      if (err) reject(err);
      else resolvePromise(last);
    };
    const timer = setTimeout(
      () =>
        end(
          new Error(
            `timed out after ${timeoutMs} ms waiting on ${path}; last: ${JSON.stringify(last).slice(0, 2000)}`,
          ),
        ),
      timeoutMs,
    );
    const recheck = async () => {
      last = (await list()).items;
      if (done(last)) end();
    };
    const start = (rv?: string) => {
      void new Watch(kc)
        .watch(
          path,
          { resourceVersion: rv, allowWatchBookmarks: false },
          () => void recheck().catch(() => undefined),
          () => {
            if (!finished)
              void list().then(
                (l) => ((last = l.items), done(last) ? end() : start(l.metadata?.resourceVersion)),
              );
          },
        )
        .then((c) => {
          ctl = c;
          if (finished) c.abort();
        });
    };
    start(first.metadata?.resourceVersion);
  });
}
