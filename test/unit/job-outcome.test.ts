import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { toFailure } from '../../src/activities/errors.js';
import { outcomeOf } from '../../src/activities/step-policy.js';
import { buildJob } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import { toStatus } from '../../src/adapters/job-runner/kubernetes-job-status.js';
import { exitOutcome, isRetryableOutcome } from '../../src/domain/job-outcome.js';
import type { JobStatus } from '../../src/ports/job-runner.js';

const failedJob = (reason: string, message = ''): V1Job => ({
  spec: { activeDeadlineSeconds: 60, template: { spec: { containers: [] } } },
  status: { conditions: [{ type: 'Failed', status: 'True', reason, message }] },
});

const pod = (status: V1Pod['status']): V1Pod => ({
  metadata: { name: 'p', creationTimestamp: new Date() },
  status,
});
const exited = (exitCode: number, reason?: string): V1Pod['status'] => ({
  containerStatuses: [
    {
      name: 'step',
      image: 'i',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode, reason } },
    },
  ],
});

describe('how a job ended, and whether a new try can fix it', () => {
  it('reads exit codes: 75 transient, > 128 a signal, 2 and 1 deterministic', () => {
    expect(exitOutcome(0)).toBe('succeeded');
    expect(exitOutcome(75)).toBe('transient');
    expect(exitOutcome(137)).toBe('signal');
    expect(exitOutcome(2)).toBe('failed');
    expect(exitOutcome(1)).toBe('failed');
    expect(
      ['transient', 'signal', 'lost', 'oom', 'evicted', 'preempted', 'deadline'].every((o) =>
        isRetryableOutcome(o as never),
      ),
    ).toBe(true);
    expect(isRetryableOutcome('failed')).toBe(false);
    expect(isRetryableOutcome('cancelled')).toBe(false);
  });

  it('tells Kubernetes endings apart: deadline, OOMKilled, eviction, preemption, exit codes, a deleted pod', () => {
    const ending = (job: V1Job, pods: V1Pod[]) => toStatus('j', job, pods, false).outcome;
    expect(ending(failedJob('DeadlineExceeded'), [])).toBe('deadline');
    expect(ending(failedJob('BackoffLimitExceeded'), [pod(exited(137, 'OOMKilled'))])).toBe('oom');
    expect(
      ending(failedJob('PodFailurePolicy'), [
        pod({ phase: 'Failed', reason: 'Evicted', message: 'low on memory' }),
      ]),
    ).toBe('evicted');
    const preempted = pod({
      phase: 'Failed',
      conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }],
    });
    expect(ending(failedJob('PodFailurePolicy'), [preempted])).toBe('preempted');
    expect(ending(failedJob('PodFailurePolicy'), [pod(exited(2))])).toBe('failed');
    expect(ending(failedJob('BackoffLimitExceeded'), [pod(exited(75))])).toBe('transient');
    expect(ending(failedJob('BackoffLimitExceeded'), [pod(exited(143))])).toBe('signal');
    expect(ending(failedJob('BackoffLimitExceeded'), [])).toBe('lost');
    expect(toStatus('j', failedJob('BackoffLimitExceeded'), [pod(exited(1))], true).outcome).toBe(
      'cancelled',
    );
  });

  it("puts a podFailurePolicy on every step's Job: exit 2 and disruptions fail the Job by a named rule", () => {
    const job = buildJob(
      { name: 'fetch-x-1', entityId: 'x', stage: 'fetch', args: [], activeDeadlineSeconds: 600 },
      {
        image: 'i',
        imagePullPolicy: 'Never',
        argsPrefix: [],
        env: {},
        ttlSecondsAfterFinished: 60,
        runAsUser: 1000,
      },
    );
    expect(job.spec?.activeDeadlineSeconds).toBe(600);
    expect(job.spec?.backoffLimit).toBe(0);
    const rules = job.spec?.podFailurePolicy?.rules ?? [];
    expect(rules.find((r) => r.onExitCodes?.values.includes(2))?.action).toBe('FailJob');
    expect(rules.find((r) => r.onPodConditions?.some((c) => c.type === 'DisruptionTarget'))?.action).toBe(
      'FailJob',
    );
  });

  it('a finished status carries its typed outcome; the reason is words only', () => {
    expect(outcomeOf({ name: 'j', phase: 'failed', outcome: 'lost', reason: 'exit code 2' })).toBe('lost');
    expect(outcomeOf({ name: 'j', phase: 'succeeded', outcome: 'succeeded', exitCode: 0 })).toBe('succeeded');
    expect(() => outcomeOf({ name: 'j', phase: 'running' })).toThrow(
      /j was returned as finished while running/,
    );
    // @ts-expect-error a failed status without an outcome does not type-check
    const untyped: JobStatus = { name: 'j', phase: 'failed', reason: 'lost: gone' };
    // @ts-expect-error nor does a failed status that claims success
    const mixed: JobStatus = { name: 'j', phase: 'failed', outcome: 'succeeded' };
    expect([untyped.phase, mixed.phase]).toEqual(['failed', 'failed']);
  });
});

describe('backend errors no retry can fix', () => {
  const translate = (err: Error) => toFailure(err) as ApplicationFailure;

  it('a 403 or 422 from the Kubernetes API fails at once, saying what to fix', () => {
    const forbidden = translate(
      new ApiException(403, 'Forbidden', 'jobs.batch is forbidden: User cannot create', {}),
    );
    expect(forbidden).toBeInstanceOf(ApplicationFailure);
    expect(forbidden.nonRetryable).toBe(true);
    expect(forbidden.type).toBe('PermissionDenied');
    expect(forbidden.message).toMatch(/HTTP 403.*grant the worker's service account/);
    const invalid = translate(
      new ApiException(422, 'Invalid', 'spec.template.spec.containers[0].resources: bad', {}),
    );
    expect(invalid.nonRetryable).toBe(true);
    expect(invalid.message).toMatch(/HTTP 422.*containers\[0\]\.resources/);
  });

  it("Datastore's INVALID_ARGUMENT and an oversized payload fail at once; a timeout stays retryable", () => {
    const ds = Object.assign(
      new Error('3 INVALID_ARGUMENT: The value of property "spec" is longer than 1500 bytes'),
      {
        code: 3,
      },
    );
    expect(translate(ds).nonRetryable).toBe(true);
    expect(translate(ds).message).toMatch(/INVALID_ARGUMENT.*over Datastore's limits/);
    const big = translate(new Error('grpc: received message larger than max (4194400 vs. 4194304)'));
    expect(big.nonRetryable).toBe(true);
    expect(big.message).toMatch(/object store/);
    const timeout = Object.assign(new Error('4 DEADLINE_EXCEEDED: deadline exceeded'), { code: 4 });
    expect(toFailure(timeout)).toBe(timeout);
  });
});
