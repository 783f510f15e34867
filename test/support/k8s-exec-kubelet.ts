import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiException, type CoreV1Api, type V1EnvVar, type V1Pod } from '@kubernetes/client-node';
import type { FakeKubeletRule } from './k8s-fake-kubelet.js';
export { freePort } from '../../src/adapters/process-group.js';

/**
 * EXEC mode of the fake kubelet (opt-in, per namespace, through a rule): a pod whose container runs this project's
 * step program — `node bin/dyffctl.mjs step …`, or the image's entrypoint (which is that) with args `step …` — is
 * not scripted but really run, as a local child process `process.execPath <repo>/bin/dyffctl.mjs step …` in its own
 * process group, with the container's env (resolved here as the kubelet would) and no environment of the test
 * process besides PATH/HOME/TMPDIR. The kubelet serves its stdout+stderr as the container log and writes the real
 * exit code; deleting the pod stops it (SIGTERM to the group, SIGKILL after the grace period), as a node would.
 *
 * Test steps (`step test-…`) keep their scripts, so one namespace can mix both.
 *
 * Inference sessions (opt-in too, through the rule `execSessions()`): a pod whose container runs
 * `dyffctl serve-model …` (the pods of a KubernetesSessionRunner Deployment) is run the same way, but listening on
 * a free loopback port the kubelet picks (PORT and HOST=127.0.0.1 override the pod's env); the pod turns Ready once
 * its readiness probe path (default `/ready`) answers 200 on that port. `FakeKubelet.servingPort(selector)` maps a
 * Service's selector to that port, so a test can reach "the Service" from outside the cluster.
 */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The image's ENTRYPOINT (Dockerfile), and its WORKDIR, which is the repository root here. */
export const IMAGE_ENTRYPOINT = ['node', 'bin/dyffctl.mjs'];
const IMAGE_WORKDIR = '/app';

export interface ExecScript {
  kind: 'exec';
  /** Variables the image itself sets (ENV), under the pod's own. @default { NODE_ENV: 'production' } */
  imageEnv?: Record<string, string>;
}

/** The rule that turns on exec mode: every pod running a (non-test) dyff step. */
export function execSteps(script: Omit<ExecScript, 'kind'> = {}): FakeKubeletRule {
  return {
    match: (pod) => {
      const args = dyffStepArgs(pod);
      return !!args && !(args[0] ?? '').startsWith('test-');
    },
    script: { kind: 'exec', ...script },
  };
}

/** The rule that runs inference sessions: every pod running `dyffctl serve-model …`. */
export function execSessions(script: Omit<ExecScript, 'kind'> = {}): FakeKubeletRule {
  return { match: (pod) => !!dyffServeArgs(pod), script: { kind: 'exec', ...script } };
}

/** `[subcommand, ...args]` after `dyffctl` when the pod's one container runs this project's CLI; else undefined. */
export function dyffctlArgs(pod: V1Pod): string[] | undefined {
  const containers = pod.spec?.containers ?? [];
  if (containers.length !== 1) return undefined;
  const c = containers[0]!;
  const argv = [...(c.command?.length ? c.command : IMAGE_ENTRYPOINT), ...(c.args ?? [])];
  const [node, script, ...rest] = argv;
  const isNode = !!node && /(^|\/)node$/.test(node);
  const isDyffctl = !!script && /(^|\/)bin\/dyffctl\.mjs$/.test(script);
  return isNode && isDyffctl && rest.length > 0 ? rest : undefined;
}

/** `[stepName, ...flags]` when the pod's one container runs `dyffctl step …`; otherwise undefined. */
export function dyffStepArgs(pod: V1Pod): string[] | undefined {
  const [sub, ...rest] = dyffctlArgs(pod) ?? [];
  return sub === 'step' ? rest : undefined;
}

/** The flags when the pod's one container runs `dyffctl serve-model …` (a session's server); otherwise undefined. */
export function dyffServeArgs(pod: V1Pod): string[] | undefined {
  const [sub, ...rest] = dyffctlArgs(pod) ?? [];
  return sub === 'serve-model' ? rest : undefined;
}

/** A loopback port nothing listens on right now. */
/** A limitation of this helper (not a cluster condition): the pod fails at once, naming it. */
export class ExecUnsupported extends Error {}

/** A missing ConfigMap/Secret key: the kubelet leaves the container waiting in CreateContainerConfigError. */
export class ContainerConfigError extends Error {}

/**
 * The container's environment as the kubelet builds it: `value` (with `$(VAR)` expanded against the variables
 * before it), `valueFrom.fieldRef` for the pod's own fields, `configMapKeyRef` and `secretKeyRef` read through
 * the API. `resourceFieldRef`, `envFrom` and anything else throw ExecUnsupported.
 */
export async function containerEnv(pod: V1Pod, core: CoreV1Api): Promise<Record<string, string>> {
  const c = pod.spec!.containers[0]!;
  if (c.envFrom?.length) throw new ExecUnsupported('envFrom is not supported by the exec kubelet');
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    const value = v.valueFrom ? await valueFrom(pod, v, core) : expand(v.value ?? '', env);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

async function valueFrom(pod: V1Pod, v: V1EnvVar, core: CoreV1Api): Promise<string | undefined> {
  const from = v.valueFrom!;
  const namespace = pod.metadata?.namespace ?? '';
  if (from.fieldRef) {
    const path = from.fieldRef.fieldPath;
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
    if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2]!] ?? '';
    const fields: Record<string, string | undefined> = {
      'metadata.name': pod.metadata?.name,
      'metadata.namespace': namespace,
      'metadata.uid': pod.metadata?.uid,
      'spec.nodeName': pod.spec?.nodeName,
      'spec.serviceAccountName': pod.spec?.serviceAccountName,
      'status.hostIP': '127.0.0.1',
      'status.podIP': '127.0.0.1',
    };
    if (path in fields) return fields[path] ?? '';
    throw new ExecUnsupported(`env ${v.name}: fieldRef ${path} is not supported by the exec kubelet`);
  }
  const ref = from.configMapKeyRef ?? from.secretKeyRef;
  if (ref) {
    const kind = from.configMapKeyRef ? 'configmap' : 'secret';
    let data: Record<string, string> | undefined;
    try {
      data = from.configMapKeyRef
        ? (await core.readNamespacedConfigMap({ name: ref.name!, namespace })).data
        : decode((await core.readNamespacedSecret({ name: ref.name!, namespace })).data);
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`${kind} "${ref.name}" not found`);
    }
    const value = data?.[ref.key];
    if (value === undefined && !ref.optional)
      throw new ContainerConfigError(`couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name}`);
    return value;
  }
  const what = Object.keys(from).join(', ') || 'empty valueFrom';
  throw new ExecUnsupported(`env ${v.name}: valueFrom.${what} is not supported by the exec kubelet`);
}

function decode(data?: Record<string, string>): Record<string, string> | undefined {
  return (
    data &&
    Object.fromEntries(Object.entries(data).map(([k, b64]) => [k, Buffer.from(b64, 'base64').toString()]))
  );
}

/** Kubernetes' `$(VAR)` expansion for env values and args: undefined references stay, `$$` escapes a `$`. */
export function expand(input: string, vars: Record<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    const next = input[i + 1];
    if (ch === '$' && next === '$') {
      out += '$';
      i++;
    } else if (ch === '$' && next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += Object.hasOwn(vars, name) ? vars[name] : `$(${name})`;
      i = close;
    } else out += ch;
  }
  return out;
}

export interface StepProcess {
  pid: number;
  /** Resolves when the process has exited and its output is drained: the container's exit code (128+n for signal n). */
  exited: Promise<number>;
  /** Signal the whole process group (a container's processes); a no-op once it is gone. */
  signal(sig: NodeJS.Signals): void;
}

/**
 * Start the dyffctl program of a pod (`step …` or `serve-model …`) as a local process; every output line (stdout
 * and stderr) goes to onLine. `overrides` win over the pod's env (the session port).
 */
export function spawnStep(
  pod: V1Pod,
  env: Record<string, string>,
  script: ExecScript,
  onLine: (line: string) => void,
  overrides: Record<string, string> = {},
): StepProcess {
  const c = pod.spec!.containers[0]!;
  if (c.workingDir && c.workingDir !== IMAGE_WORKDIR)
    throw new ExecUnsupported(`workingDir ${c.workingDir} is not supported by the exec kubelet`);
  const argv = dyffctlArgs(pod);
  if (!argv) throw new ExecUnsupported('the container does not run dyffctl');
  const cliArgs = argv.map((a) => expand(a, env));
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/dyffctl.mjs'), ...cliArgs], {
    cwd: REPO_ROOT,
    env: {
      ...base,
      HOSTNAME: pod.metadata?.name ?? '',
      ...(script.imageEnv ?? { NODE_ENV: 'production' }),
      ...env,
      ...overrides,
    },
    // Its own process group, so the "container" can be stopped as a whole.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const signal = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', onLine);
  const exited = new Promise<number>((resolveExit) => {
    child.once('error', (err) => {
      onLine(`exec kubelet: cannot start the step: ${err.message}`);
      resolveExit(128);
    });
    // A container ends with its main process: whatever it left behind in its group goes too.
    child.once('exit', () => signal('SIGKILL'));
    child.once('close', (code, sig) => resolveExit(code ?? 128 + (sig ? constants.signals[sig] : 0)));
  });
  return { pid: child.pid ?? -1, exited, signal };
}
