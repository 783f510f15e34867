/**
 * How soon `KubernetesJobRunner.wait()` learns that a Job finished, on a real kube-apiserver.
 *
 * The fake kubelet plays the job controller here (no kube-controller-manager), so the instant it sends the write of
 * the Job's terminal `Complete` condition is known exactly; the latency is from that instant to `wait()` resolving
 * (watch event delivery + the runner's final read of the pod log). Baseline: a runner that polls every 10 s sees a
 * completion 0–10 s late (5 s on average).
 *
 *   npm run bench:k8s            # needs scripts/k8s/build.sh once
 *   DYFF_BENCH_JOBS=100 DYFF_BENCH_CONCURRENCY=10
 */
import { KubernetesJobRunner } from '../src/adapters/job-runner/kubernetes.js';
import { newId } from '../src/domain/ids.js';
import { jobName } from '../src/ports/job-runner.js';
import { startControlPlane, startNamespace } from '../test/support/k8s-control-plane.js';
import { benchArgs, stopOnInterrupt } from './cli.js';

benchArgs(
  `npm run bench:k8s

How soon the Kubernetes job runner learns that a Job finished, on a real kube-apiserver (a fake kubelet plays the
job controller): p50 and p99 from the Job's Complete condition to wait() resolving, against a 10 s poll. Needs
scripts/k8s/build.sh run once.

Environment:
  DYFF_BENCH_JOBS=N          jobs (default 100)
  DYFF_BENCH_CONCURRENCY=N   jobs at once (default 10)`,
  {},
);
const JOBS = Number(process.env.DYFF_BENCH_JOBS ?? 100);
const CONCURRENCY = Number(process.env.DYFF_BENCH_CONCURRENCY ?? 10);
const POLL_MS = 10_000;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const cp = await startControlPlane({ controllerManager: false });
const stopControlPlane = stopOnInterrupt(() => cp.stop());
try {
  const ns = await startNamespace(cp, 'dyff-bench');
  const runner = new KubernetesJobRunner({
    namespace: ns.namespace,
    image: 'dyff-temporal:bench',
    kubeConfig: cp.kubeConfig,
  });
  const latencies: number[] = [];
  let next = 0;
  const t0 = Date.now();
  const lane = async () => {
    while (next < JOBS) {
      next++;
      const entityId = newId();
      const name = jobName(entityId, 'bench', 1);
      await runner.start({ name, entityId, stage: 'bench', args: ['test-sleep', '--ms', '50'] });
      const done = await runner.wait(name);
      const resolvedAt = Date.now();
      const writtenAt = ns.kubelet.jobFinishedAt.get(name);
      if (done.phase !== 'succeeded' || writtenAt === undefined)
        throw new Error(`job ${name}: ${JSON.stringify(done)}`);
      latencies.push(resolvedAt - writtenAt);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const wall = Date.now() - t0;
  await runner.close();
  await ns.stop();
  if (ns.kubelet.failures.length)
    throw new Error(`fake kubelet errors: ${ns.kubelet.failures.map(String).join('; ')}`);

  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.log(`jobs: ${sorted.length} (concurrency ${CONCURRENCY}), wall ${(wall / 1000).toFixed(1)} s`);
  console.log('Complete condition written → wait() resolved:');
  console.log(
    `  watch   p50 ${p50} ms   p99 ${p99} ms   mean ${mean.toFixed(1)} ms   max ${sorted.at(-1)} ms`,
  );
  console.log(
    `  10 s poll  p50 ~${POLL_MS / 2} ms   p99 ~${(POLL_MS * 0.99).toFixed(0)} ms   (uniform over the interval)`,
  );
  console.log(
    `p50_ms=${p50} p99_ms=${p99} poll_baseline_ms=${POLL_MS} ratio=${(POLL_MS / Math.max(p50, 1)).toFixed(0)}`,
  );
} finally {
  await stopControlPlane();
}
