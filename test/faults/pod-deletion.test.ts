import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchV1Api, CoreV1Api, type V1Job } from '@kubernetes/client-node';
import { parseLogTail } from '../../src/adapters/job-runner/log-tail.js';
import { LABEL_SESSION } from '../../src/adapters/session-runner/kubernetes.js';
import { groupAlive, signalGroup } from '../../src/adapters/process-group.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { ExecRecord } from '../support/k8s-fake-kubelet.js';
import { skipK8s } from '../support/k8s-control-plane.js';
import { startK8sPipelineEnv, type K8sPipelineEnv } from '../support/k8s-pipeline-env.js';
import { ServiceProxies } from '../support/k8s-service-proxy.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { until } from '../support/worker-process.js';
import { FULL } from './support/faults.js';
import { SCENARIO_TIMEOUT_MS, recorded } from './support/harness.js';
import { STEPS, countVerified, pipelineManifest, type Step } from './support/pipeline.js';

/*
 * `runner: kubernetes`: the pod of a running step deleted (`kubectl delete pod`, as an operator, a drain or the
 * autoscaler removing a node would), on a real apiserver and controller manager with the exec kubelet running every
 * step and model server as a real process. A deleted step pod ends its Job; the workflow tries the stage again
 * under a new Job, and the pipeline completes with every output once. A deleted session pod is replaced by its
 * Deployment behind the same Service (a stable proxy, as kube-proxy gives); the evaluate step rides it out.
 * `npm test` deletes the ingest pod; `npm run faults` every stage's.
 */
const NS = 'dyff';
const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
const REPLICATIONS = 2;
type Target = Step | 'session';
const SCENARIOS: Target[] = FULL ? [...STEPS, 'session'] : ['ingest-dataset'];

let env: K8sPipelineEnv | undefined;
let proxies: ServiceProxies | undefined;
let batch: BatchV1Api;
let core: CoreV1Api;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;

describe.skipIf(skipK8s)('a step pod deleted (runner: kubernetes)', { timeout: SCENARIO_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    env = await startK8sPipelineEnv({
      namespace: NS,
      serviceUrl: (ns, svc) => proxies!.urlFor(svc.name, { [LABEL_SESSION]: svc.name }),
      config: (base) => ({ retries: { ...base.retries, backoffSeconds: 1 } }),
    });
    proxies = await ServiceProxies.start(env.ns.kubelet, SCENARIOS.length);
    batch = env.cp.kubeConfig.makeApiClient(BatchV1Api);
    core = env.cp.kubeConfig.makeApiClient(CoreV1Api);
    pipelines = new Pipelines(env.temporal, env.config.temporal.taskQueue);
    // Enough requests, one at a time per replication, that evaluate still sends when the session pod goes.
    corpus = await tinyCorpus(env.config.dataHome, FULL ? 400 : 40);
  }, 180_000);

  afterAll(async () => {
    await proxies?.close();
    await env?.stop();
  });

  it.each(SCENARIOS)(
    'the %s pod deleted: Complete, outputs exactly once, nothing left running',
    async (target) => {
      await recorded('pod-deleted', target, () => scenario(target));
    },
  );

  it('the fake kubelet did not swallow errors', () => {
    expect(env!.ns.kubelet.failures).toEqual([]);
  });
});

async function scenario(target: Target): Promise<number> {
  const seen = new Set(env!.ns.kubelet.execs.keys());
  const { id } = await pipelines.start(
    pipelineManifest(corpus, { replications: REPLICATIONS, workersPerReplica: 1 }, 'k8s-faults'),
    { force: true },
  );
  const victim = target === 'session' ? await sessionInUse(seen) : await stepRunning(target, seen);
  // A step on a tiny corpus can end within a few hundred ms, before a deletion reaches it. So its process group is
  // held (SIGSTOP) from the moment it is seen until the kubelet has signalled it (SIGTERM pending): the deletion
  // always lands on a running step, which then gets the signal as it would have.
  const held = target !== 'session' && groupAlive(victim.pid);
  if (held) signalGroup(victim.pid, 'SIGSTOP');
  await core.deleteNamespacedPod({ name: victim.pod, namespace: NS });
  const started = Date.now();
  if (held) {
    await until('the kubelet to signal the held step', async () => termSent(victim.pid), 60_000, 5);
    signalGroup(victim.pid, 'SIGCONT');
  }

  const view = await pipelines.wait(id);
  expect(view.status, JSON.stringify(view)).toBe('Complete');
  const recoverSeconds = (Date.now() - started) / 1000;

  // Exactly one Job completed per (entity, stage); the deleted step's try failed and the next one completed.
  const jobs: V1Job[] = [];
  for (const stage of Object.values(view.stages))
    jobs.push(
      ...(await batch.listNamespacedJob({ namespace: NS, labelSelector: `dyff.io/entity=${stage.id}` }))
        .items,
    );
  const completed = jobs
    .filter(isComplete)
    .map((j) => `${j.metadata!.labels!['dyff.io/entity']}/${stageOf(j)}`);
  expect(completed.length).toBe(new Set(completed).size);
  expect(completed).toHaveLength(STEPS.length);
  const byName = new Map(jobs.map((j) => [j.metadata!.name!, j]));
  if (target === 'session') {
    // The evaluate step rode out the replacement: its first try completed, and a second server pod served.
    const evaluate = jobs.filter((j) => stageOf(j) === 'evaluate');
    expect(evaluate.map((j) => j.metadata!.name!.replace(/.*-/, ''))).toEqual(['1']);
    const servers = newExecs(seen).filter((e) => e.labels[LABEL_SESSION] === victim.labels[LABEL_SESSION]);
    expect(servers.length).toBeGreaterThanOrEqual(2);
  } else {
    const deleted = byName.get(victim.labels[JOB_NAME_LABEL]!);
    expect(deleted && isFailed(deleted), victim.labels[JOB_NAME_LABEL]).toBe(true);
    const retry = byName.get(victim.labels[JOB_NAME_LABEL]!.replace(/-1$/, '-2'));
    expect(retry && isComplete(retry), 'the second try').toBe(true);
  }

  const expected = corpus.rows * REPLICATIONS;
  expect(
    await countVerified(env!.adapters.objectStore, env!.config.dataHome, view.stages.evaluation.id!),
  ).toEqual({
    n: expected,
    pairs: expected,
  });

  // Nothing left running: every Job finished, no pod of the run alive, no step or server process left.
  await until(
    'nothing of the run left running',
    async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS })).items;
      const alive = newExecs(seen).filter((e) => groupAlive(e.pid));
      return (
        jobs.every((j) => !j.status?.active) &&
        pods.every((p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') &&
        alive.length === 0
      );
    },
    60_000,
  );
  return recoverSeconds;
}

/** The first new exec of `step` (its try-1 pod), once its process runs. */
async function stepRunning(step: Step, seen: Set<string>): Promise<ExecRecord> {
  return until(
    `the ${step} pod to run`,
    async () =>
      newExecs(seen).find((e) => e.args[0] === 'step' && e.args[1] === step && groupAlive(e.pid)) ??
      undefined,
    300_000,
    // Every 5 ms: a short step may be gone within a few hundred.
    5,
  );
}

/** Whether process `pid` has been sent SIGTERM (Linux: its pending signals in /proc), or is gone. */
function termSent(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return true;
  }
  const pending = [...status.matchAll(/^(?:ShdPnd|SigPnd):\s*([0-9a-f]+)$/gm)].reduce(
    (bits, [, hex]) => bits | BigInt(`0x${hex}`),
    0n,
  );
  return (pending & (1n << BigInt(constants.signals.SIGTERM - 1))) !== 0n;
}

/** The session's server pod, once the evaluate step has had answers from it. */
async function sessionInUse(seen: Set<string>): Promise<ExecRecord> {
  const evaluate = await stepRunning('evaluate', seen);
  await until(
    'the evaluate step to have answers',
    async () => {
      const log = await core
        .readNamespacedPodLog({ name: evaluate.pod, namespace: NS, container: 'step' })
        .catch(() => '');
      return (parseLogTail(String(log)).progress?.done ?? 0) > 0;
    },
    120_000,
  );
  return until(
    'the session server pod',
    async () => newExecs(seen).find((e) => e.args[0] === 'serve-model' && groupAlive(e.pid)),
    30_000,
  );
}

function newExecs(seen: Set<string>): ExecRecord[] {
  return [...env!.ns.kubelet.execs.values()].filter((e) => !seen.has(e.pod));
}

function stageOf(job: V1Job): string {
  return job.metadata?.labels?.['dyff.io/stage'] ?? '';
}

const hasCondition = (job: V1Job, type: string) =>
  !!job.status?.conditions?.some((c) => c.type === type && c.status === 'True');
const isComplete = (job: V1Job) => hasCondition(job, 'Complete');
const isFailed = (job: V1Job) => hasCondition(job, 'Failed');
