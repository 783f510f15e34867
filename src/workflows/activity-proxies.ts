/**
 * Every activity proxy the workflows use, in one place, each typed on the activities it calls and no others: a
 * workflow cannot reach an activity through a proxy whose timeouts and retries were set for another. The options
 * say how each kind of call fails over (a lost completion is noticed by its start-to-close or heartbeat timeout).
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE } from '../domain/errors.js';

type Only<K extends keyof Activities> = Pick<Activities, K>;

const backoff: ActivityOptions['retry'] = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: [...NON_RETRYABLE],
};
const bounded = { maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: [...NON_RETRYABLE] };

/*
 * State reads and writes are short and idempotent: run them as local activities, in the worker that runs the
 * workflow, which saves two server round trips each (they are still recorded in history and retried).
 */
export const state = proxyLocalActivities<
  Only<
    | 'admitEntity'
    | 'createEntity'
    | 'getEntity'
    | 'transition'
    | 'cancelStep'
    | 'countAdmitted'
    | 'findReusable'
    | 'readJson'
    | 'reportHistory'
    | 'loadServiceDescription'
    | 'stopSession'
    | 'allowAuditSession'
  >
>({
  startToCloseTimeout: '1 minute',
  // A store that stays down longer than this fails the run instead of retrying forever.
  scheduleToCloseTimeout: '1 hour',
  retry: backoff,
});

/** The activity that starts (or adopts) a step's job and waits for its ending; registered as `runStep`. */
export const steps = proxyActivities<Only<'runStep'>>({
  startToCloseTimeout: '24 hours',
  // A dead worker is noticed within this long, and a new one adopts the running job.
  heartbeatTimeout: '10 seconds',
  // Heartbeats are throttled, so a cancel may reach the activity seconds later; the workflow stops the job itself
  // at once (cancelStep) instead of waiting for that.
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  // Each attempt adopts the same job, whose own deadline bounds its time; this bounds the attempts (worker
  // restarts, server outages, a runner that cannot start jobs).
  retry: { ...backoff, maximumAttempts: 50 },
});

/** A Dataset's first write: an activity (not local), as the workflow has always recorded it. */
export const datasetWrites = proxyActivities<Only<'createEntity'>>({
  startToCloseTimeout: '30 seconds',
  retry: bounded,
});

/** The check of an ingested dataset's manifest against its shards; heartbeats on a timer. */
export const datasetChecks = proxyActivities<Only<'verifyDataset'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: bounded,
});

/** Starting an inference session and waiting until it answers. */
export const sessions = proxyActivities<Only<'startSession'>>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: bounded,
});

/** Asking the account's semaphore for a slot (signal-with-start, done by an activity). */
export const quotaRequests = proxyActivities<Only<'requestQuotaSlot'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * The same request, and the release, as local activities (lean runs): each a call to the server made by the
 * worker that runs the evaluation, recorded as a marker, with no activity task or workflow task of its own.
 */
export const quotaMessages = proxyLocalActivities<Only<'requestQuotaSlot' | 'releaseQuotaSlot'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 10 },
});

/** The semaphore's check of which holders' runs have closed. */
export const quotaChecks = proxyActivities<Only<'closedWorkflows'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 5 },
});

/** The reaper's sweep of jobs and sessions whose entity has ended. */
export const reaper = proxyActivities<Only<'reapOrphans'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumInterval: '30s', maximumAttempts: 3 },
});

/**
 * An image build (`spec.build`): submitted or adopted by its tags, awaited with the build's status in heartbeats.
 * Each attempt adopts the same build, whose own timeout (Cloud Build's, 1 h) bounds its time.
 */
export const imageBuilds = proxyActivities<Only<'buildImage'>>({
  startToCloseTimeout: '2 hours',
  // A dead worker is noticed within this long, and a new one adopts the build; a cancel reaches the activity
  // within the heartbeat throttle (8 s), and the workflow's own cleanup cancels the build in any case.
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: { ...backoff, maximumAttempts: 50 },
});

/** The cancel of a (service, try)'s build, from the workflow's cleanup after a cancel. */
export const imageBuildCancels = proxyActivities<Only<'cancelImageBuild'>>({
  startToCloseTimeout: '1 minute',
  retry: bounded,
});
